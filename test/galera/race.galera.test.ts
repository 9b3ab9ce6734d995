import { afterEach, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connection.js';
import { conflictRetries } from '../../src/db/retry.js';
import type { ApiDatabase } from '../../src/db/schema/api.js';
import { GroupService } from '../../src/groups/service.js';
import { databaseOf, serverUrlFor } from '../support/engines.js';
import { describeGalera } from '../support/galera.js';
import { createMigrationCloud, runSeed, type MigrationCloud } from '../support/migration-cloud.js';
import { raceTheMigration } from '../support/race.js';

const SEEDS = 4;
const ROUNDS = 3;
const WRITERS = 4;

/**
 * The migration race test (support/race.ts) with the API database on a
 * 3-node cluster: the migration (the real CLI) talks to node 1, the writers
 * to nodes 2 and 3, so the row locks that protect the move on one server
 * do not reach them; certification conflicts (1213), the fence and touched
 * rows, and causal reads must do it instead.
 */
describeGalera('writers on nodes 2 and 3 racing the migration on node 1', (cluster) => {
  let cloud: MigrationCloud | undefined;
  const services: GroupService[] = [];
  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.close()));
    await cloud?.destroy();
  });

  it(`loses and resurrects nothing over ${SEEDS} seeds of ${ROUNDS} rounds`, async () => {
    const first = runSeed();
    let writes = 0;
    let migrationRetries = 0;
    const retriesBefore = conflictRetries();
    for (let s = 0; s < SEEDS; s++) {
      const seed = first + s;
      console.log(`Galera race: CELLGROUPS_TEST_SEED=${seed}`);
      cloud = await createMigrationCloud(cluster.engine(1));
      const database = databaseOf(cloud.deployment.api.url);
      for (const index of [2, 3]) {
        services.push(
          new GroupService(
            openDatabase<ApiDatabase>(serverUrlFor(cluster.node(index).url, database)),
            { cells: { mappingsTtlMs: 0 } },
          ),
        );
      }
      const stats = await raceTheMigration(cloud, {
        rounds: ROUNDS,
        groupsPerCell: 40,
        writers: Array.from({ length: WRITERS }, (_, w) => services[w % services.length]).filter(
          (svc): svc is GroupService => svc !== undefined,
        ),
        seed,
      });
      writes += stats.writes;
      migrationRetries += stats.migrationRetries;
      await Promise.all(services.splice(0).map((svc) => svc.close()));
      await cloud.destroy();
      cloud = undefined;
    }
    console.log(
      `Galera race: ${writes} writes over ${SEEDS * ROUNDS} rounds; retried after 1213: ` +
        `${conflictRetries() - retriesBefore} writer transaction(s), ${migrationRetries} migration batch(es)`,
    );
    expect(writes).toBeGreaterThan(0);
  }, 600_000);
});
