import { expect } from 'vitest';
import { openDatabase, type Database } from '../../src/db/connection.js';
import type { ApiDatabase } from '../../src/db/schema/api.js';
import type { CellDatabase } from '../../src/db/schema/cell.js';
import { runManage, type RunResult } from './cli.js';
import { createDeployment, type TestDeployment } from './deployment.js';
import type { TestEngine } from './engines.js';

/**
 * A deployment set up through the real CLI as an operator would before the
 * upgrade: API schema synced, cell0 mapped, the local cell created, both
 * cell databases at the legacy schema (version 1), ready for legacy groups.
 */
export interface MigrationCloud {
  readonly deployment: TestDeployment;
  readonly api: Database<ApiDatabase>;
  /** cell0 and cell1, in that order. */
  readonly cells: readonly Database<CellDatabase>[];
  manage(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<RunResult>;
  destroy(): Promise<void>;
}

export async function createMigrationCloud(
  engine: TestEngine,
  /** Where the API database lives, when not with the cells (a Galera cluster's node). */
  apiEngine: TestEngine = engine,
): Promise<MigrationCloud> {
  const deployment = await createDeployment(
    engine,
    { cellgroups: { cell_timeout: '5' } },
    apiEngine,
  );
  const manage = (args: readonly string[], env?: NodeJS.ProcessEnv) =>
    runManage([...deployment.args, ...args], env ? { env } : {});
  const steps = [
    ['api_db', 'sync'],
    ['cell_v2', 'map_cell0', '--database_connection', deployment.cell0.url],
    ['cell_v2', 'create_cell', '--name', 'cell1', '--transport-url', 'none:///cell1'],
    ['db', 'sync', '1'],
  ];
  for (const step of steps) {
    const result = await manage(step);
    expect(result, step.join(' ')).toMatchObject({ code: 0 });
  }
  const api = openDatabase<ApiDatabase>(deployment.api.url);
  const cells = [deployment.cell0.url, deployment.cell.url].map((url) =>
    openDatabase<CellDatabase>(url),
  );
  return {
    deployment,
    api,
    cells,
    manage,
    async destroy() {
      await Promise.all([api.close(), ...cells.map((c) => c.close())]);
      await deployment.destroy();
    },
  };
}

/** A group as the tests compare it: owner, name, policy and the member set. */
export interface GroupState {
  readonly name: string | null;
  readonly projectId: string | null;
  readonly userId: string | null;
  readonly policy: string | null;
  readonly members: readonly string[];
}

/**
 * The API database's groups by uuid, failing on any duplicate row (a
 * group, policy or member present twice).
 */
export async function apiGroups(api: Database<ApiDatabase>): Promise<Map<string, GroupState>> {
  const [groups, policies, members] = await Promise.all([
    api.db.selectFrom('instance_groups').selectAll().execute(),
    api.db.selectFrom('instance_group_policy').select(['group_id', 'policy']).execute(),
    api.db.selectFrom('instance_group_member').select(['group_id', 'instance_uuid']).execute(),
  ]);
  const policyOf = new Map<number, string | null>();
  for (const p of policies) {
    expect(policyOf.has(p.group_id), `two policy rows for group id ${p.group_id}`).toBe(false);
    policyOf.set(p.group_id, p.policy);
  }
  const membersOf = new Map<number, string[]>();
  for (const m of members) {
    const list = membersOf.get(m.group_id) ?? [];
    expect(list, `member ${m.instance_uuid} twice in group id ${m.group_id}`).not.toContain(
      m.instance_uuid,
    );
    list.push(m.instance_uuid ?? '');
    membersOf.set(m.group_id, list);
  }
  const out = new Map<string, GroupState>();
  for (const g of groups) {
    expect(out.has(g.uuid), `group ${g.uuid} twice`).toBe(false);
    out.set(g.uuid, {
      name: g.name,
      projectId: g.project_id,
      userId: g.user_id,
      policy: policyOf.get(g.id) ?? null,
      members: [...(membersOf.get(g.id) ?? [])].sort(),
    });
  }
  return out;
}

/** Live rows left in the cells' group tables (0 once the migration converged). */
export async function liveCellRows(cells: readonly Database<CellDatabase>[]): Promise<number> {
  let live = 0;
  for (const cell of cells) {
    for (const table of [
      'instance_groups',
      'instance_group_policy',
      'instance_group_member',
    ] as const) {
      const rows = await cell.db.selectFrom(table).select('id').where('deleted', '=', 0).execute();
      live += rows.length;
    }
  }
  return live;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of this run: CELLGROUPS_TEST_SEED when set (to replay a failure), else a fresh one. */
export function runSeed(): number {
  const given = Number.parseInt(process.env.CELLGROUPS_TEST_SEED ?? '', 10);
  return Number.isFinite(given) ? given : Math.floor(Math.random() * 2 ** 31);
}
