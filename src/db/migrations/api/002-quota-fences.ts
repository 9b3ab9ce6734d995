import type { SchemaMigration } from '../migration.js';
import { novaTable } from '../migration.js';

/**
 * One row per project and counted resource, written by every transaction
 * that counts the resource against its limit and then adds to it.
 *
 * NOTE: on one server the count and the insert are serializable and that
 * is enough. On a multi-writer Galera cluster it is not: isolation holds
 * per node, and two creates on two nodes insert different rows, so
 * certification sees no conflict and both commit past the limit. Writing
 * the same fence row makes them conflict; the loser gets 1213, is retried
 * from its beginning, and counts the winner's group.
 */
export const quotaFences: SchemaMigration = {
  version: 2,
  name: 'quota-fences',
  async up(db, engine) {
    await novaTable(db, engine, 'quota_fences', { softDelete: false })
      .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
      .addColumn('resource', 'varchar(255)', (c) => c.notNull())
      .addColumn('generation', 'integer', (c) => c.notNull().defaultTo(0))
      .addUniqueConstraint('uniq_quota_fences0project_id0resource', ['project_id', 'resource'])
      .execute();
  },
};
