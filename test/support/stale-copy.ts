import { expect } from 'vitest';
import { CellMappings } from '../../src/cells/cell-mappings.js';
import { ADMIN_CONTEXT, requestContext } from '../../src/context.js';
import { CellUnavailable, GroupNotFound } from '../../src/errors.js';
import type { GroupService } from '../../src/groups/service.js';
import { insertLegacyGroups } from './legacy.js';
import { apiGroups, liveCellRows, type MigrationCloud } from './migration-cloud.js';
import { must } from './must.js';

/**
 * The real CLI killed between its API commit and its cell commit leaves
 * every group of the batch in both databases (issue 14, item 1). Writes
 * made then must hold: a delete is not undone by the cell copy (reads,
 * lists, counts, the next migration run), renames and members written to
 * the API copy are what the group keeps, and a delete with a legacy cell
 * down is refused rather than answered and undone later. `service` may
 * reach the API database through another node of a cluster.
 */
export async function writesAfterCrashBetweenCommits(
  cloud: MigrationCloud,
  service: GroupService,
): Promise<void> {
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

  const alice = requestContext('u1', 'p1');
  await service.destroy(alice, doomed);
  await service.save(alice, renamed, { name: 'new-name' });
  await service.addMembers(alice, grown, ['g2']);

  await expect(service.get(alice, doomed)).rejects.toThrow(GroupNotFound);
  await expect(service.destroy(alice, doomed)).rejects.toThrow(GroupNotFound);
  const listed = (await service.list(ADMIN_CONTEXT, { allProjects: true })).groups;
  expect(listed.map((g) => g.uuid).sort()).toEqual([renamed, grown, kept].sort());
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
}
