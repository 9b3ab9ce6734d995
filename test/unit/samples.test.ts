import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SAMPLES_DIR } from '../support/samples.js';

const SHARED = path.resolve(SAMPLES_DIR, '../../../../shared/samples');

describe('the vendored Nova samples', () => {
  it.runIf(existsSync(SHARED))('are identical to ../shared/samples', () => {
    const files = readdirSync(SHARED).sort();
    expect(readdirSync(SAMPLES_DIR).sort()).toEqual(files);
    for (const file of files) {
      expect(readFileSync(path.join(SAMPLES_DIR, file), 'utf8'), file).toBe(
        readFileSync(path.join(SHARED, file), 'utf8'),
      );
    }
  });
});
