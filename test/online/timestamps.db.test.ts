import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connection.js';
import { DbTimestamp } from '../../src/db/timestamp.js';
import { forEachEngine } from '../support/engines.js';
import { insertLegacyGroups } from '../support/legacy.js';
import { createMigrationCloud, type MigrationCloud } from '../support/migration-cloud.js';
import { must } from '../support/must.js';

/** A DateTime column as the database holds it, as text: nothing of ours parses it. */
function asText(database: Database<unknown>, column: string) {
  return database.engine.name === 'postgresql'
    ? sql<string>`${sql.ref(column)}::text`
    : database.engine.name === 'mysql'
      ? sql<string>`cast(${sql.ref(column)} as char)`
      : sql<string>`${sql.ref(column)}`;
}

type Raw = Record<string, string | null>;

/** Every timestamp of the live groups, their policies and members, keyed by group uuid. */
async function rawTimes(
  database: Database<unknown>,
  where: 'cell' | 'api',
): Promise<Map<string, Raw>> {
  // The API database has no soft-deleted rows (and no column for them).
  const live = where === 'cell' ? sql`where g.deleted = 0` : sql``;
  const { rows } = await sql<{
    uuid: string;
    c: string | null;
    u: string | null;
    p: string | null;
    m: string | null;
  }>`
    select g.uuid as uuid, ${asText(database, 'g.created_at')} as c, ${asText(database, 'g.updated_at')} as u,
      (select ${asText(database, 'p.created_at')} from instance_group_policy p
        where p.group_id = g.id ${where === 'cell' ? sql`and p.deleted = 0` : sql``}
        order by p.id limit 1) as p
    from instance_groups g ${live}`.execute(database.db);
  return new Map(rows.map((r) => [r.uuid, { created: r.c, updated: r.u, policy: r.p }]));
}

/** When each member joined its group (its first live row), keyed by "group uuid member". */
async function memberTimes(
  database: Database<unknown>,
  where: 'cell' | 'api',
): Promise<Map<string, string | null>> {
  const { rows } =
    where === 'cell'
      ? await sql<{ uuid: string; member: string; t: string | null }>`
          select g.uuid as uuid, m.instance_id as member, ${asText(database, 'm.created_at')} as t
          from instance_group_member m join instance_groups g on g.id = m.group_id
          where g.deleted = 0 and m.deleted = 0 order by m.id`.execute(database.db)
      : await sql<{ uuid: string; member: string; t: string | null }>`
          select g.uuid as uuid, m.instance_uuid as member, ${asText(database, 'm.created_at')} as t
          from instance_group_member m join instance_groups g on g.id = m.group_id
          order by m.id`.execute(database.db);
  const times = new Map<string, string | null>();
  for (const r of rows) {
    const key = `${r.uuid} ${r.member}`;
    if (!times.has(key)) times.set(key, r.t === null ? null : (sameForm({ t: r.t }).t ?? null));
  }
  return times;
}

/** What each engine's text cast prints, reduced to one form to compare (PostgreSQL drops trailing zeros). */
const sameForm = (raw: Raw): Raw =>
  Object.fromEntries(
    Object.entries(raw).map(([k, v]) => [
      k,
      v === null ? null : (DbTimestamp.fromText(v)?.toDbText() ?? `unparsable ${v}`),
    ]),
  );

/**
 * Issue 14, item 6: a moved row keeps the timestamps the cell held, to the
 * microsecond (PostgreSQL and SQLite hold microseconds; MariaDB's DATETIME,
 * as in Nova's schema, holds whole seconds: equal to what the cell held).
 */
