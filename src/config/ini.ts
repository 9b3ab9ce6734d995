import { ConfigError } from '../errors.js';

/**
 * nova.conf files, read with oslo.config's rules (oslo_config/iniparser.py),
 * which differ from the `ini` package's on purpose:
 * - a comment is a line that *starts* with `#` or `;`; inside a value both are
 *   plain characters (a password `se;cr#et` stays whole);
 * - the key ends at the first `=` or `:`, whichever comes first;
 * - one pair of matching surrounding quotes is stripped from a value;
 * - an indented line continues the previous value (joined with a newline),
 *   and a blank line ends it;
 * - a key given twice keeps both values, in order (the last one wins for a
 *   single-valued option).
 * Section names are lower-cased except `DEFAULT`, and `-` in keys is `_`, as
 * oslo.config normalizes them.
 */
export interface IniValue {
  /** Every value given for the key in this file, in order. */
  readonly values: readonly string[];
  /** The line of the last assignment, for messages. */
  readonly line: number;
}

export type IniSection = ReadonlyMap<string, IniValue>;

export interface IniDocument {
  /** Section name → its keys; sections appear in file order. */
  readonly sections: ReadonlyMap<string, IniSection>;
  /** The line each section header was first seen on. */
  readonly sectionLines: ReadonlyMap<string, number>;
}

export function normalizeSection(name: string): string {
  return name === 'DEFAULT' ? name : name.toLowerCase();
}

export function normalizeKey(name: string): string {
  return name.replace(/-/g, '_');
}

export function parseIni(text: string, source: string): IniDocument {
  const sections = new Map<string, Map<string, { values: string[]; line: number }>>();
  const sectionLines = new Map<string, number>();
  let section: Map<string, { values: string[]; line: number }> | undefined;
  let pending: { key: string; parts: string[]; line: number } | undefined;

  const fail = (lineno: number, message: string, line: string): never => {
    throw new ConfigError(`${source}:${lineno}: ${message}: ${JSON.stringify(line)}`);
  };

  const flush = () => {
    if (!pending) return;
    if (!section) {
      throw new ConfigError(
        `${source}:${pending.line}: option "${pending.key}" comes before any [section] header`,
      );
    }
    const value = pending.parts.join('\n');
    const existing = section.get(pending.key);
    if (existing) {
      existing.values.push(value);
      existing.line = pending.line;
    } else {
      section.set(pending.key, { values: [value], line: pending.line });
    }
    pending = undefined;
  };

  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineno = i + 1;
    const line = (lines[i] ?? '').trimEnd();
    if (line === '') {
      flush();
      continue;
    }
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (!pending) fail(lineno, 'Unexpected continuation line', line);
      else pending.parts.push(line.trimStart());
      continue;
    }
    flush();
    if (line.startsWith('[')) {
      if (!line.endsWith(']')) fail(lineno, 'Invalid section (must end with ])', line);
      if (line.length <= 2) fail(lineno, 'Empty section name', line);
      const name = normalizeSection(line.slice(1, -1));
      section = sections.get(name);
      if (!section) {
        section = new Map();
        sections.set(name, section);
        sectionLines.set(name, lineno);
      }
    } else if (line.startsWith('#') || line.startsWith(';')) {
      continue;
    } else {
      const colon = line.indexOf(':');
      const equal = line.indexOf('=');
      if (colon < 0 && equal < 0) fail(lineno, "No ':' or '=' found in assignment", line);
      const at = colon < 0 || (equal >= 0 && equal < colon) ? equal : colon;
      const key = normalizeKey(line.slice(0, at).trim());
      if (key === '') fail(lineno, 'Key cannot be empty', line);
      let value = line.slice(at + 1).trim();
      if (
        value.length >= 2 &&
        value[0] === value.at(-1) &&
        (value[0] === '"' || value[0] === "'")
      ) {
        value = value.slice(1, -1);
      }
      pending = { key, parts: [value], line: lineno };
    }
  }
  flush();
  return { sections, sectionLines };
}
