import { sql, type RawBuilder } from 'kysely';

/**
 * The list order, in SQL: creation order, ties by id. A group without a
 * creation time sorts as the epoch, matching `compareGroups`.
 */
const EPOCH = new Date(0);

export function createdAtKey(): RawBuilder<Date> {
  return sql<Date>`coalesce(created_at, ${EPOCH})`;
}
