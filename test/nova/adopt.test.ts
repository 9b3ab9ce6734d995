import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { RowDataPacket } from 'mysql2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ROOT } from '../support/checkout.js';
import { MANAGE } from '../support/cli.js';
import { lines, matchLines, sessionSteps, Uuids } from '../support/console-blocks.js';
import { writeNewtonGroups, type NewtonGroup } from '../support/nova/newton-groups.js';
import {
  cellgroupsManage,
  describeNova,
  nova,
  novaApi,
  novaExec,
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
}

/** What the README calls Nova's nova.conf and its database host. */
const README_CONFIG = '/etc/nova/nova.conf';
const README_DB_HOST = 'controller';

/** Nova's commands an operator runs; each must answer as it did before cellgroups ran. */
const NOVA_TOOLS: readonly (readonly [string, readonly string[]])[] = [
  ['api_db version', ['api_db', 'version']],
  ['db version', ['db', 'version']],
  ['cell_v2 list_cells', ['cell_v2', 'list_cells']],
];

/**
 * An operator beside a real Nova: legacy groups in Nova's own cell databases,
 * the README's commands run with Nova's own nova.conf, the groups then read
 * through Nova's own API, and Nova's own tools still working afterwards.
 */
describeNova('adopting a real Nova deployment', () => {
  const project = `adopt-${randomUUID().slice(0, 8)}`;
  let groups: NewtonGroup[] = [];
  const before = new Map<string, number>();
  let bin = '';

  beforeAll(async () => {
    // As nova-manage left it: the quota fence is cellgroups' own, made by its api_db sync
    // (another file of this project may have run that sync first).
    await novaExec('nova_api', 'DROP TABLE IF EXISTS quota_fences');
    for (const [name, args] of NOVA_TOOLS) before.set(name, (await novaManage(args)).code);
    before.set('nova-status upgrade check', (await novaStatus(['upgrade', 'check'])).code);
    groups = await writeNewtonGroups(project, 'newton-user');
    // `cellgroups-manage` on PATH, as an installed package puts it there.
    bin = mkdtempSync(path.join(tmpdir(), 'cgt-nova-bin-'));
    const shim = path.join(bin, 'cellgroups-manage');
    writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${MANAGE}" "$@"\n`);
    chmodSync(shim, 0o755);
  });

  afterAll(() => {
    rmSync(bin, { recursive: true, force: true });
  });

  it("runs the README's commands beside Nova and prints what the README shows", async () => {
    // Before: the upgrade check reports the groups left in Nova's cells.
    const pending = await cellgroupsManage(['status', 'upgrade', 'check', '--format', 'json']);
    const groupCheck = (JSON.parse(pending.stdout) as Status).checks.find(
      (c) => c.check === 'Instance group migration',
    );
    expect(groupCheck?.result).toBe('Warning');
    expect(groupCheck?.details).toMatch(
      /cell1 .*: 4 instance group\(s\) not yet in the API database/,
    );
    expect(groupCheck?.details).toMatch(
      /cell0 .*: 1 instance group\(s\) not yet in the API database/,
    );

    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const steps = sessionSteps(readme, 'shell-session');
    expect(steps.length).toBeGreaterThan(3);
    const { configFile, dbPort } = nova();
    const expectedUuids = new Uuids();
    const actualUuids = new Uuids();
    for (const step of steps) {
      const command = step.command.split(README_CONFIG).join(configFile);
      const output = await new Promise<string>((resolve) => {
        execFile(
          'sh',
          ['-c', `exec 2>&1; ${command}`],
          { env: { PATH: `${bin}:${process.env.PATH ?? ''}` }, timeout: 120_000 },
          (_error, stdout) => {
            resolve(stdout);
          },
        );
      });
      const actual = lines(
        actualUuids.normalize(
          output
            .split(configFile)
            .join(README_CONFIG)
            .split(`127.0.0.1:${dbPort}`)
            .join(README_DB_HOST),
        ),
      );
      const expected = lines(expectedUuids.normalize(step.expected.join('\n')));
      if (!matchLines(expected, actual)) {
        expect(actual.join('\n'), `output of \`${step.command}\``).toBe(expected.join('\n'));
      }
    }
  });

  it('leaves no legacy group and no table of its own in the cells, and the check passes', async () => {
    const after = await cellgroupsManage(['status', 'upgrade', 'check', '--format', 'json']);
    const done = (JSON.parse(after.stdout) as Status).checks.find(
      (c) => c.check === 'Instance group migration',
    );
    expect(done?.result).toBe('Success');
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
