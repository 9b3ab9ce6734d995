import { randomUUID } from 'node:crypto';
import type { RowDataPacket } from 'mysql2';
import { beforeAll, expect, it } from 'vitest';
import { writeNewtonGroups, type NewtonGroup } from '../support/nova/newton-groups.js';
import {
  cellgroupsManage,
  describeNova,
  novaApi,
  novaManage,
  novaSql,
  novaStatus,
} from '../support/nova/nova.js';

interface Status {
  exit_code: number;
  checks: { check: string; result: string; details: string }[];
}

interface Count extends RowDataPacket {
  n: number;
}

interface Named extends RowDataPacket {
  name: string;
}

interface ApiGroup {
  id: string;
  name: string;
  policies: string[];
  members: string[];
  project_id?: string;
}

/**
 * An operator beside a real Nova: legacy groups in Nova's own cell databases,
 * cellgroups run with Nova's own nova.conf, the groups then read through
 * Nova's own API, and Nova's own tools still working afterwards.
 */
describeNova('adopting a real Nova deployment', () => {
  const project = `adopt-${randomUUID().slice(0, 8)}`;
  let groups: NewtonGroup[] = [];
  const before = new Map<string, number>();

  beforeAll(async () => {
    // What Nova's tools answer before cellgroups has touched anything: the same afterwards.
    for (const [name, args] of NOVA_TOOLS) before.set(name, (await novaManage(args)).code);
    before.set('nova-status upgrade check', (await novaStatus(['upgrade', 'check'])).code);
    groups = await writeNewtonGroups(project, 'newton-user');
  });

  it("reads Nova's schemas with Nova's nova.conf", async () => {
    const api = await cellgroupsManage(['api_db', 'version']);
    expect(api.stderr).toBe('');
    expect(api.code).toBe(0);
    const cells = await cellgroupsManage(['cell_v2', 'list_cells', '--format', 'json']);
    expect(cells.code).toBe(0);
    expect((JSON.parse(cells.stdout) as { name: string }[]).map((c) => c.name).sort()).toEqual([
      'cell0',
      'cell1',
    ]);
  });

  it('reports the legacy groups in the upgrade check, then moves them all', async () => {
    const pending = await cellgroupsManage(['status', 'upgrade', 'check', '--format', 'json']);
    const checks = JSON.parse(pending.stdout) as Status;
    const groupCheck = checks.checks.find((c) => c.check === 'Instance group migration');
    expect(groupCheck?.result).not.toBe('Success');
    expect(groupCheck?.details).toMatch(/online_data_migrations/);

    const migrated = await cellgroupsManage(['db', 'online_data_migrations']);
    expect(migrated.stderr).not.toMatch(/\n\s+at /);
    expect(migrated.code).toBe(0);

    const after = await cellgroupsManage(['status', 'upgrade', 'check', '--format', 'json']);
    const done = (JSON.parse(after.stdout) as Status).checks.find(
      (c) => c.check === 'Instance group migration',
    );
    expect(done?.result).toBe('Success');

    // In Nova's cells: nothing live is left, and no table of cellgroups' own appeared.
    for (const db of ['nova', 'nova_cell0'] as const) {
      const live = await novaSql<Count>(
        db,
        'SELECT count(*) AS n FROM instance_groups WHERE deleted = 0 AND project_id = ?',
        [project],
      );
      expect(Number(live[0]?.n)).toBe(0);
      const tables = await novaSql<Named>(
        db,
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ? AND table_name LIKE 'cellgroups%'",
        [db],
      );
      expect(tables).toEqual([]);
    }
  });

  it("shows the moved groups through Nova's own API, as Nova would", async () => {
    const listed = await novaApi('GET', '/os-server-groups', { user: 'newton-user', project });
    expect(listed.status).toBe(200);
    const byId = new Map(
      (listed.body as { server_groups: ApiGroup[] }).server_groups.map((g) => [g.id, g]),
    );
    expect([...byId.keys()].sort()).toEqual(groups.map((g) => g.uuid).sort());
    for (const group of groups) {
      const shown = await novaApi('GET', `/os-server-groups/${group.uuid}`, {
        user: 'newton-user',
        project,
      });
      expect(shown.status).toBe(200);
      const body = (shown.body as { server_group: ApiGroup }).server_group;
      expect(body.name).toBe(group.name);
      // One policy per group in the API database, as Nova itself keeps it.
      expect(body.policies).toEqual([group.policies[0]]);
    }
  });

  it("leaves Nova's own tools working", async () => {
    for (const [name, args] of NOVA_TOOLS) {
      const result = await novaManage(args);
      expect({ name, code: result.code, stderr: result.stderr.slice(-500) }).toMatchObject({
        name,
        code: before.get(name),
      });
    }
    // Archiving moves the rows the migration soft-deleted into Nova's shadow tables: exit 1 says
    // it archived some, 0 that there was nothing; a table Nova does not know would crash it.
    const archive = await novaManage([
      'db',
      'archive_deleted_rows',
      '--all-cells',
      '--until-complete',
    ]);
    expect(archive.stderr).not.toMatch(/Traceback|KeyError/);
    expect([0, 1]).toContain(archive.code);
    const status = await novaStatus(['upgrade', 'check']);
    expect(status.code).toBe(before.get('nova-status upgrade check'));
    expect(status.stdout).not.toMatch(/Traceback/);
  });
});

/** Nova's commands an operator runs; each must answer as it did before cellgroups ran. */
const NOVA_TOOLS: readonly (readonly [string, readonly string[]])[] = [
  ['api_db version', ['api_db', 'version']],
  ['db version', ['db', 'version']],
  ['cell_v2 list_cells', ['cell_v2', 'list_cells']],
];
