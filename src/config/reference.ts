import { environmentName } from './load.js';
import { OPTIONS, type OptionSpec } from './options.js';

/** Where the rendered reference is committed, relative to the checkout. */
export const REFERENCE_FILE = 'docs/configuration-reference.md';

type Sections = Readonly<Record<string, Readonly<Record<string, OptionSpec<unknown>>>>>;

function defaultText(value: unknown): string {
  if (value === undefined) return '(none)';
  // Defaults are strings, numbers and booleans: JSON would quote the strings.
  return `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
}

/** A table cell: one line, no column breaks. */
function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
}

/**
 * The configuration reference, from the option table itself (as
 * oslo-config-generator writes Nova's sample from its options), so that it
 * cannot drift from what the loader accepts. `npm run docs:config` writes
 * it to REFERENCE_FILE; a unit test checks the committed file against it.
 */
export function renderConfigReference(sections: Sections = OPTIONS): string {
  const lines = [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/options.ts by `npm run docs:config`; do not edit by hand. -->',
    '',
    'Every option cellgroups reads, section by section, under the names nova.conf uses.',
    'Options are read from the files given with `--config-file` (later files win), then from',
    'the environment (`OS_<SECTION>__<OPTION>`, which wins over files). An unknown section or',
    'option in a file is an error. How the files are read, and examples, are in',
    '[configuration.md](configuration.md).',
  ];
  for (const [section, options] of Object.entries(sections)) {
    lines.push(
      '',
      `## [${section}]`,
      '',
      '| option | type | default | environment | help |',
      '| --- | --- | --- | --- | --- |',
    );
    for (const [name, spec] of Object.entries(options)) {
      lines.push(
        `| \`${name}\` | ${cell(spec.type.expected)} | ${cell(defaultText(spec.default))} | ` +
          `\`${environmentName(section, name)}\` | ${cell(spec.help)} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
