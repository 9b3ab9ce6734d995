import { afterEach, describe, it } from 'vitest';
import { GroupService } from '../../src/groups/service.js';
import { forEachEngine } from '../support/engines.js';
import { createMigrationCloud, type MigrationCloud } from '../support/migration-cloud.js';
import { writesAfterCrashBetweenCommits } from '../support/stale-copy.js';

/** Issue 14, item 1: a group left in both databases by a crash (see support/stale-copy.ts). */
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
      service = GroupService.open(cloud.deployment.api.url, { cells: { mappingsTtlMs: 0 } });
      await writesAfterCrashBetweenCommits(cloud, service);
    }, 60_000);
  });
});
