import { readFileSync } from 'node:fs';

/**
 * This package's version, as package.json states it: the one place it is
 * written. Read at run time because package.json lies outside the compiled
 * tree; src/ (tests) and dist/ (the binaries) both sit one level below it.
 */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;
