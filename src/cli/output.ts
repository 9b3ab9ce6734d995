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

/**
 * prettytable's centring: when the space left over is odd, the extra space
 * goes right of a text of odd length and left of one of even length
 * (cli-table3 always puts it right, so cells come to it already centred).
 */
export function centre(text: string, width: number): string {
  const excess = width - text.length;
  if (excess <= 0) return text;
  const half = Math.floor(excess / 2);
  const [left, right] =
    excess % 2 === 0 ? [half, half] : text.length % 2 === 1 ? [half, half + 1] : [half + 1, half];
  return `${' '.repeat(left)}${text}${' '.repeat(right)}`;
}

/** A table in nova-manage's (prettytable's) ASCII shape. */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly Cell[])[],
): string {
  const texts = rows.map((row) => row.map(show));
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...texts.map((row) => (row[i] ?? '').length)),
  );
  const centred = (row: readonly string[]) => row.map((text, i) => centre(text, widths[i] ?? 0));
  const table = new Table({
    head: centred(headers),
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
  table.push(...texts.map(centred));
  const lines = table.toString().split('\n');
  // prettytable rules off the header with the same line as the top border.
  const border = lines[0] ?? '';
  lines.splice(2, 0, border);
  return lines.join('\n');
}

export function renderJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** Python's urllib.parse.uses_netloc (3.11): schemes whose URLs keep `//` even with no host. */
const USES_NETLOC = new Set([
  '',
  'ftp',
  'http',
  'gopher',
  'nntp',
  'telnet',
  'imap',
  'wais',
  'file',
  'mms',
  'https',
  'shttp',
  'snews',
  'prospero',
  'rtsp',
  'rtsps',
  'rtspu',
  'rsync',
  'svn',
  'svn+ssh',
  'sftp',
  'nfs',
  'git',
  'git+ssh',
  'ws',
  'wss',
]);

/**
 * A URL as `nova-manage cell_v2 list_cells` prints it without --verbose
 * (`mask_passwd_in_url`): the netloc from its first `:` to its last `@`
 * becomes `:****@`, and the URL goes back together through Python's
 * urlunparse, which lower-cases the scheme and drops the `//` of a URL with
 * no host unless the scheme is one Python knows to have one (`none:///` is
 * printed `none:/`, `sqlite:////var/x.db` `sqlite://var/x.db`). Quirks and
 * all, so that the table reads as nova-manage's; --verbose and the JSON
 * output show the URL as stored.
 */
export function maskLikeNovaManage(url: string): string {
  let rest = url;
  let scheme = '';
  const colon = url.indexOf(':');
  if (colon > 0 && /^[A-Za-z][A-Za-z0-9+.-]*$/.test(url.slice(0, colon))) {
    scheme = url.slice(0, colon).toLowerCase();
    rest = url.slice(colon + 1);
  }
  let netloc = '';
  if (rest.startsWith('//')) {
    const ends = ['/', '?', '#']
      .map((c) => rest.indexOf(c, 2))
      .filter((i) => i >= 0)
      .sort((a, b) => a - b);
    const end = ends[0] ?? rest.length;
    netloc = rest.slice(2, end);
    rest = rest.slice(end);
  }
  let fragment = '';
  const hash = rest.indexOf('#');
  if (hash >= 0) [rest, fragment] = [rest.slice(0, hash), rest.slice(hash + 1)];
  let query = '';
  const question = rest.indexOf('?');
  if (question >= 0) [rest, query] = [rest.slice(0, question), rest.slice(question + 1)];

  const masked = netloc.replace(/:.*@/, ':****@');
  let out = rest;
  if (masked !== '' || (scheme !== '' && USES_NETLOC.has(scheme) && !out.startsWith('//'))) {
    if (out !== '' && !out.startsWith('/')) out = `/${out}`;
    out = `//${masked}${out}`;
  }
  if (scheme !== '') out = `${scheme}:${out}`;
  if (query !== '') out = `${out}?${query}`;
  if (fragment !== '') out = `${out}#${fragment}`;
  return out;
}
