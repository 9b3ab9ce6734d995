import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Exchanges captured from a real Nova (see nova-samples/README.md). They are
 * kept in the repo so that a clean clone tests against them; unit test
 * `samples.test.ts` checks the copy against ../shared/samples when present.
 */
export const SAMPLES_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../fixtures/nova-samples',
);

export interface Sample {
  call: string;
  microversion_sent: string;
  request: { method: string; path: string; headers: [string, string][]; body: unknown };
  status: number;
  headers: [string, string][];
  body: unknown;
}

export function sampleFiles(): string[] {
  return readdirSync(SAMPLES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
}

export function readSample(file: string): Sample {
  return JSON.parse(readFileSync(path.join(SAMPLES_DIR, file), 'utf8')) as Sample;
}
