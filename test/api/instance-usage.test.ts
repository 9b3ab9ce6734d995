import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config/load.js';
import { LEGACY_GROUPS_VERSION } from '../../src/db/migrations/cell/002-instance-groups-moved.js';
import { latestVersion, syncSchema } from '../../src/db/migrations/migrator.js';
import type { Database } from '../../src/db/connection.js';
import type { CellDatabase } from '../../src/db/schema/cell.js';
import { UNAVAILABLE_CELLS_HEADER } from '../../src/api/http/down-cells.js';
import { createCloud, downCellUrl, SECRET, type TestCloud } from '../support/cloud.js';
import { ApiProcess } from '../support/api-process.js';
import { createDeployment } from '../support/deployment.js';
import { forEachEngine, testEngines } from '../support/engines.js';
import { must } from '../support/must.js';

/** An instance row as Nova writes one, with what its quota count reads. */
interface Instance {
  readonly project: string;
  readonly user: string;
  readonly vcpus: number;
  readonly ram: number;
  readonly vmState?: string | null;
  readonly hidden?: boolean | null;
  readonly deleted?: boolean;
}

let serial = 0;

async function insertInstances(
  database: Database<CellDatabase>,
  instances: readonly Instance[],
): Promise<void> {
  for (const i of instances) {
    serial += 1;
    const id = await database.engine.insertReturningId(
      database.db.insertInto('instances').values({
        uuid: `1a5e0000-0000-4000-8000-${String(serial).padStart(12, '0')}`,
        project_id: i.project,
        user_id: i.user,
        vcpus: i.vcpus,
        memory_mb: i.ram,
        vm_state: i.vmState === undefined ? 'active' : i.vmState,
        ...(i.hidden === undefined || i.hidden === null ? {} : { hidden: i.hidden }),
        created_at: new Date(),
      }),
    );
    // Nova's soft delete: the row's own id in `deleted`.
    if (i.deleted) {
      await database.db
        .updateTable('instances')
        .set({ deleted: id })
        .where('id', '=', id)
        .execute();
    }
  }
}

/**
 * Issue 13: instances, cores and RAM in use, as Nova counts them with
 * `[quota] count_usage_from_placement = False`
 * (nova/quota.py `_instances_cores_ram_count_legacy`, and
 * `InstanceList._get_counts_in_db`): live, not soft-deleted, not hidden
 * instances of the project (and of the user) in every cell, cell0
 * included, shown by /limits and os-quota-sets detail and checked by an
 * update.
 */
