import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { API_SERVER, runManage } from '../support/cli.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  version: string;
};

describe('--version', () => {
  it("cellgroups-manage prints package.json's version and exits 0", async () => {
    const result = await runManage(['--version']);
    expect(result).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it("cellgroups-api prints package.json's version and exits 0, serving nothing", async () => {
    // From a directory with no ./data: --version must not read a configuration or bootstrap.
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [API_SERVER, '--version'],
      {
        cwd: path.dirname(root),
        env: { PATH: process.env.PATH ?? '' },
        timeout: 30_000,
      },
    );
    expect({ stdout, stderr }).toEqual({ stdout: `${version}\n`, stderr: '' });
  });
});
