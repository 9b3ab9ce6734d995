import { afterEach, describe, expect, it } from 'vitest';
import { requestContext } from '../../src/context.js';
import type { Database } from '../../src/db/connection.js';
import type { CellDatabase } from '../../src/db/schema/cell.js';
import { LockTimeout } from '../../src/errors.js';
import { GroupService } from '../../src/groups/service.js';
import { ApiProcess, request } from '../support/api-process.js';
import { forEachEngine } from '../support/engines.js';
import { insertLegacyGroups } from '../support/legacy.js';
import { createMigrationCloud, type MigrationCloud } from '../support/migration-cloud.js';
import { must } from '../support/must.js';

const TOKEN = { 'x-auth-token': 'u1:p1' };
/** createMigrationCloud's [cellgroups] cell_timeout. */
const CELL_TIMEOUT_MS = 5_000;
const LOCK_WAIT_S = 1;

/** A promise and the function that settles it. */
function signal(): { promise: Promise<undefined>; fire: () => void } {
  let fire: () => void = () => undefined;
  const promise = new Promise<undefined>((resolve) => {
    fire = () => {
      resolve(undefined);
    };
  });
  return { promise, fire };
}

/**
 * Locks group `uuid`'s cell row from a connection of the test's own, as a
 * migration batch (or a migration process stopped mid-batch) holds it; on
 * SQLite the transaction holds the file's one write lock. Held until
 * `release`.
 */
async function holdRow(
  cell: Database<CellDatabase>,
  uuid: string,
): Promise<{ release(): Promise<void> }> {
  const released = signal();
  const isLocked = signal();
  const done = cell.db.transaction().execute(async (tx) => {
    const row = await cell.engine
      .lockRows(tx.selectFrom('instance_groups').select('id').where('uuid', '=', uuid))
      .executeTakeFirst();
    expect(row, 'the row to hold').toBeDefined();
    isLocked.fire();
    await released.promise;
  });
  await Promise.race([isLocked.promise, done]);
  return {
    release: async () => {
      released.fire();
      await done;
    },
  };
}

/**
 * Issue 14, item 4: a write to a group whose cell row another transaction
 * holds gives up after `[cellgroups] lock_wait_timeout` with a 409, instead
 * of waiting as long as the row is held (30 s on PostgreSQL, 70 s on
 * MariaDB with the retry on 1205), and changes nothing.
 */
forEachEngine((engine) => {
  describe('a write meets a cell row another transaction holds', () => {
    let cloud: MigrationCloud;
    let server: ApiProcess | undefined;
    let service: GroupService | undefined;
    let held: { release(): Promise<void> } | undefined;
    afterEach(async () => {
      await held?.release();
      held = undefined;
      if (server) {
        server.kill('SIGKILL');
        await server.exited;
        server = undefined;
      }
      await service?.close();
      service = undefined;
      await cloud.destroy();
    });

    it('DELETE answers 409 within cell_timeout + lock_wait_timeout, and the group stays whole', async () => {
      cloud = await createMigrationCloud(engine);
      const cell = must(cloud.cells[1]);
      const [uuid] = await insertLegacyGroups(cell.db, [
        { name: 'held', projectId: 'p1', userId: 'u1', members: ['m1', 'm2'] },
      ]);
      const group = must(uuid);
      server = new ApiProcess(['--config-file', cloud.deployment.config], {
        cwd: cloud.deployment.dir,
        env: {
          OS_DEFAULT__OSAPI_COMPUTE_LISTEN_PORT: '0',
          OS_CELLGROUPS__LOCK_WAIT_TIMEOUT: String(LOCK_WAIT_S),
        },
      });
      const url = `${await server.listening()}/v2.1/os-server-groups/${group}`;
      expect((await request(url, { headers: TOKEN })).status).toBe(200);

      held = await holdRow(cell, group);
      const started = Date.now();
      const refused = await request(url, { method: 'DELETE', headers: TOKEN });
      const elapsed = Date.now() - started;
      expect(refused.status, refused.body).toBe(409);
      const fault = (JSON.parse(refused.body) as { conflictingRequest: { message: string } })
        .conflictingRequest;
      expect(fault).toMatchObject({ code: 409 });
      expect(fault.message).toMatch(/locked in cell cell1.*lock_wait_timeout.*try again/);
      // It waited for the lock (not refused on sight), and no longer than the documented bound.
      expect(elapsed).toBeGreaterThanOrEqual(LOCK_WAIT_S * 1000 - 100);
      expect(elapsed).toBeLessThan(CELL_TIMEOUT_MS + LOCK_WAIT_S * 1000);

      // The same bound for a members write, through the library (no route renames or adds).
      service = GroupService.open(cloud.deployment.api.url, {
        cells: { mappingsTtlMs: 0 },
        lockWaitMs: LOCK_WAIT_S * 1000,
      });
      const alice = requestContext('u1', 'p1');
      const before = Date.now();
      await expect(service.addMembers(alice, group, ['m3'])).rejects.toThrow(LockTimeout);
      expect(Date.now() - before).toBeLessThan(CELL_TIMEOUT_MS + LOCK_WAIT_S * 1000);

      await held.release();
      held = undefined;
      // Whole: still in the cell, members and all (the API shows only members that are live servers).
      const intact = await service.get(alice, group);
      expect(intact.location.kind).toBe('cell');
      expect([...intact.members].sort()).toEqual(['m1', 'm2']);
      // Released: the delete goes through, at once.
      expect((await request(url, { method: 'DELETE', headers: TOKEN })).status).toBe(204);
      expect((await request(url, { headers: TOKEN })).status).toBe(404);
    }, 60_000);

    it('a write to a group in the API database whose row is held answers 409 within the bound', async () => {
      cloud = await createMigrationCloud(engine);
      server = new ApiProcess(['--config-file', cloud.deployment.config], {
        cwd: cloud.deployment.dir,
        env: {
          OS_DEFAULT__OSAPI_COMPUTE_LISTEN_PORT: '0',
          OS_CELLGROUPS__LOCK_WAIT_TIMEOUT: String(LOCK_WAIT_S),
        },
      });
      const base = `${await server.listening()}/v2.1/os-server-groups`;
      const created = await request(base, {
        method: 'POST',
        headers: TOKEN,
        body: { server_group: { name: 'in-api', policies: ['affinity'] } },
      });
      expect(created.status, created.body).toBe(200);
      const group = (JSON.parse(created.body) as { server_group: { id: string } }).server_group.id;
      const url = `${base}/${group}`;

      // As a migration batch holds the API copy of a group it is copying (both databases
      // have instance_groups with id and uuid).
      held = await holdRow(cloud.api as unknown as Database<CellDatabase>, group);
      const started = Date.now();
      const refused = await request(url, { method: 'DELETE', headers: TOKEN });
      const elapsed = Date.now() - started;
      expect(refused.status, refused.body).toBe(409);
      expect(
        (JSON.parse(refused.body) as { conflictingRequest: { message: string } }).conflictingRequest
          .message,
      ).toMatch(/locked in the API database.*lock_wait_timeout.*try again/);
      expect(elapsed).toBeGreaterThanOrEqual(LOCK_WAIT_S * 1000 - 100);
      expect(elapsed).toBeLessThan(CELL_TIMEOUT_MS + LOCK_WAIT_S * 1000);

      await held.release();
      held = undefined;
      expect((await request(url, { headers: TOKEN })).status).toBe(200);
      expect((await request(url, { method: 'DELETE', headers: TOKEN })).status).toBe(204);
      expect((await request(url, { headers: TOKEN })).status).toBe(404);
    }, 60_000);
  });
});
