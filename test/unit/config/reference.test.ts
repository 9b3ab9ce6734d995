import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { OPTIONS } from '../../../src/config/options.js';
import { REFERENCE_FILE, renderConfigReference } from '../../../src/config/reference.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('the configuration reference', () => {
  it(`${REFERENCE_FILE} is what src/config/options.ts generates`, () => {
    const file = path.join(root, REFERENCE_FILE);
    const committed = existsSync(file) ? readFileSync(file, 'utf8') : '(missing)';
    // A plain comparison first: a diff of the whole file is no help, this message is.
    if (committed !== renderConfigReference()) {
      expect.fail(
        `${REFERENCE_FILE} differs from src/config/options.ts: run \`npm run docs:config\` and commit the result.`,
      );
    }
  });

  it('lists every option of every section, with its environment variable', () => {
    const text = renderConfigReference();
    for (const [section, options] of Object.entries(OPTIONS)) {
      expect(text).toContain(`## [${section}]`);
      for (const name of Object.keys(options)) {
        expect(text).toContain(`| \`${name}\` |`);
        expect(text).toContain(`\`OS_${section.toUpperCase()}__${name.toUpperCase()}\``);
      }
    }
    expect(text).toContain('`cell_timeout`');
  });
});
