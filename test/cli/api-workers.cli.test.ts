import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiProcess, request } from '../support/api-process.js';
import { runManage } from '../support/cli.js';
import { blackhole } from '../support/cloud.js';
import { createDeployment, type TestDeployment } from '../support/deployment.js';
import { forEachEngine } from '../support/engines.js';

const TOKEN = { 'x-auth-token': 'u1:p1' };

/** `[DEFAULT] osapi_compute_workers` and graceful shutdown, through the built server. */
forEachEngine((engine) => {
  describe('cellgroups-api with several workers', () => {
    let d: TestDeployment;
    const servers: ApiProcess[] = [];
    const start = (workers: number) => {
      const server = new ApiProcess(['--config-file', d.config, '--bootstrap'], {
        cwd: d.dir,
        env: { OS_DEFAULT__OSAPI_COMPUTE_WORKERS: String(workers) },
      });
      servers.push(server);
      return server;
    };

    beforeEach(async () => {
      d = await createDeployment(engine, {
        DEFAULT: { osapi_compute_listen_port: '0' },
        // A hung cell makes a list wait this long: a slow request without a test-only code path.
        cellgroups: { cell_timeout: '2' },
      });
      // cell0 on the test's own database; --bootstrap then syncs it and maps the local cell.
      expect((await runManage([...d.args, 'api_db', 'sync'])).code).toBe(0);
      const cell0 = await runManage([
        ...d.args,
        'cell_v2',
        'map_cell0',
        '--database_connection',
        d.cell0.url,
      ]);
      expect(cell0.code).toBe(0);
    });
    afterEach(async () => {
      for (const server of servers.splice(0)) {
        server.kill('SIGKILL');
        await server.exited;
      }
      await d.destroy();
    });

    it('bootstraps once, serves from two processes on one port, replaces a killed worker, stops with 0', async () => {
      const server = start(2);
      const address = await server.listening();
      expect(server.stdout).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+ with 2 workers/);
      expect(server.stdout.split('cellgroups data directory').length - 1).toBe(1);

      const created = await request(`${address}/v2.1/os-server-groups`, {
        method: 'POST',
        headers: TOKEN,
        body: { server_group: { name: 'web', policies: ['anti-affinity'] } },
      });
      expect(created.status).toBe(200);
      const listAll = async (count: number) => {
        const answers = await Promise.all(
          Array.from({ length: count }, () =>
            request(`${address}/v2.1/os-server-groups`, { headers: TOKEN }),
          ),
        );
        for (const answer of answers) {
          expect(answer.status).toBe(200);
          expect(answer.body).toContain('"name":"web"');
        }
      };
      await listAll(10);
      const workers = server.servingWorkers();
      expect(workers).toHaveLength(2);
      // Every request's log line names its process: both workers answered, and only they did.
      await server.until('request lines', () =>
        server.requestPids().size === 2 ? true : undefined,
      );
      expect([...server.requestPids()].sort()).toEqual([...workers].sort());

      const [victim = 0, survivor = 0] = workers;
      process.kill(victim, 'SIGKILL');
      await server.until('restart line', () =>
        server.log.find((l) => l.msg === 'worker was killed by SIGKILL; restarting it'),
      );
      await listAll(4); // the other worker answers meanwhile
      const replacement = await server.until('replacement', () =>
        server.servingWorkers().find((pid) => !workers.includes(pid)),
      );
      await listAll(10);
      await server.until('replacement answering', () =>
        server.requestPids().has(replacement) ? true : undefined,
      );
      expect(server.servingWorkers()).toEqual([victim, survivor, replacement]);

      server.kill('SIGTERM');
      expect(await server.exited).toEqual({ code: 0, signal: null });
      expect(server.stderr).toBe('');
      const exits = server.log.filter((l) => l.msg === 'worker exited with status 0');
      expect(exits.map((l) => l.workerPid).sort()).toEqual([survivor, replacement].sort());
    });

    for (const workers of [1, 2]) {
      it(`${workers} worker(s): a request in flight at SIGTERM ends with 200, new connections are refused, exit 0`, async () => {
        const hole = await blackhole();
        try {
          const hanging = await runManage([
            ...d.args,
            'cell_v2',
            'create_cell',
            '--name',
            'hanging',
            '--transport-url',
            'none:///hanging',
            '--database_connection',
            // Its connect timeout bounds how long a stopping worker waits for the hung connection.
            `postgresql://nova@127.0.0.1:${hole.port}/nova?connect_timeout=3`,
          ]);
          expect(hanging.code).toBe(0);
          const server = start(workers);
          const address = await server.listening();

          const started = Date.now();
          const slow = request(`${address}/v2.1/os-server-groups`, { headers: TOKEN });
          slow.catch(() => undefined); // awaited below; not an unhandled rejection if a check fails first
          // In flight: a worker is waiting on the hung cell.
          await server.until('request waiting on the hung cell', () =>
            hole.connections() > 0 ? true : undefined,
          );
          server.kill('SIGTERM');
          await server.until('every process shutting down', () =>
            server.log.filter((l) => l.msg.startsWith('shutting down: no new connections'))
              .length === workers
              ? true
              : undefined,
          );
          // Not served: refused once the listener is closed, reset if it was queued just before,
          // or Fastify's 503 if it reached a worker between its close and the primary learning of it.
          const late = await request(`${address}/`).then(
            (a) => a.status,
            (e: unknown) => (e as NodeJS.ErrnoException).code,
          );
          expect(['ECONNREFUSED', 'ECONNRESET', 503]).toContain(late);

          const answer = await slow;
          expect(answer.status).toBe(200);
          expect(JSON.parse(answer.body)).toEqual({ server_groups: [] });
          // It waited for the hung cell (cell_timeout), and its connection closes after it.
          expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
          expect(answer.headers.connection).toBe('close');
          expect(await server.exited).toEqual({ code: 0, signal: null });
          expect(server.stderr).toBe('');
        } finally {
          await hole.close();
        }
      });
    }
  });
});

