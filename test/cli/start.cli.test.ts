import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDatabase } from '../../src/db/connection.js';
import type { CellDatabase } from '../../src/db/schema/cell.js';
import { cleanEnv, ProcessGroup, TempCheckout } from '../support/checkout.js';
import { runManage } from '../support/cli.js';
import { insertLegacyGroups } from '../support/legacy.js';

/**
 * The README's first command, as a newcomer runs it: `npm start` through npm
 * (its `prestart` builds, its `start` is whatever package.json says) in a
 * copy of the checkout with no dist/ and no data/. Only the port comes from
 * the environment, so that runs do not collide on 8774.
 */
const HEADERS = { 'X-Auth-Token': 'u1:p1', 'OpenStack-API-Version': 'compute 2.64' };
const BUILD_AND_START_MS = 180_000;

interface Group {
  id: string;
  name: string;
  policy: string;
}

describe('npm start (a fresh clone, through npm)', () => {
  let checkout: TempCheckout;
  const started: ProcessGroup[] = [];

  beforeAll(() => {
    checkout = new TempCheckout('cgt-start-');
  });
  afterAll(() => {
    for (const server of started) server.kill();
    checkout.remove();
  });

  /** `npm start` in the copy; resolves with the group and the address it serves on. */
  async function npmStart(): Promise<{ server: ProcessGroup; address: string }> {
    const server = new ProcessGroup('npm', ['start'], {
      cwd: checkout.dir,
      env: cleanEnv({ OS_DEFAULT__OSAPI_COMPUTE_LISTEN_PORT: '0' }),
    });
    started.push(server);
    const address = await server.until(
      'listening line',
      () => /compute API listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(server.stdout)?.[1],
      BUILD_AND_START_MS,
    );
    return { server, address };
  }

  /** SIGTERM to npm's process group (npm, sh, node): the server stops gracefully, nothing stays. */
  async function stop(server: ProcessGroup): Promise<void> {
    server.signal('SIGTERM');
    await server.exited;
    expect(await server.gone()).toBe(true);
    expect(server.stdout).toContain('"msg":"stopped"');
    expect(server.stderr).not.toMatch(/error/i);
  }

  async function call(
    address: string,
    method: string,
    url: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> {
    const response = await fetch(`${address}${url}`, {
      method,
      headers: body === undefined ? HEADERS : { ...HEADERS, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      json: text === '' ? undefined : (JSON.parse(text) as unknown),
    };
  }

  it(
    'builds, creates ./data, and serves create, list, show and delete of groups; SIGTERM stops npm, sh and node',
    async () => {
      const { server, address } = await npmStart();
      expect(server.stdout).toContain(
        `cellgroups data directory: ${path.join(checkout.dir, 'data')}`,
      );
      expect(server.stdout).toMatch(
        /API database\s+sqlite:\/\/\/\S*nova_api\.sqlite \(schema version 2\)/,
      );
      expect(server.stdout).toMatch(/cell1\s+sqlite:\/\/\/\S*nova\.sqlite \(schema version 3\)\n/);
      for (const file of ['nova_api.sqlite', 'nova.sqlite', 'nova_cell0.sqlite']) {
        expect(existsSync(path.join(checkout.dir, 'data', file))).toBe(true);
      }

      const created = await call(address, 'POST', '/v2.1/os-server-groups', {
        server_group: { name: 'web', policy: 'anti-affinity', rules: { max_server_per_host: 2 } },
      });
      expect(created.status).toBe(200);
      const group = (created.json as { server_group: Group }).server_group;
      expect(group).toMatchObject({ name: 'web', policy: 'anti-affinity' });

      const listed = await call(address, 'GET', '/v2.1/os-server-groups');
      expect(listed.status).toBe(200);
      expect((listed.json as { server_groups: Group[] }).server_groups.map((g) => g.id)).toEqual([
        group.id,
      ]);

      const shown = await call(address, 'GET', `/v2.1/os-server-groups/${group.id}`);
      expect(shown.status).toBe(200);
      expect((shown.json as { server_group: Group }).server_group).toEqual(group);

      expect((await call(address, 'DELETE', `/v2.1/os-server-groups/${group.id}`)).status).toBe(
        204,
      );
      expect((await call(address, 'GET', `/v2.1/os-server-groups/${group.id}`)).status).toBe(404);

      await stop(server);
    },
    BUILD_AND_START_MS,
  );

  it(
    'starts again on the same ./data, changing nothing',
    async () => {
      const cellsBefore = await runManage(['cell_v2', 'list_cells', '--format', 'json'], {
        cwd: checkout.dir,
      });
      const { server, address } = await npmStart();
      expect(server.stdout).toMatch(/cell1\s+sqlite:\/\/\/\S*nova\.sqlite \(schema version 3\)\n/);
      expect((await call(address, 'GET', '/v2.1/os-server-groups')).json).toEqual({
        server_groups: [],
      });
      await stop(server);
      const cellsAfter = await runManage(['cell_v2', 'list_cells', '--format', 'json'], {
        cwd: checkout.dir,
      });
      expect(cellsAfter.stdout).toBe(cellsBefore.stdout);
    },
    BUILD_AND_START_MS,
  );

  it(
    'starts on an existing ./data whose cell still holds legacy groups, and serves them',
    async () => {
      // An older deployment: its cell at the legacy schema, groups not yet moved.
      rmSync(path.join(checkout.dir, 'data'), { recursive: true, force: true });
      const manage = (...args: string[]) => runManage(args, { cwd: checkout.dir });
      for (const args of [
        ['api_db', 'sync'],
        ['cell_v2', 'map_cell0'],
        ['db', 'sync', '1'],
        ['cell_v2', 'create_cell', '--name', 'cell1', '--transport-url', 'none:///cell1'],
      ]) {
        expect((await manage(...args)).code).toBe(0);
      }
      const uuids = await withDatabase<CellDatabase, string[]>(
        `sqlite:///${path.join(checkout.dir, 'data', 'nova.sqlite')}`,
        (cell) => insertLegacyGroups(cell.db, [{ name: 'old-1' }, { name: 'old-2' }]),
      );

      const { server, address } = await npmStart();
      expect(server.stdout).toMatch(
        /cell1\s+sqlite:\/\/\/\S*nova\.sqlite \(schema version 1\); groups to move: cellgroups-manage db online_data_migrations\n/,
      );
      const listed = await call(address, 'GET', '/v2.1/os-server-groups');
      expect((listed.json as { server_groups: Group[] }).server_groups.map((g) => g.id)).toEqual(
        uuids,
      );
      await stop(server);
    },
    BUILD_AND_START_MS,
  );
});
