import { afterEach, describe, expect, it } from 'vitest';
import { CellMappings } from '../../src/cells/cell-mappings.js';
import { ADMIN_CONTEXT, requestContext } from '../../src/context.js';
import { CellUnavailable, GroupNotFound } from '../../src/errors.js';
import { GroupService } from '../../src/groups/service.js';
import { forEachEngine } from '../support/engines.js';
import { insertLegacyGroups } from '../support/legacy.js';
import {
  apiGroups,
  createMigrationCloud,
  liveCellRows,
  type MigrationCloud,
} from '../support/migration-cloud.js';
import { must } from '../support/must.js';

/**
 * The real CLI killed between its API commit and its cell commit leaves
 * every group of the batch in both databases (issue 14, item 1). Writes
 * made then must hold: a delete is not undone by the cell copy (reads,
 * lists, the next migration run), and renames and members written to the
 * API copy are what the group keeps.
 */
forEachEngine((engine) => {
  describe('writes to a group left in both databases by a crash', () => {
    let cloud: MigrationCloud;
    let service: GroupService | undefined;
    afterEach(async () => {
      await service?.close();
      service = undefined;
      await cloud.destroy();
    });

    it('a delete stays deleted; renames and members stay; a down legacy cell makes a delete 503', async () => {
      cloud = await createMigrationCloud(engine);
      const uuids = await insertLegacyGroups(must(cloud.cells[1]).db, [
        { name: 'doomed', projectId: 'p1', members: ['d1'] },
        { name: 'renamed', projectId: 'p1', members: ['r1'] },
        { name: 'grown', projectId: 'p1', members: ['g1'] },
        { name: 'kept', projectId: 'p1', members: ['k1'] },
      ]);
      const [doomed, renamed, grown, kept] = [0, 1, 2, 3].map((i) => must(uuids[i])) as [
        string,
        string,
        string,
        string,
      ];
      const crashed = await cloud.manage(
        ['db', 'online_data_migrations', '--batch-size', '10', '--parallel', '1'],
        { CELLGROUPS_FAILPOINT: 'after-api-commit' },
      );
      expect(crashed.code, crashed.stderr).toBe(255); // SIGKILL
      // The window under test: every group in both databases.
      expect((await apiGroups(cloud.api)).size).toBe(4);
      expect(await liveCellRows([must(cloud.cells[1])])).toBeGreaterThanOrEqual(4);

      service = GroupService.open(cloud.deployment.api.url, { cells: { mappingsTtlMs: 0 } });
      const alice = requestContext('u1', 'p1');
      await service.destroy(alice, doomed);
      await service.save(alice, renamed, { name: 'new-name' });
      await service.addMembers(alice, grown, ['g2']);

      await expect(service.get(alice, doomed)).rejects.toThrow(GroupNotFound);
      await expect(service.destroy(alice, doomed)).rejects.toThrow(GroupNotFound);
      const listed = async () =>
        (await must(service).list(ADMIN_CONTEXT, { allProjects: true })).groups;
      expect((await listed()).map((g) => g.uuid).sort()).toEqual([renamed, grown, kept].sort());
      expect((await service.countGroups({ projectId: 'p1' })).count).toBe(3);

      const rerun = await cloud.manage(['db', 'online_data_migrations']);
      expect(rerun.code, rerun.stderr).toBe(0);
      await expect(service.get(alice, doomed)).rejects.toThrow(GroupNotFound);
      const after = await apiGroups(cloud.api);
      expect([...after.keys()].sort()).toEqual([renamed, grown, kept].sort());
      expect(after.get(renamed)?.name).toBe('new-name');
      expect(after.get(grown)?.members).toEqual(['g1', 'g2']);
      expect(await liveCellRows(cloud.cells)).toBe(0);

      // A legacy cell that does not answer may hold a copy: refuse (503), never a 204 it could undo.
      await new CellMappings(cloud.api).create({
        name: 'down',
        transportUrl: 'none:///down',
        databaseConnection: 'postgresql://nobody@127.0.0.1:9/nowhere',
      });
      await expect(service.destroy(alice, kept)).rejects.toThrow(CellUnavailable);
      expect((await service.get(alice, kept)).name).toBe('kept');
    }, 60_000);
  });
});
