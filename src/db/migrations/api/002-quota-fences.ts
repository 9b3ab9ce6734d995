import type { SchemaMigration } from '../migration.js';
import { novaTable } from '../migration.js';

/**
 * One row per project and counted resource, written by every transaction
 * that counts the resource against its limit and then adds to it.
 *
 * NOTE: the fence is what makes a count-then-add exact. On one server the
 * racing transactions queue on the row's lock, and each counts after the
 * one before it committed. On a multi-writer Galera cluster the lock holds
 * only on its node (and so does serializable isolation), but two
 * transactions that write the same row conflict at certification: the
 * loser gets 1213, is retried from its beginning, and counts the winner's
 * group.
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
