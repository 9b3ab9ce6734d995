import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApiProcess, request } from '../support/api-process.js';
import { downCellUrl, SECRET } from '../support/cloud.js';
import { forEachEngine } from '../support/engines.js';
import { insertLegacyGroups } from '../support/legacy.js';
import { createMigrationCloud, type MigrationCloud } from '../support/migration-cloud.js';
import { must } from '../support/must.js';

const TOKEN = { 'x-auth-token': 'u1:p1' };
/**
 * Issue 14, item 5: a list or show that could not ask every cell says so
 * (a header and a warning) without leaving Nova's body schema, or fails
 * with a 503 when `[api] list_records_by_skipping_down_cells` is false;
 * through the built server, with a cell mapping that really is down.
 */
forEachEngine((engine) => {
  describe('a cell that is down', () => {
    let cloud: MigrationCloud;
    let downUuid: string;
    let groupUuid: string;
    const servers: ApiProcess[] = [];

    const start = async (skip: boolean) => {
      const server = new ApiProcess(cloud.deployment.args, {
        cwd: cloud.deployment.dir,
        env: {
          OS_DEFAULT__OSAPI_COMPUTE_LISTEN_PORT: '0',
          OS_API__LIST_RECORDS_BY_SKIPPING_DOWN_CELLS: String(skip),
        },
      });
      servers.push(server);
      return { server, address: await server.listening() };
    };

    // One deployment for both tests: neither writes.
    beforeAll(async () => {
      cloud = await createMigrationCloud(engine);
      [groupUuid = ''] = await insertLegacyGroups(must(cloud.cells[1]).db, [
        { name: 'reachable', projectId: 'p1', members: ['inst-1'] },
      ]);
      const created = await cloud.manage([
        'cell_v2',
        'create_cell',
        '--name',
        'down',
        '--transport-url',
        'none:///down',
        '--database_connection',
        downCellUrl(engine),
      ]);
      expect(created.code, created.stderr).toBe(0);
      const mapping = await cloud.api.db
        .selectFrom('cell_mappings')
        .select(['id', 'uuid'])
        .where('name', '=', 'down')
        .executeTakeFirstOrThrow();
      downUuid = mapping.uuid;
      // The group's member is an instance of the down cell: a show must ask that cell for it.
      await cloud.api.db
        .insertInto('instance_mappings')
        .values({ instance_uuid: 'inst-1', cell_id: mapping.id, project_id: 'p1', user_id: 'u1' })
        .execute();
    });
    afterEach(async () => {
      for (const server of servers.splice(0)) {
        server.kill('SIGKILL');
        await server.exited;
      }
    });
    afterAll(async () => {
      await cloud.destroy();
    });

    it("by default: list and show answer 200 in Nova's schema, name the cell in a header, and log a warning", async () => {
      const { server, address } = await start(true);
      const list = await request(`${address}/v2.1/os-server-groups`, { headers: TOKEN });
      expect(list.status).toBe(200);
      expect(list.headers['x-cellgroups-unavailable-cells']).toBe(downUuid);
      const body = JSON.parse(list.body) as { server_groups: { id: string; name: string }[] };
      expect(Object.keys(body)).toEqual(['server_groups']);
      expect(body.server_groups.map((g) => g.name)).toEqual(['reachable']);

      // Its members are looked for in every cell: the show is partial too, and says so.
      const show = await request(`${address}/v2.1/os-server-groups/${groupUuid}`, {
        headers: TOKEN,
      });
      expect(show.status).toBe(200);
      expect(show.headers['x-cellgroups-unavailable-cells']).toBe(downUuid);
      expect(Object.keys(JSON.parse(show.body) as object)).toEqual(['server_group']);

      const warnings = await server.until('two warnings', () => {
        const found = server.log.filter((l) => l.level === 40 && l.msg.includes(downUuid));
        return found.length >= 2 ? found : undefined;
      });
      expect(warnings[0]?.msg).toContain(`down (${downUuid})`);
      expect(server.stdout).not.toContain(SECRET);
    });

    it('with list_records_by_skipping_down_cells = false: a 503 fault naming the cell, never its URL', async () => {
      const { server, address } = await start(false);
      for (const url of [
        `${address}/v2.1/os-server-groups`,
        `${address}/v2.1/os-server-groups/${groupUuid}`,
      ]) {
        const answer = await request(url, { headers: TOKEN });
        expect(answer.status).toBe(503);
        expect(answer.headers['content-type']).toBe('application/json; charset=UTF-8');
        expect(JSON.parse(answer.body)).toEqual({
          serviceUnavailable: {
            code: 503,
            message: `Cell ${downUuid} is not responding; try again later.`,
          },
        });
        expect(answer.headers['x-cellgroups-unavailable-cells']).toBeUndefined();
      }
      await server.until('the failures logged as warnings', () =>
        server.log.filter((l) => l.level === 40 && l.msg === 'request failed').length >= 2
          ? true
          : undefined,
      );
      expect(server.log.filter((l) => Number(l.level) >= 50)).toEqual([]);
      expect(server.stdout).not.toContain(SECRET);
    });
  });
});
