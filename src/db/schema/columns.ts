import type { ColumnType, Generated, SqlBool } from 'kysely';

/** Nova's integer auto-increment primary key. */
export type Id = Generated<number>;

/** Nova's `DateTime` (naive UTC); every engine hands back a `Date`, a DbTimestamp (to the microsecond) where it read one. */
export type Timestamp = ColumnType<Date | null, Date | null | undefined, Date | null>;

/** Nova's `Boolean`: PostgreSQL answers a boolean, the others 0 or 1. */
export type Bool = ColumnType<SqlBool | null, boolean | undefined, boolean>;

/** Nova's soft-delete marker: 0 while live, the row's own id once deleted. */
export type SoftDeleted = ColumnType<number, number | undefined, number>;

/** created_at / updated_at, as Nova's TimestampMixin. */
export interface Timestamps {
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** deleted_at / deleted, as oslo.db's SoftDeleteMixin. */
export interface SoftDelete {
  deleted_at: Timestamp;
  deleted: SoftDeleted;
}
