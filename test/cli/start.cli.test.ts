import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { API_SERVER, runManage } from '../support/cli.js';

/** What `npm start` runs, on a machine that has nothing yet. */
describe('cellgroups-api --bootstrap (npm start)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('creates the data directory, syncs, maps cell0 and cell1, serves GET /, and stops on SIGTERM', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cgt-start-'));
    dirs.push(dir);
    const env = { PATH: process.env.PATH ?? '', OS_DEFAULT__OSAPI_COMPUTE_LISTEN_PORT: '0' };
    const server = spawn(process.execPath, [API_SERVER, '--bootstrap'], { cwd: dir, env });
    let stdout = '';
    let stderr = '';
    server.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => server.on('exit', resolve));
    const address = await new Promise<string>((resolve, reject) => {
      server.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
        if (match?.[1]) resolve(match[1]);
      });
      void exited.then(() => {
        reject(new Error(`server exited early: ${stdout}${stderr}`));
      });
    });

    expect(stdout).toContain(`cellgroups data directory: ${path.join(dir, 'data')}`);
    expect(stdout).toMatch(/API database\s+sqlite:\/\/\/.*nova_api\.sqlite \(schema version 2\)/);
    expect(stdout).toMatch(/cell0\s+sqlite:\/\/\/.*nova_cell0\.sqlite \(schema version 2\)/);
    expect(stdout).toMatch(/cell1\s+sqlite:\/\/\/.*nova\.sqlite \(schema version 2\)/);
    for (const file of ['nova_api.sqlite', 'nova.sqlite', 'nova_cell0.sqlite']) {
      expect(existsSync(path.join(dir, 'data', file))).toBe(true);
    }

    const response = await fetch(`${address}/`);
    expect(response.status).toBe(200);
    expect(
      ((await response.json()) as { versions: { id: string }[] }).versions.map((v) => v.id),
    ).toEqual(['v2.0', 'v2.1']);

    // The deployment it made is a normal one: the CLI sees both cells.
    const cells = await runManage(['cell_v2', 'list_cells', '--format', 'json'], { cwd: dir });
    expect((JSON.parse(cells.stdout) as { name: string }[]).map((c) => c.name)).toEqual([
      'cell0',
      'cell1',
    ]);

    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  });

  it('a second start on the same directory changes nothing and serves again', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cgt-start-'));
    dirs.push(dir);
    const run = () =>
      new Promise<string>((resolve, reject) => {
        const server = spawn(process.execPath, [API_SERVER, '--bootstrap'], {
          cwd: dir,
          env: { PATH: process.env.PATH ?? '', OS_DEFAULT__OSAPI_COMPUTE_LISTEN_PORT: '0' },
        });
        let out = '';
        server.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
        server.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('listening on') && server.signalCode === null && !server.killed)
            server.kill('SIGTERM');
        });
        server.on('exit', (code, signal) => {
          if (code === 0) resolve(out);
          else reject(new Error(`exit ${code ?? signal}: ${out}`));
        });
      });
    const first = await run();
    const second = await run();
    const cellLine = (out: string) => out.split('\n').find((l) => l.includes('nova.sqlite'));
    expect(cellLine(second)).toBe(cellLine(first));
    const cells = await runManage(['cell_v2', 'list_cells', '--format', 'json'], { cwd: dir });
    expect(JSON.parse(cells.stdout)).toHaveLength(2);
  });
});
