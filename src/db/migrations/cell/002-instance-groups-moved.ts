import { sql } from 'kysely';
import { UpgradeBlocked } from '../../../errors.js';
import type { SchemaMigration } from '../migration.js';

/** The last cell schema version whose group tables may still hold live groups. */
export const LEGACY_GROUPS_VERSION = 1;

/**
 * A blocker step, as Nova used them: it changes no table, and refuses to
 * run while the cell still holds live groups, so that no later step can
 * assume the legacy group tables are history while they are not.
 */
export const instanceGroupsMoved: SchemaMigration = {
  version: 2,
  name: 'instance-groups-moved',
  async up(db) {
    const { n } = await db
      .selectFrom('instance_groups')
      .select(sql<number | string>`count(*)`.as('n'))
      .where('deleted', '=', 0)
      .executeTakeFirstOrThrow();
    const live = Number(n);
    if (live > 0) {
      throw new UpgradeBlocked(
        `${live} live instance group(s) in this cell database have not been moved to the API database. ` +
          'Run "cellgroups-manage db online_data_migrations" until it reports nothing left, then sync again.',
      );
    }
  },
};
