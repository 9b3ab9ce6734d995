import Table from 'cli-table3';

/** How a command prints its result: a table for people, JSON for scripts. */
export type OutputFormat = 'table' | 'json';

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'json'];

export type Cell = string | number | boolean | null;

/** nova-manage prints Python values: booleans as True/False, None as an empty cell. */
function show(value: Cell): string {
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return value === null ? '' : String(value);
}

/** A table in nova-manage's (prettytable's) ASCII shape. */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly Cell[])[],
): string {
  const table = new Table({
    head: [...headers],
    chars: {
      top: '-',
      'top-mid': '+',
      'top-left': '+',
      'top-right': '+',
      bottom: '-',
      'bottom-mid': '+',
      'bottom-left': '+',
      'bottom-right': '+',
      left: '|',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      'right-mid': '',
      right: '|',
      middle: '|',
    },
    style: { head: [], border: [], compact: true },
    colAligns: headers.map(() => 'center' as const),
  });
  table.push(...rows.map((row) => row.map(show)));
  const lines = table.toString().split('\n');
  // prettytable rules off the header with the same line as the top border.
  const border = lines[0] ?? '';
  lines.splice(2, 0, border);
  return lines.join('\n');
}

export function renderJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
