import { afterEach, it } from 'vitest';
import { openDatabase } from '../../src/db/connection.js';
import type { ApiDatabase } from '../../src/db/schema/api.js';
import { GroupService } from '../../src/groups/service.js';
import { databaseOf, serverUrlFor } from '../support/engines.js';
import { describeGalera } from '../support/galera.js';
import { createMigrationCloud, type MigrationCloud } from '../support/migration-cloud.js';
import { writesAfterCrashBetweenCommits } from '../support/stale-copy.js';

/**
 * Issue 14, item 1 on a cluster: the migration (the real CLI, killed
 * between its commits) on node 1, the writes through node 2, where node 1's
 * locks do not reach (support/stale-copy.ts).
 */
describeGalera('writes through node 2 to a group a crash left in both databases', (cluster) => {
  let cloud: MigrationCloud | undefined;
  let service: GroupService | undefined;
  afterEach(async () => {
    await service?.close();
    await cloud?.destroy();
  });

  it('a delete stays deleted; renames and members stay; a down legacy cell makes a delete 503', async () => {
    cloud = await createMigrationCloud(cluster.engine(1));
    const database = databaseOf(cloud.deployment.api.url);
    service = new GroupService(
      openDatabase<ApiDatabase>(serverUrlFor(cluster.node(2).url, database)),
      { cells: { mappingsTtlMs: 0 } },
    );
    await writesAfterCrashBetweenCommits(cloud, service);
  }, 120_000);
});