/** Workers that cannot live end the server with a reason instead of a restart loop. */
describe('cellgroups-api workers that keep failing', () => {
  const dirs: string[] = [];
  const servers: ApiProcess[] = [];
  const start = (dir: string, port: number) => {
    const server = new ApiProcess(['--bootstrap'], {
      cwd: dir,
      env: {
        OS_DEFAULT__OSAPI_COMPUTE_WORKERS: '2',
        OS_DEFAULT__OSAPI_COMPUTE_LISTEN_PORT: String(port),
      },
    });
    servers.push(server);
    return server;
  };
  const tempDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cgt-workers-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.kill('SIGKILL');
      await server.exited;
    }
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('a port already taken: exits 1 with the reason, having started each worker once', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const address = taken.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      const server = start(tempDir(), address.port);
      expect(await server.exited).toEqual({ code: 1, signal: null });
      expect(server.stderr).toMatch(/EADDRINUSE/);
      expect(server.stderr).toMatch(
        /cellgroups-api: worker [12] \(pid \d+\) exited with status 1 before it was serving; stopping/,
      );
      expect(server.log.filter((l) => l.msg === 'worker started')).toHaveLength(2);
      expect(server.stdout).not.toContain('listening on');
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('workers that die again and again soon after starting: the primary gives up with 1', async () => {
    const server = start(tempDir(), 0);
    await server.listening();
    let victim = server.servingWorkers()[0] ?? 0;
    // Two quick deaths are replaced (the replacements are the 3rd and 4th workers serving)…
    for (let kills = 1; kills < 3; kills++) {
      process.kill(victim, 'SIGKILL');
      victim = await server.until('replacement', () => server.servingWorkers()[1 + kills]);
    }
    // …the third is one too many.
    process.kill(victim, 'SIGKILL');
    expect(await server.exited).toEqual({ code: 1, signal: null });
    expect(server.stderr).toBe(
      'cellgroups-api: 3 workers died within 10 s of starting in the last 60 s; stopping\n',
    );
  });
});

describe('cellgroups-api stopped by a second Ctrl-C', () => {
  const servers: ApiProcess[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.kill('SIGKILL');
      await server.exited;
    }
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('exits 130 at once, without waiting for the request in flight', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cgt-workers-'));
    dirs.push(dir);
    const hole = await blackhole();
    try {
      const server = new ApiProcess(['--bootstrap'], {
        cwd: dir,
        env: {
          OS_DEFAULT__OSAPI_COMPUTE_WORKERS: '2',
          OS_DEFAULT__OSAPI_COMPUTE_LISTEN_PORT: '0',
          OS_CELLGROUPS__CELL_TIMEOUT: '30',
        },
      });
      servers.push(server);
      const address = await server.listening();
      const hanging = await runManage(
        [
          'cell_v2',
          'create_cell',
          '--name',
          'hanging',
          '--transport-url',
          'none:///hanging',
          '--database_connection',
          `postgresql://nova@127.0.0.1:${hole.port}/nova`,
        ],
        { cwd: dir },
      );
      expect(hanging.code).toBe(0);
      const slow = request(`${address}/v2.1/os-server-groups`, { headers: TOKEN });
      slow.catch(() => undefined);
      await server.until('request in flight', () => (hole.connections() > 0 ? true : undefined));
      const started = Date.now();
      server.kill('SIGINT');
      await server.until('primary shutting down', () =>
        server.log.find((l) => l.msg === 'shutting down: stopping the workers'),
      );
      server.kill('SIGINT');
      expect(await server.exited).toEqual({ code: 130, signal: null });
      expect(Date.now() - started).toBeLessThan(5_000);
      await expect(slow).rejects.toThrow(/socket hang up|ECONNRESET/);
    } finally {
      await hole.close();
    }
  });
});
