import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runManage } from '../support/cli.js';
import { createDeployment, type TestDeployment } from '../support/deployment.js';
import { forEachEngine } from '../support/engines.js';

forEachEngine((engine) => {
  describe('manage api_db / db', () => {
    let d: TestDeployment;
    beforeEach(async () => {
      d = await createDeployment(engine);
    });
    afterEach(async () => {
      await d.destroy();
    });
    const manage = (...args: string[]) => runManage([...d.args, ...args]);

    it('api_db: version 0, sync, version 2, re-sync does nothing', async () => {
      expect(await manage('api_db', 'version')).toMatchObject({ code: 0, stdout: '0\n' });
      const sync = await manage('api_db', 'sync');
      expect(sync.code).toBe(0);
      expect(sync.stdout).toMatch(
        /^API database .*: schema synced from version 0 to 2: applied 1 \(initial\), 2 \(quota-fences\)\.\n$/,
      );
      expect(await manage('api_db', 'version')).toMatchObject({ code: 0, stdout: '2\n' });
      expect(JSON.parse((await manage('api_db', 'version', '--format', 'json')).stdout)).toEqual({
        version: 2,
        latest: 2,
        managed_by: 'cellgroups',
      });
      const again = await manage('api_db', 'sync', '2');
      expect(again).toMatchObject({ code: 0 });
      expect(again.stdout).toMatch(/schema already at version 2\.\n$/);
    });

    it('api_db sync refuses a bad, unknown or lower version', async () => {
      expect(await manage('api_db', 'sync', 'head')).toMatchObject({
        code: 1,
        stderr: 'ERROR: Invalid schema version "head": expected a whole number such as 1.\n',
      });
      expect((await manage('api_db', 'sync', '7')).stderr).toMatch(/Unknown API schema version 7/);
      await manage('api_db', 'sync');
      const down = await manage('api_db', 'sync', '0');
      expect(down.code).toBe(1);
      expect(down.stderr).toMatch(/downgrade is not supported/);
    });

    it('two api_db sync processes at once both succeed, and the schema is applied once', async () => {
      const [a, b] = await Promise.all([manage('api_db', 'sync'), manage('api_db', 'sync')]);
      expect([a.code, b.code, a.stderr, b.stderr], JSON.stringify([a, b])).toEqual([0, 0, '', '']);
      expect([a.stdout, b.stdout].filter((s) => s.includes('applied 1'))).toHaveLength(1);
      expect((await manage('api_db', 'version')).stdout).toBe('2\n');
    });

    it('db sync without cell0 warns, syncs the local cell, and db version reads it back', async () => {
      await manage('api_db', 'sync');
      const sync = await manage('db', 'sync');
      expect(sync.code).toBe(0);
      expect(sync.stdout).toMatch(
        /^WARNING: cell0 mapping not found - not syncing cell0\.\ncell database .*: schema synced from version 0 to 3/,
      );
      expect(await manage('db', 'version')).toMatchObject({ code: 0, stdout: '3\n' });
    });

    it('db sync syncs cell0 once it is mapped; --local_cell skips it', async () => {
      await manage('api_db', 'sync');
      expect(
        await manage('cell_v2', 'map_cell0', '--database_connection', d.cell0.url),
      ).toMatchObject({ code: 0, stdout: '' });
      const local = await manage('db', 'sync', '--local_cell');
      expect(local.stdout).not.toMatch(/cell0/);
      const sync = await manage('db', 'sync');
      expect(sync.code).toBe(0);
      expect(sync.stdout).toMatch(
        /^cell0 database .*: schema synced from version 0 to 3.*\ncell database .*: schema already at version 3\.\n$/,
      );
    });

    it('db sync reports an API database it cannot read the way nova-manage does', async () => {
      const sync = await manage('db', 'sync');
      expect(sync.code).toBe(1);
      expect(sync.stderr).toMatch(
        /^ERROR: Could not access cell0\.\n.*Has "cellgroups-manage api_db sync" been run\?/s,
      );
    });

    it('refuses to sync the cell schema into the API database', async () => {
      await manage('api_db', 'sync');
      const wrong = await runManage(['--config-file', d.config, 'db', 'sync', '--local_cell'], {
        env: { OS_DATABASE__CONNECTION: d.api.url, OS_API_DATABASE__CONNECTION: d.cell.url },
      });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(
        /is an API database, not a cell database: check \[database\] connection/,
      );
    });
  });
});
