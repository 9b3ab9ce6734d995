import { describe, expect, it } from 'vitest';
import { maskLikeNovaManage, renderTable } from '../../../src/cli/output.js';

describe('renderTable', () => {
  it("draws nova-manage's prettytable shape, with Python booleans", () => {
    expect(
      renderTable(
        ['Name', 'Disabled'],
        [
          ['cell0', false],
          ['cell10', true],
          [null, null],
        ],
      ),
    ).toBe(
      [
        '+--------+----------+',
        '|  Name  | Disabled |',
        '+--------+----------+',
        '| cell0  |  False   |',
        '| cell10 |   True   |',
        '|        |          |',
        '+--------+----------+',
      ].join('\n'),
    );
  });

  it('centres as prettytable does: an odd leftover goes right of odd text, left of even text', () => {
    // As nova-manage 26.2.2 printed `cell_v2 list_cells` (database column left out).
    expect(
      renderTable(
        ['Name', 'UUID', 'Transport URL', 'Disabled'],
        [
          ['cell0', '00000000-0000-0000-0000-000000000000', 'none:/', false],
          ['cell1', 'be146dc0-8325-4c3a-aa21-b1a92af73b3f', 'fake:', false],
        ],
      ),
    ).toBe(
      [
        '+-------+--------------------------------------+---------------+----------+',
        '|  Name |                 UUID                 | Transport URL | Disabled |',
        '+-------+--------------------------------------+---------------+----------+',
        '| cell0 | 00000000-0000-0000-0000-000000000000 |     none:/    |  False   |',
        '| cell1 | be146dc0-8325-4c3a-aa21-b1a92af73b3f |     fake:     |  False   |',
        '+-------+--------------------------------------+---------------+----------+',
      ].join('\n'),
    );
  });
});

describe('maskLikeNovaManage', () => {
  // Each pair as nova-manage's mask_passwd_in_url (Python 3.11's urllib) printed it.
  it.each([
    ['none:///', 'none:/'],
    ['fake://', 'fake:'],
    ['rabbit://u:p@h:5672/', 'rabbit://u:****@h:5672/'],
    ['rabbit://u:p@a,u:q@b/vh', 'rabbit://u:****@b/vh'],
    ['sqlite:////abs/x.sqlite', 'sqlite://abs/x.sqlite'],
    ['sqlite:///rel.sqlite', 'sqlite:/rel.sqlite'],
    ['sqlite://', 'sqlite:'],
    [
      'mysql+pymysql://nova:s:e@cr@h/nova?charset=utf8',
      'mysql+pymysql://nova:****@h/nova?charset=utf8',
    ],
    ['postgresql://h/db;x', 'postgresql://h/db;x'],
    ['none:///cell1', 'none:/cell1'],
    ['x:y', 'x:y'],
    ['nocolon', 'nocolon'],
    ['HTTP://U:P@H/', 'http://U:****@H/'],
    ['file:///etc/x', 'file:///etc/x'],
  ])('%s -> %s', (url, printed) => {
    expect(maskLikeNovaManage(url)).toBe(printed);
  });
});
