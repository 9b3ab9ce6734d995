import { describe, expect, it } from 'vitest';
import { renderTable } from '../../../src/cli/output.js';

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
});
