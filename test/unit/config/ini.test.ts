import { describe, expect, it } from 'vitest';
import { parseIni } from '../../../src/config/ini.js';
import { ConfigError } from '../../../src/errors.js';

const values = (text: string, section: string, key: string) =>
  parseIni(text, 'nova.conf').sections.get(section)?.get(key)?.values;

describe('parseIni follows oslo.config, not the ini package', () => {
  it('keeps ; and # inside a value (only a line start makes a comment)', () => {
    expect(
      values('[database]\nconnection = mysql://u:se;cr#et@h/db\n', 'database', 'connection'),
    ).toEqual(['mysql://u:se;cr#et@h/db']);
  });

  it('skips comment lines starting with # or ;', () => {
    const doc = parseIni('# a comment\n; another\n[DEFAULT]\n#debug = true\ndebug = false\n', 'f');
    expect([...(doc.sections.get('DEFAULT')?.keys() ?? [])]).toEqual(['debug']);
  });

  it('splits at the first = or :, whichever comes first', () => {
    expect(values('[a]\nurl = http://x:1/\n', 'a', 'url')).toEqual(['http://x:1/']);
    expect(values('[a]\nkey: value=1\n', 'a', 'key')).toEqual(['value=1']);
  });

  it('strips one pair of matching surrounding quotes', () => {
    expect(values(`[a]\nx = "quoted value"\ny = 'single'\nz = "mismatch'\n`, 'a', 'x')).toEqual([
      'quoted value',
    ]);
    expect(values(`[a]\ny = 'single'\n`, 'a', 'y')).toEqual(['single']);
    expect(values(`[a]\nz = "mismatch'\n`, 'a', 'z')).toEqual([`"mismatch'`]);
  });

  it('continues a value on indented lines and ends it at a blank line', () => {
    const doc = parseIni('[a]\nx = one\n  two\n\tthree\n\ny = four\n', 'f');
    expect(doc.sections.get('a')?.get('x')?.values).toEqual(['one\ntwo\nthree']);
    expect(doc.sections.get('a')?.get('y')?.values).toEqual(['four']);
  });

  it('accumulates repeated keys in order, also across repeated sections', () => {
    expect(values('[a]\nx = 1\nx = 2\n[b]\ny = 0\n[a]\nx = 3\n', 'a', 'x')).toEqual([
      '1',
      '2',
      '3',
    ]);
  });

  it('normalizes section names (DEFAULT kept) and dashes in keys', () => {
    const doc = parseIni('[API_Database]\nconnection = x\n[DEFAULT]\nstate-path = /s\n', 'f');
    expect(doc.sections.get('api_database')?.get('connection')?.values).toEqual(['x']);
    expect(doc.sections.get('DEFAULT')?.get('state_path')?.values).toEqual(['/s']);
  });

  it('allows an empty value', () => {
    expect(values('[a]\nx =\n', 'a', 'x')).toEqual(['']);
  });

  it.each([
    ['[a]\nno separator here\n', /nova.conf:2: No ':' or '=' found in assignment/],
    ['[a\nx = 1\n', /nova.conf:1: Invalid section \(must end with \]\)/],
    ['[]\n', /nova.conf:1: Empty section name/],
    ['  indented = first\n', /nova.conf:1: Unexpected continuation line/],
    ['[a]\n= value\n', /nova.conf:2: Key cannot be empty/],
    ['x = 1\n', /nova.conf:1: option "x" comes before any \[section\] header/],
  ])('rejects %j with the file and line', (text, message) => {
    expect(() => parseIni(text, 'nova.conf')).toThrow(ConfigError);
    expect(() => parseIni(text, 'nova.conf')).toThrow(message);
  });
});
