import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CELL0_UUID } from '../../src/cells/cell-mappings.js';
import { openDatabase } from '../../src/db/connection.js';
import type { ApiDatabase } from '../../src/db/schema/api.js';
import type { CellDatabase } from '../../src/db/schema/cell.js';
import { runManage } from '../support/cli.js';
import { createDeployment, type TestDeployment } from '../support/deployment.js';
import { forEachEngine } from '../support/engines.js';
import { insertLegacyGroups } from '../support/legacy.js';

interface CellJson {
  name: string | null;
  uuid: string;
  transport_url: string | null;
  database_connection: string | null;
  disabled: boolean;
}

forEachEngine((engine) => {
  describe('manage cell_v2', () => {
    let d: TestDeployment;
    const manage = (...args: string[]) => runManage([...d.args, ...args]);
    const cells = async (...extra: string[]) =>
      JSON.parse(
        (await manage('cell_v2', 'list_cells', '--format', 'json', ...extra)).stdout,
      ) as CellJson[];

    beforeEach(async () => {
      d = await createDeployment(engine);
      expect((await manage('api_db', 'sync')).code).toBe(0);
    });
    afterEach(async () => {
      await d.destroy();
    });

    it('says to sync the API database first', async () => {
      const other = await createDeployment(engine);
      try {
        const result = await runManage([...other.args, 'cell_v2', 'list_cells']);
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(
          /has no schema yet: run "cellgroups-manage api_db sync" first/,
        );
      } finally {
        await other.destroy();
      }
    });

    it('map_cell0 maps cell0 once and says so the second time', async () => {
      expect(await manage('cell_v2', 'map_cell0', '--database_connection', d.cell0.url)).toEqual({
        code: 0,
        stdout: '',
        stderr: '',
      });
      expect(await manage('cell_v2', 'map_cell0')).toEqual({
        code: 0,
        stdout: 'Cell0 is already setup\n',
        stderr: '',
      });
      expect(await cells()).toEqual([
        {
          name: 'cell0',
          uuid: CELL0_UUID,
          transport_url: 'none:///',
          database_connection: d.cell0.url.replace(/:[^:@/]*@/, ':****@'),
          disabled: false,
        },
      ]);
    });

    it('map_cell0 without a URL derives it from [database] connection', async () => {
      expect((await manage('cell_v2', 'map_cell0')).code).toBe(0);
      const [cell0] = await cells('--verbose');
      expect(cell0?.database_connection).toMatch(/_cell0(\.sqlite)?(\?.*)?$/);
    });

    it('map_cell0 rejects a malformed URL and maps nothing', async () => {
      const result = await manage(
        'cell_v2',
        'map_cell0',
        '--database_connection',
        'oracle://x@h/db',
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^ERROR: Unsupported database URL scheme "oracle"/);
      expect(await cells()).toEqual([]);
    });

    it('create_cell needs a transport URL, checks both URLs, and refuses duplicates with 2', async () => {
      const noTransport = await manage('cell_v2', 'create_cell', '--name', 'cell1');
      expect(noTransport).toMatchObject({
        code: 1,
        stderr:
          'Must specify --transport-url if [DEFAULT]/transport_url is not set in the configuration file.\n',
      });
      const badTransport = await manage('cell_v2', 'create_cell', '--transport-url', 'localhost');
      expect(badTransport).toMatchObject({
        code: 1,
        stderr: 'Invalid transport URL: No scheme specified in "localhost"\n',
      });
      const badDb = await manage(
        'cell_v2',
        'create_cell',
        '--transport-url',
        'rabbit://a/',
        '--database_connection',
        'nope',
      );
      expect(badDb.code).toBe(1);
      expect(badDb.stderr).toMatch(/Malformed database URL "nope"/);
      expect(await cells()).toEqual([]);

      const created = await manage(
        'cell_v2',
        'create_cell',
        '--name',
        'cell1',
        '--transport-url',
        'rabbit://guest:secret@mq:5672/',
        '--database_connection',
        d.cell.url,
        '--verbose',
      );
      expect(created.code).toBe(0);
      const uuid = created.stdout.trim().split('\n').at(-1);
      expect(uuid).toMatch(/^[0-9a-f-]{36}$/);

      const duplicate = await manage(
        'cell_v2',
        'create_cell',
        '--name',
        'again',
        '--transport-url',
        'rabbit://other/',
        '--database_connection',
        d.cell.url,
      );
      expect(duplicate).toMatchObject({
        code: 2,
        stderr: `The specified transport_url and/or database_connection combination already exists for another cell with uuid ${uuid}.\n`,
      });
      expect((await cells()).map((c) => c.name)).toEqual(['cell1']);
    });

    it('create_cell falls back to [database] connection and [DEFAULT] transport_url, and can create a disabled cell', async () => {
      const result = await runManage(
        [...d.args, 'cell_v2', 'create_cell', '--name', 'cfg', '--disabled'],
        {
          env: { OS_DEFAULT__TRANSPORT_URL: 'rabbit://from-config/' },
        },
      );
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(
        /using the value \[DEFAULT\]\/transport_url from the configuration file/,
      );
      expect(result.stdout).toMatch(
        /using the value \[database\]\/connection from the configuration file/,
      );
      expect(await cells('--verbose')).toEqual([
        expect.objectContaining({
          name: 'cfg',
          transport_url: 'rabbit://from-config/',
          database_connection: d.cell.url,
          disabled: true,
        }),
      ]);
    });

    it('list_cells prints a table sorted by name with passwords masked unless --verbose', async () => {
      await manage(
        'cell_v2',
        'create_cell',
        '--name',
        'zeta',
        '--transport-url',
        'rabbit://u:pw1@mq/z',
        '--database_connection',
        'mysql+pymysql://nova:dbpw@db/zeta',
      );
      await manage(
        'cell_v2',
        'create_cell',
        '--name',
        'alpha',
        '--transport-url',
        'rabbit://u:pw2@mq/a',
        '--database_connection',
        'postgresql://nova:dbpw@db/alpha',
      );
      const table = await manage('cell_v2', 'list_cells');
      expect(table.code).toBe(0);
      const lines = table.stdout.trimEnd().split('\n');
      expect(lines).toHaveLength(6);
      expect(lines[1]).toMatch(
        /^\|\s+Name\s+\|\s+UUID\s+\|\s+Transport URL\s+\|\s+Database Connection\s+\|\s+Disabled\s+\|$/,
      );
      expect(lines[3]).toMatch(
        /^\|\s+alpha\s+\|.*rabbit:\/\/u:\*\*\*\*@mq\/a.*postgresql:\/\/nova:\*\*\*\*@db\/alpha.*False\s+\|$/,
      );
      expect(lines[4]).toMatch(/^\|\s+zeta\s+\|/);
      expect(table.stdout).not.toMatch(/pw1|pw2|dbpw/);
      expect((await manage('cell_v2', 'list_cells', '--verbose')).stdout).toMatch(
        /rabbit:\/\/u:pw1@mq\/z/,
      );
    });

    it('update_cell renames, disables, enables, and answers 1/3/4/5 as nova-manage', async () => {
      await manage('cell_v2', 'map_cell0', '--database_connection', d.cell0.url);
      await manage(
        'cell_v2',
        'create_cell',
        '--name',
        'a',
        '--transport-url',
        'rabbit://a/',
        '--database_connection',
        d.cell.url,
      );
      await manage(
        'cell_v2',
        'create_cell',
        '--name',
        'b',
        '--transport-url',
        'rabbit://b/',
        '--database_connection',
        'sqlite:///b.db',
      );
      const a = (await cells()).find((c) => c.name === 'a');
      if (!a) throw new Error('cell a missing');

      expect(await manage('cell_v2', 'update_cell', '--cell_uuid', 'no-such-cell')).toMatchObject({
        code: 1,
        stderr: 'Cell with uuid no-such-cell was not found.\n',
      });
      expect(
        (
          await manage(
            'cell_v2',
            'update_cell',
            '--cell_uuid',
            a.uuid,
            '--transport-url',
            'rabbit://b/',
          )
        ).code,
      ).toBe(3);
      expect(
        await manage('cell_v2', 'update_cell', '--cell_uuid', a.uuid, '--disable', '--enable'),
      ).toMatchObject({
        code: 4,
        stderr: 'Cell cannot be disabled and enabled at the same time.\n',
      });
      expect(
        await manage('cell_v2', 'update_cell', '--cell_uuid', CELL0_UUID, '--disable'),
      ).toMatchObject({
        code: 5,
        stderr: 'Cell0 cannot be disabled.\n',
      });
      expect(
        (
          await manage(
            'cell_v2',
            'update_cell',
            '--cell_uuid',
            a.uuid,
            '--name',
            'renamed',
            '--disable',
          )
        ).code,
      ).toBe(0);
      expect(await manage('cell_v2', 'update_cell', '--cell_uuid', a.uuid, '--disable')).toEqual({
        code: 0,
        stdout: `Cell ${a.uuid} is already disabled\n`,
        stderr: '',
      });
      // Options not given keep their values (nova-manage would put the local [database] connection in).
      expect((await cells('--verbose')).find((c) => c.uuid === a.uuid)).toEqual({
        ...a,
        name: 'renamed',
        disabled: true,
        database_connection: d.cell.url,
      });
      expect((await manage('cell_v2', 'update_cell', '--cell_uuid', a.uuid, '--enable')).code).toBe(
        0,
      );
      expect((await cells()).find((c) => c.uuid === a.uuid)?.disabled).toBe(false);
    });

    it('delete_cell answers 1, 3 and 4 as nova-manage, and --force removes stale mappings', async () => {
      expect(
        (
          await manage(
            'cell_v2',
            'create_cell',
            '--name',
            'c',
            '--transport-url',
            'rabbit://c/',
            '--database_connection',
            d.cell.url,
          )
        ).code,
      ).toBe(0);
      expect((await manage('db', 'sync', '--local_cell')).code).toBe(0);
      const [cell] = await cells();
      if (!cell) throw new Error('cell missing');
      expect(await manage('cell_v2', 'delete_cell', '--cell_uuid', 'nope')).toMatchObject({
        code: 1,
        stderr: 'Cell with uuid nope was not found.\n',
      });

      const api = openDatabase<ApiDatabase>(d.api.url);
      const cellDb = openDatabase<CellDatabase>(d.cell.url);
      try {
        const row = await api.db
          .selectFrom('cell_mappings')
          .select('id')
          .where('uuid', '=', cell.uuid)
          .executeTakeFirstOrThrow();
        await api.db
          .insertInto('instance_mappings')
          .values({ instance_uuid: 'inst-1', cell_id: row.id, project_id: 'p' })
          .execute();
        await cellDb.db
          .insertInto('instances')
          .values({ uuid: 'inst-1', project_id: 'p', host: 'h1' })
          .execute();

        expect(
          await manage('cell_v2', 'delete_cell', '--cell_uuid', cell.uuid, '--force'),
        ).toMatchObject({
          code: 3,
          stderr: `There are existing instances mapped to cell with uuid ${cell.uuid}.\n`,
        });
        await cellDb.db
          .updateTable('instances')
          .set((eb) => ({ deleted: eb.ref('id') }))
          .execute();
        const stale = await manage('cell_v2', 'delete_cell', '--cell_uuid', cell.uuid);
        expect(stale.code).toBe(4);
        expect(stale.stderr).toMatch(
          /^There are instance mappings to cell with uuid .*, but all instances have been deleted in the cell\.\n/,
        );
        expect(await manage('cell_v2', 'delete_cell', '--cell_uuid', cell.uuid, '--force')).toEqual(
          { code: 0, stdout: '', stderr: '' },
        );
        expect(await cells()).toEqual([]);
        expect(await api.db.selectFrom('instance_mappings').selectAll().execute()).toEqual([]);
      } finally {
        await api.close();
        await cellDb.close();
      }
    });

    it('delete_cell refuses (5) a cell holding groups not yet migrated, and deletes it once they moved', async () => {
      expect(
        (
          await manage(
            'cell_v2',
            'create_cell',
            '--name',
            'c',
            '--transport-url',
            'rabbit://c/',
            '--database_connection',
            d.cell.url,
          )
        ).code,
      ).toBe(0);
      expect((await manage('db', 'sync', '--local_cell', '1')).code).toBe(0);
      const [cell] = await cells();
      if (!cell) throw new Error('cell missing');
      const cellDb = openDatabase<CellDatabase>(d.cell.url);
      try {
        await insertLegacyGroups(cellDb.db, [{ name: 'a' }, { name: 'b' }]);
      } finally {
        await cellDb.close();
      }
      expect(await manage('cell_v2', 'delete_cell', '--cell_uuid', cell.uuid, '--force')).toEqual({
        code: 5,
        stdout: '',
        stderr:
          `There are 2 instance group(s) in cell with uuid ${cell.uuid} not yet moved to the API database.\n` +
          "Run 'cellgroups-manage db online_data_migrations' first; deleting the cell would lose them.\n",
      });
      expect((await manage('db', 'online_data_migrations')).code).toBe(0);
      expect((await manage('cell_v2', 'delete_cell', '--cell_uuid', cell.uuid)).code).toBe(0);
      expect(await cells()).toEqual([]);
    });

    it('simple_cell_setup maps and syncs cell0 and the local cell, and a second run changes nothing', async () => {
      expect((await manage('cell_v2', 'simple_cell_setup')).code).toBe(1);
      // On a server, cell0's database (named after the cell's, as in Nova) is the operator's to create.
      if (engine.serverUrl !== undefined) {
        expect(
          (await manage('cell_v2', 'map_cell0', '--database_connection', d.cell0.url)).code,
        ).toBe(0);
      }
      const first = await runManage(
        [...d.args, 'cell_v2', 'simple_cell_setup', '--transport-url', 'rabbit://mq/'],
        {
          env: { OS_DATABASE__CONNECTION: d.cell.url },
        },
      );
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(
        /cell0 database .* schema synced from version 0 to 3.*\nMapped cell cell1 [0-9a-f-]{36}\.\ncell database .* schema synced from version 0 to 3/s,
      );
      const second = await manage(
        'cell_v2',
        'simple_cell_setup',
        '--transport-url',
        'rabbit://mq/',
      );
      expect(second.code).toBe(0);
      expect(second.stdout).toMatch(
        /^Cell0 is already setup\n.*already at version 3\.\nThe local cell is already mapped as .*\n.*already at version 3\.\n$/s,
      );
      expect((await cells()).map((c) => c.name)).toEqual(['cell0', 'cell1']);
      expect((await manage('db', 'version')).stdout).toBe('3\n');
    });
  });
});