forEachEngine((engine) => {
  describe('instances, cores and RAM in use', () => {
    let cloud: TestCloud;
    let app: FastifyInstance;

    const call = (
      method: 'GET' | 'PUT' | 'DELETE',
      url: string,
      token: string,
      body?: unknown,
    ): Promise<LightMyRequestResponse> =>
      app.inject({
        method,
        url: `/v2.1${url}`,
        headers: {
          'x-auth-token': token,
          'openstack-api-version': 'compute 2.1',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      });
    const used = async (project: string) => {
      const answer = await call('GET', '/limits', `u1:${project}`);
      expect(answer.statusCode, answer.body).toBe(200);
      const { absolute } = answer.json<{ limits: { absolute: Record<string, number> } }>().limits;
      return {
        instances: absolute.totalInstancesUsed,
        cores: absolute.totalCoresUsed,
        ram: absolute.totalRAMUsed,
        header: answer.headers[UNAVAILABLE_CELLS_HEADER],
      };
    };
    const detail = async (project: string, user?: string) => {
      const query = user === undefined ? '' : `?user_id=${user}`;
      const answer = await call('GET', `/os-quota-sets/${project}/detail${query}`, 'admin:admin');
      expect(answer.statusCode, answer.body).toBe(200);
      const set = answer.json<{ quota_set: Record<string, { in_use: number }> }>().quota_set;
      return {
        instances: set.instances?.in_use,
        cores: set.cores?.in_use,
        ram: set.ram?.in_use,
      };
    };

    beforeAll(async () => {
      // cell0 and cell1 at the latest schema; schemas are re-read at once (a test syncs one).
      cloud = await createCloud(
        engine,
        [engine, engine],
        { cells: { schemaTtlMs: 0 } },
        { cell0: true, cellSchema: latestVersion('cell') },
      );
      app = buildApp({ config: loadConfig({ env: {} }), groups: cloud.service });
      const [cell0, cell1] = cloud.cells;
      await insertInstances(must(cell1).db, [
        { project: 'p1', user: 'u1', vcpus: 2, ram: 2048 },
        { project: 'p1', user: 'u1', vcpus: 4, ram: 4096, vmState: null },
        { project: 'p1', user: 'u2', vcpus: 1, ram: 512 },
        // Not counted: deleted, soft-deleted, the hidden copy of a cross-cell resize, another project.
        { project: 'p1', user: 'u1', vcpus: 8, ram: 8192, deleted: true },
        { project: 'p1', user: 'u1', vcpus: 8, ram: 8192, vmState: 'soft-delete' },
        { project: 'p1', user: 'u1', vcpus: 8, ram: 8192, hidden: true },
        { project: 'p2', user: 'u1', vcpus: 16, ram: 16384 },
      ]);
      // cell0 holds the instances that failed to schedule: Nova counts them too.
      await insertInstances(must(cell0).db, [
        { project: 'p1', user: 'u1', vcpus: 1, ram: 256, vmState: 'error', hidden: false },
      ]);
    });
    afterAll(async () => {
      await app.close();
      await cloud.destroy();
    });

    it('/limits and os-quota-sets detail count the live instances of every cell', async () => {
      expect(await used('p1')).toEqual({
        instances: 4,
        cores: 8,
        ram: 6912,
        header: undefined,
      });
      expect(await detail('p1')).toEqual({ instances: 4, cores: 8, ram: 6912 });
      // A user's detail counts that user's instances only.
      expect(await detail('p1', 'u1')).toEqual({ instances: 3, cores: 7, ram: 6400 });
      expect(await detail('p1', 'u2')).toEqual({ instances: 1, cores: 1, ram: 512 });
      expect(await used('p3')).toMatchObject({ instances: 0, cores: 0, ram: 0 });
    });

    it('an update below what is in use is refused, one at or above it is taken', async () => {
      for (const [resource, inUse] of [
        ['instances', 4],
        ['cores', 8],
        ['ram', 6912],
      ] as const) {
        const refused = await call('PUT', '/os-quota-sets/p1', 'admin:admin', {
          quota_set: { [resource]: inUse - 1 },
        });
        expect(refused.statusCode).toBe(400);
        expect(refused.json()).toEqual({
          badRequest: {
            code: 400,
            message: `Quota limit ${inUse - 1} for ${resource} must be greater than or equal to already used and reserved ${inUse}.`,
          },
        });
        const taken = await call('PUT', '/os-quota-sets/p1', 'admin:admin', {
          quota_set: { [resource]: inUse },
        });
        expect(taken.statusCode, taken.body).toBe(200);
      }
      // A user's limit is checked against that user's usage.
      const userRefused = await call('PUT', '/os-quota-sets/p1?user_id=u1', 'admin:admin', {
        quota_set: { cores: 6 },
      });
      expect(userRefused.statusCode).toBe(400);
      expect(JSON.stringify(userRefused.json())).toContain('already used and reserved 7');
      expect((await call('DELETE', '/os-quota-sets/p1', 'admin:admin')).statusCode).toBe(202);
    });

    it('a cell without the usage columns counts its instances, not their cores and RAM, and says so', async () => {
      // A cell cellgroups made, still at the legacy schema: no vcpus, memory_mb or hidden yet.
      const fresh = await createCloud(engine, [engine]);
      let mapping: { id: number; uuid: string } | undefined;
      try {
        const cell = must(fresh.cells[0]);
        expect(LEGACY_GROUPS_VERSION).toBeLessThan(latestVersion('cell'));
        await cell.db.db
          .insertInto('instances')
          .values({
            uuid: 'legacy-instance-1',
            project_id: 'p4',
            user_id: 'u1',
            vm_state: 'active',
          })
          .execute();
        mapping = await cloud.addCell('old-schema', cell.mapping.databaseConnection ?? '');
        cloud.service.cells.refresh();
        const before = await used('p4');
        expect(before).toMatchObject({ instances: 1, cores: 0, ram: 0 });
        expect(before.header).toBe(mapping.uuid);
        // The cores and RAM of p4 cannot be known there: setting them is refused, naming the cell.
        const refused = await call('PUT', '/os-quota-sets/p4', 'admin:admin', {
          quota_set: { cores: 1 },
        });
        expect(refused.statusCode).toBe(503);
        expect(JSON.stringify(refused.json())).toContain('old-schema');
        // Its instances are counted: a limit on them can be checked.
        const instances = await call('PUT', '/os-quota-sets/p4', 'admin:admin', {
          quota_set: { instances: 1 },
        });
        expect(instances.statusCode, instances.body).toBe(200);

        // Synced (it holds no groups, so the blocker lets it pass): counted in full.
        await syncSchema(cell.db, 'cell');
        await cell.db.db
          .updateTable('instances')
          .set({ vcpus: 3, memory_mb: 1024 })
          .where('uuid', '=', 'legacy-instance-1')
          .execute();
        expect(await used('p4')).toEqual({ instances: 1, cores: 3, ram: 1024, header: undefined });
      } finally {
        if (mapping) {
          await cloud.api.db.deleteFrom('cell_mappings').where('id', '=', mapping.id).execute();
        }
        cloud.service.cells.refresh();
        await fresh.destroy();
      }
    });

    it('a cell that does not answer is left out and named; only limits it would count are refused', async () => {
      const down = await cloud.addCell('down', downCellUrl(engine));
      cloud.service.cells.refresh();
      try {
        const shown = await used('p1');
        expect(shown).toMatchObject({ instances: 4, cores: 8, ram: 6912 });
        expect(shown.header).toBe(down.uuid);
        const refused = await call('PUT', '/os-quota-sets/p1', 'admin:admin', {
          quota_set: { instances: 100 },
        });
        expect(refused.statusCode).toBe(503);
        expect(refused.body).not.toContain(SECRET);
        // metadata_items is not counted anywhere: the down cell does not stand in its way.
        const taken = await call('PUT', '/os-quota-sets/p1', 'admin:admin', {
          quota_set: { metadata_items: 64 },
        });
        expect(taken.statusCode, taken.body).toBe(200);
      } finally {
        await cloud.api.db.deleteFrom('cell_mappings').where('id', '=', down.id).execute();
        cloud.service.cells.refresh();
      }
    });
  });
});

describe('[quota] count_usage_from_placement = True', () => {
  it('is warned about when the server starts: usage is counted from the cells all the same', async () => {
    const d = await createDeployment(must(testEngines()[0]), {
      DEFAULT: { osapi_compute_listen_port: '0' },
      quota: { count_usage_from_placement: 'True' },
    });
    const server = new ApiProcess(['--config-file', d.config, '--bootstrap'], { cwd: d.dir });
    try {
      await server.listening();
      const warning = server.log.find((line) => line.level === 40);
      expect(warning?.msg).toMatch(
        /^\[quota\] count_usage_from_placement = True: cellgroups has no placement client and counts instances, cores and RAM in use from the cell databases/,
      );
    } finally {
      server.kill('SIGKILL');
      await server.exited;
      await d.destroy();
    }
  });
});
