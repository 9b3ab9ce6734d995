import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  cellgroupsManage,
  describeNova,
  nova,
  novaExec,
  novaManage,
} from '../support/nova/nova.js';

/** What a command printed, with the test deployment's own paths and ports left out. */
const printed = (text: string) => text.trimEnd();

/**
 * Every `cellgroups-manage` command, run with Nova's own nova.conf on the
 * databases nova-manage made, answered as `nova-manage` answers the same
 * command where both have it: the cell registry they share is one and the
 * same, so a cell made, renamed or deleted by either is seen so by the other.
 */
describeNova("every cellgroups-manage command, with Nova's nova.conf", () => {
  const extra = `cg_extra_${randomUUID().slice(0, 8)}`;
  let extraUrl = '';

  beforeAll(async () => {
    await novaExec('nova_api', `CREATE DATABASE ${extra}`);
    extraUrl = `mysql+pymysql://root@127.0.0.1:${nova().dbPort}/${extra}?charset=utf8`;
  });

  afterAll(async () => {
    await novaExec('nova_api', `DROP DATABASE IF EXISTS ${extra}`);
  });

  it('reads the schema versions of Nova-managed databases', async () => {
    expect(await cellgroupsManage(['db', 'version'])).toMatchObject({ code: 0, stdout: '1\n' });
    const api = await cellgroupsManage(['api_db', 'version', '--format', 'json']);
    expect(api.code, api.stderr).toBe(0);
    expect(JSON.parse(api.stdout)).toMatchObject({ managed_by: 'nova' });
    expect(await cellgroupsManage(['--version'])).toMatchObject({ code: 0 });
  });

  it('lists the cells as nova-manage lists them, plain and verbose', async () => {
    for (const args of [
      ['cell_v2', 'list_cells'],
      ['cell_v2', 'list_cells', '--verbose'],
    ]) {
      const [theirs, ours] = await Promise.all([novaManage(args), cellgroupsManage(args)]);
      expect(theirs.code, theirs.stderr).toBe(0);
      expect(ours.code, ours.stderr).toBe(0);
      expect(printed(ours.stdout)).toBe(printed(theirs.stdout));
    }
  });

  it('map_cell0 and simple_cell_setup find cell0 set up, as nova-manage does', async () => {
    const args = ['cell_v2', 'map_cell0'];
    const [theirs, ours] = await Promise.all([novaManage(args), cellgroupsManage(args)]);
    expect(ours.code).toBe(theirs.code);
    expect(printed(ours.stdout)).toBe(printed(theirs.stdout));
    // Nova's answers 1 here: it waits for compute hosts, which cellgroups has none of
    // (docs/cli.md, deliberate differences); both find cell0 there first.
    const setup = ['cell_v2', 'simple_cell_setup', '--transport-url', 'none:///'];
    const [novaSetup, ourSetup] = await Promise.all([novaManage(setup), cellgroupsManage(setup)]);
    expect(ourSetup.code, ourSetup.stderr).toBe(0);
    expect(printed(ourSetup.stdout).split('\n')[0]).toBe('Cell0 is already setup');
    expect(printed(novaSetup.stdout).split('\n')[0]).toBe('Cell0 is already setup');
  });

  it('a cell made, renamed, disabled and deleted by cellgroups is seen so by nova-manage', async () => {
    const created = await cellgroupsManage([
      'cell_v2',
      'create_cell',
      '--name',
      'extra',
      '--database_connection',
      extraUrl,
      '--transport-url',
      'none:///extra',
      '--verbose',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const uuid = created.stdout.trim();
    expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
    const listed = async () => (await novaManage(['cell_v2', 'list_cells'])).stdout;
    expect(await listed()).toMatch(new RegExp(`\\| +extra +\\| ${uuid} +\\| +none:/extra +\\|`));

    const updated = await cellgroupsManage([
      'cell_v2',
      'update_cell',
      '--cell_uuid',
      uuid,
      '--name',
      'renamed',
      '--disable',
    ]);
    expect(updated.code, updated.stderr).toBe(0);
    expect(await listed()).toMatch(new RegExp(`\\| +renamed +\\| ${uuid} +\\|.*\\| +True +\\|`));

    // Nova's own delete of the cell cellgroups made, then cellgroups' delete of one Nova made.
    expect((await novaManage(['cell_v2', 'delete_cell', '--cell_uuid', uuid])).code).toBe(0);
    expect(await listed()).not.toContain(uuid);
    const made = await novaManage([
      'cell_v2',
      'create_cell',
      '--name',
      'by-nova',
      '--database_connection',
      extraUrl,
      '--transport-url',
      'none:///by-nova',
      '--verbose',
    ]);
    expect(made.code, made.stderr).toBe(0);
    const novaUuid = made.stdout.trim().split('\n').at(-1) ?? '';
    expect((await cellgroupsManage(['cell_v2', 'list_cells'])).stdout).toContain(novaUuid);
    const deleted = await cellgroupsManage(['cell_v2', 'delete_cell', '--cell_uuid', novaUuid]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(await listed()).not.toContain(novaUuid);
  });

  it('online_data_migrations, api_db sync and the upgrade check run to their ends on Nova’s databases', async () => {
    const migrated = await cellgroupsManage(['db', 'online_data_migrations']);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect((await cellgroupsManage(['api_db', 'sync'])).code).toBe(0);
    const status = await cellgroupsManage(['status', 'upgrade', 'check', '--format', 'json']);
    expect(status.stderr).toBe('');
    const checks = (JSON.parse(status.stdout) as { checks: { check: string; result: string }[] })
      .checks;
    expect(checks.find((c) => c.check === 'API database schema')?.result).toBe('Success');
    expect(checks.find((c) => c.check === 'Cell database schema')?.result).toBe('Success');
  });
});
