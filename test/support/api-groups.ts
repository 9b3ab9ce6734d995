import type { Database } from '../../src/db/connection.js';
import type { ApiDatabase } from '../../src/db/schema/api.js';

/** Direct looks at the API database's group tables, for assertions and crash set-ups. */
export const apiStoreForTests = {
  /** The member rows of a group, in insertion order (duplicates would show). */
  async memberRows(api: Database<ApiDatabase>, uuid: string): Promise<string[]> {
    const rows = await api.db
      .selectFrom('instance_group_member as m')
      .innerJoin('instance_groups as g', 'g.id', 'm.group_id')
      .select('m.instance_uuid')
      .where('g.uuid', '=', uuid)
      .orderBy('m.id')
      .execute();
    return rows.map((r) => r.instance_uuid ?? '');
  },

  /** An API copy of a cell group, as a migration that crashed before its cell commit leaves it. */
  async insertCopy(api: Database<ApiDatabase>, uuid: string, projectId: string): Promise<void> {
    await api.db
      .insertInto('instance_groups')
      .values({
        uuid,
        name: `api-${uuid.slice(0, 8)}`,
        project_id: projectId,
        user_id: 'u1',
        created_at: new Date(),
      })
      .execute();
  },
};
