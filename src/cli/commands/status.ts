import type { Command } from 'commander';
import {
  CHECK_RESULT_NAMES,
  CheckCode,
  runUpgradeChecks,
  worstCode,
  type UpgradeCheckResult,
} from '../../status/upgrade-checks.js';
import { CellgroupsError } from '../../errors.js';
import { formatOption, type ActionWrapper, type FormatOptions } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { renderJson } from '../output.js';

/**
 * `cellgroups-manage status upgrade check`: `nova-status upgrade check`
 * (oslo.upgradecheck) for cellgroups. Exit status 0: every check passed;
 * 1: the worst is a warning; 2: a check failed; 255: the checks could not
 * run (including a configuration error, so that 1 only ever means warning).
 */
const EXIT_FOR: Readonly<Record<CheckCode, number>> = {
  [CheckCode.SUCCESS]: 0,
  [CheckCode.WARNING]: 1,
  [CheckCode.FAILURE]: 2,
};

export function registerStatusCommands(program: Command, action: ActionWrapper): void {
  const status = program
    .command('status')
    .description('Check the deployment (the nova-status of cellgroups).');
  const upgrade = status.command('upgrade').description('Upgrade readiness checks.');

  upgrade
    .command('check')
    .description(
      'Check that the deployment is ready for an upgrade: cells v2, the API schema, groups still ' +
        'in the cells, the cell schemas. Exit status: 0 all passed, 1 warnings (the upgrade may ' +
        'be fine: read them), 2 failures (do not upgrade), 255 the checks could not run.',
    )
    .addOption(formatOption())
    .action(
      action(async (ctx, options: FormatOptions) => {
        let results: UpgradeCheckResult[];
        try {
          const config = ctx.config();
          const { cell_timeout, cell_concurrency } = config.values.cellgroups;
          results = await runUpgradeChecks({
            apiDatabaseUrl: config.apiDatabaseUrl,
            fanOut: { timeoutMs: cell_timeout * 1000, concurrency: cell_concurrency },
          });
        } catch (error) {
          // Anything else reaches the program's handler, which answers 255 too.
          if (!(error instanceof CellgroupsError)) throw error;
          ctx.err(`ERROR: ${error.message}`);
          return EXIT.UNEXPECTED;
        }
        const exitCode = EXIT_FOR[worstCode(results)];
        ctx.out(
          options.format === 'json'
            ? renderJson({
                checks: results.map((r) => ({
                  check: r.check,
                  result: CHECK_RESULT_NAMES[r.code],
                  details: r.details,
                })),
                exit_code: exitCode,
              })
            : renderUpgradeCheckTable(results),
        );
        return exitCode;
      }),
    );
}

/**
 * oslo.upgradecheck's table: one left-aligned column headed "Upgrade Check
 * Results", a rule after every row, each row "Check / Result / Details"
 * with the details wrapped at 60 characters. Unlike oslo, a line break in
 * the details is kept (each of our per-cell lines starts a line; oslo would
 * run them together); a wrapped line goes on indented by two spaces.
 */
export function renderUpgradeCheckTable(results: readonly UpgradeCheckResult[]): string {
  const rows = results.map((r) => {
    const details =
      r.details === null
        ? 'None'
        : r.details
            .split('\n')
            .flatMap((paragraph) => wrapText(paragraph, 60, '  '))
            .join('\n');
    return [`Check: ${r.check}`, `Result: ${CHECK_RESULT_NAMES[r.code]}`, `Details: ${details}`]
      .join('\n')
      .split('\n');
  });
  const header = 'Upgrade Check Results';
  const width = Math.max(length(header), ...rows.flat().map(length));
  const rule = `+${'-'.repeat(width + 2)}+`;
  const line = (text: string) => `| ${text}${' '.repeat(width - length(text))} |`;
  return [rule, line(header), rule, ...rows.flatMap((row) => [...row.map(line), rule])].join('\n');
}

/** Python's len(): code points, not UTF-16 units. */
const length = (s: string) => Array.from(s).length;

// Python's textwrap.TextWrapper.wordsep_re (break_on_hyphens): whitespace runs,
// em-dashes, and words split after a hyphen between letters. Python's \w and
// \d are Unicode-aware: \w is a letter, a number or "_", \d a decimal digit.
const WS = '[\\t\\n\\x0b\\x0c\\r ]';
const NWS = '[^\\t\\n\\x0b\\x0c\\r ]';
const WORD = '[\\p{L}\\p{N}_]';
const LETTER = '[\\p{L}\\p{Nl}\\p{No}_]';
const PUNCT = '[\\p{L}\\p{N}_!"\'&.,?]';
const WORD_SEP = new RegExp(
  `(${WS}+` +
    `|(?<=${PUNCT})-{2,}(?=${WORD})` +
    `|${NWS}+?(?:-(?:(?<=${LETTER}{2}-)|(?<=${LETTER}-${LETTER}-))(?=${LETTER}-?${LETTER})` +
    `|(?=${WS}|$)` +
    `|(?<=${PUNCT})(?=-{2,}${WORD})))`,
  'u',
);

/**
 * Python's `textwrap.wrap(text, width, subsequent_indent=indent)` with its
 * defaults (tabs expanded, whitespace made spaces, breaks after hyphens,
 * long words broken, whitespace dropped at line ends).
 */
export function wrapText(text: string, width: number, indent = ''): string[] {
  const munged = expandTabs(text).replace(/[\t\n\v\f\r]/g, ' ');
  // Code points, so that a long word is never cut inside a surrogate pair.
  const chunks = munged
    .split(WORD_SEP)
    .filter((c) => c !== '')
    .map((c) => Array.from(c));
  chunks.reverse();
  const blank = (chunk: readonly string[]) => chunk.join('').trim() === '';
  const lines: string[] = [];
  while (chunks.length > 0) {
    const prefix = lines.length > 0 ? indent : '';
    const room = width - length(prefix);
    const last = () => chunks[chunks.length - 1];
    const first = last();
    if (first && lines.length > 0 && blank(first)) chunks.pop();
    const line: string[][] = [];
    let used = 0;
    for (let next = last(); next && used + next.length <= room; next = last()) {
      line.push(next);
      used += next.length;
      chunks.pop();
    }
    const long = last();
    if (long && long.length > room) {
      const space = room < 1 ? 1 : room - used;
      let end = space;
      if (long.length > space) {
        const hyphen = long.slice(0, space).lastIndexOf('-');
        if (hyphen > 0 && long.slice(0, hyphen).some((c) => c !== '-')) end = hyphen + 1;
      }
      line.push(long.slice(0, end));
      chunks[chunks.length - 1] = long.slice(end);
    }
    const tail = line.at(-1);
    if (tail && blank(tail)) line.pop();
    if (line.length > 0) lines.push(prefix + line.map((c) => c.join('')).join(''));
  }
  return lines;
}

/** Python's str.expandtabs(8). */
function expandTabs(text: string): string {
  let out = '';
  let column = 0;
  for (const c of text) {
    if (c === '\t') {
      const n = 8 - (column % 8);
      out += ' '.repeat(n);
      column += n;
    } else {
      out += c;
      column = c === '\n' || c === '\r' ? 0 : column + 1;
    }
  }
  return out;
}
