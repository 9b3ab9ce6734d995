import { afterEach, describe, it } from 'vitest';
import { GroupService } from '../../src/groups/service.js';
import { forEachServerEngine } from '../support/engines.js';
import { createMigrationCloud, runSeed, type MigrationCloud } from '../support/migration-cloud.js';
import { raceTheMigration } from '../support/race.js';

const ROUNDS = 4;
const WRITERS = 4;

/** Writers racing the real CLI's migration on one server (see support/race.ts). */
forEachServerEngine((engine) => {
  describe('writers racing the online migration', () => {
    let cloud: MigrationCloud;
    afterEach(async () => {
      await cloud.destroy();
    });

    it(`loses and resurrects nothing over ${ROUNDS} seeded rounds`, async () => {
      const seed = runSeed();
      console.log(`race on ${engine.label}: CELLGROUPS_TEST_SEED=${seed}`);
      cloud = await createMigrationCloud(engine);
      const service = GroupService.open(cloud.deployment.api.url, {
        cells: { mappingsTtlMs: 0 },
      });
      try {
        const stats = await raceTheMigration(cloud, {
          rounds: ROUNDS,
          groupsPerCell: 60,
          writers: Array.from({ length: WRITERS }, () => service),
          seed,
        });
        console.log(
          `${engine.label}: ${stats.writes} writes (${stats.onCellCopy} found the group in a cell, ${stats.onApiCopy} in the API database)`,
        );
      } finally {
        await service.close();
      }
    }, 240_000);
  });
});
