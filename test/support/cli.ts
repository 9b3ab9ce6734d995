import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The built CLI, as an operator runs it (`npm test` builds first). */
export const MANAGE = path.join(root, 'dist/cli/main.js');
export const API_SERVER = path.join(root, 'dist/api/process/server.js');

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `cellgroups-manage` in a real process. */
export function runManage(
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MANAGE, ...args],
      {
        cwd: options.cwd ?? root,
        // Only what the test says: no OS_* overrides leak in from the caller's shell.
        env: { PATH: process.env.PATH ?? '', ...options.env },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 255) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Writes a nova.conf-style file and returns its path. */
export function writeConfig(
  dir: string,
  name: string,
  sections: Record<string, Record<string, string>>,
): string {
  const file = path.join(dir, name);
  const text = Object.entries(sections)
    .map(([section, options]) =>
      [`[${section}]`, ...Object.entries(options).map(([key, value]) => `${key} = ${value}`)].join(
        '\n',
      ),
    )
    .join('\n\n');
  writeFileSync(file, `${text}\n`);
  return file;
}