forEachEngine((engine) => {
  describe('timestamps moved by the online migration', () => {
    let cloud: MigrationCloud;
    beforeEach(async () => {
      cloud = await createMigrationCloud(engine);
    });
    afterEach(async () => {
      await cloud.destroy();
    });

    it('keep what the cell held, to the microsecond, through the real CLI', async () => {
      const cell = must(cloud.cells[1]);
      const uuids = await insertLegacyGroups(cell.db, [
        { name: 'a', members: ['m-1'] },
        { name: 'b', members: ['m-2', 'm-3'] },
        { name: 'c' },
      ]);
      // Written as text, as Nova (SQLAlchemy) writes them: microseconds that a Date cannot hold.
      const times = [
        ['2026-11-25 09:02:17.552545', '2026-11-26 10:00:00.000001'],
        ['2026-11-25 09:02:17.552999', null],
        ['1999-01-01 00:00:00.999999', '2000-02-29 23:59:59.123456'],
      ] as const;
      for (const [i, uuid] of uuids.entries()) {
        const [created, updated] = must(times[i]);
        const { id } = await cell.db
          .selectFrom('instance_groups')
          .select('id')
          .where('uuid', '=', uuid)
          .executeTakeFirstOrThrow();
        await sql`update instance_groups set created_at = ${created}, updated_at = ${updated} where id = ${id}`.execute(
          cell.db,
        );
        await sql`update instance_group_policy set created_at = ${`2025-05-0${i + 1} 05:05:05.05050${i}`} where group_id = ${id}`.execute(
          cell.db,
        );
      }
      // Each member joined at a time of its own, the second row of a member written twice later still.
      const memberRows = await cell.db
        .selectFrom('instance_group_member')
        .select('id')
        .orderBy('id')
        .execute();
      for (const [i, { id }] of memberRows.entries()) {
        const joined = `2026-11-2${i} 0${i}:00:0${i}.00000${i + 1}`;
        await sql`update instance_group_member set created_at = ${joined} where id = ${id}`.execute(
          cell.db,
        );
      }
      // A member written twice: the move keeps the first row's time.
      const [firstId] = await sql<{
        id: number;
      }>`select id from instance_groups where uuid = ${must(uuids[0])}`
        .execute(cell.db)
        .then((r) => r.rows.map((row) => row.id));
      await sql`insert into instance_group_member (instance_id, group_id, created_at, deleted)
        values ('m-1', ${must(firstId)}, '2026-12-01 00:00:00.999999', 0)`.execute(cell.db);
      const before = await rawTimes(cell as Database<unknown>, 'cell');
      const joinedBefore = await memberTimes(cell as Database<unknown>, 'cell');
      expect(joinedBefore.size).toBe(3);
      if (engine.name !== 'mysql') {
        // The cell really holds the microseconds (else the test would prove nothing).
        expect(sameForm(must(before.get(must(uuids[0]))))).toMatchObject({
          created: '2026-11-25 09:02:17.552545',
          updated: '2026-11-26 10:00:00.000001',
        });
      }

      const result = await cloud.manage(['db', 'online_data_migrations']);
      expect(result.code).toBe(0);

      const after = await rawTimes(cloud.api as Database<unknown>, 'api');
      for (const uuid of uuids) {
        expect(sameForm(must(after.get(uuid))), uuid).toEqual(sameForm(must(before.get(uuid))));
      }
      expect(await memberTimes(cloud.api as Database<unknown>, 'api')).toEqual(joinedBefore);
    });
  });
});

describe('DbTimestamp', () => {
  it('reads and writes a DateTime column text to the microsecond', () => {
    const t = must(DbTimestamp.fromText('2026-11-25 09:02:17.552545'));
    expect(t.toDbText()).toBe('2026-11-25 09:02:17.552545');
    expect(t.toISOString()).toBe('2026-11-25T09:02:17.552Z');
    expect(must(DbTimestamp.fromText('2026-11-25 09:02:17.5')).toDbText()).toBe(
      '2026-11-25 09:02:17.500000',
    );
    expect(must(DbTimestamp.fromText('2026-11-25 09:02:17')).toDbText()).toBe(
      '2026-11-25 09:02:17.000000',
    );
    expect(DbTimestamp.from(new Date('2026-11-25T09:02:17.552Z')).toDbText()).toBe(
      '2026-11-25 09:02:17.552000',
    );
  });
});
