import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CellMappings } from '../../src/cells/cell-mappings.js';
import { wrapText } from '../../src/cli/commands/status.js';
import { withDatabase } from '../../src/db/connection.js';
import type { ApiDatabase } from '../../src/db/schema/api.js';
import type { CellDatabase } from '../../src/db/schema/cell.js';
import { runManage, type RunResult } from '../support/cli.js';
import { createDeployment, type TestDeployment } from '../support/deployment.js';
import { forEachEngine } from '../support/engines.js';
import { insertLegacyGroups } from '../support/legacy.js';
import { must } from '../support/must.js';

interface CheckJson {
  check: string;
  result: 'Success' | 'Warning' | 'Failure';
  details: string | null;
}

interface StatusJson {
  checks: CheckJson[];
  exit_code: number;
}

const NAMES = [
  'Cells v2',
  'API database schema',
  'Instance group migration',
  'Cell database schema',
];

/** The parsed JSON document, checked to agree with the exit status. */
function parsed(result: RunResult): StatusJson {
  const json = JSON.parse(result.stdout) as StatusJson;
  expect(json.exit_code).toBe(result.code);
  expect(json.checks.map((c) => c.check)).toEqual(NAMES);
  return json;
}

const success = (check: string): CheckJson => ({ check, result: 'Success', details: null });

/** A server that refuses every connection (port 9, discard), with a password to be masked. */
const DEAD_URL = 'postgresql://nobody:hunter2@127.0.0.1:9/x';
const DEAD_SHOWN = 'postgresql://nobody:****@127.0.0.1:9/x';

forEachEngine((engine) => {
  describe('manage status upgrade check', () => {
    let d: TestDeployment;
    const manage = (...args: string[]) => runManage([...d.args, ...args]);
    const check = (...args: string[]) => manage('status', 'upgrade', 'check', ...args);
    const checkJson = async () => {
      const result = await check('--format', 'json');
      expect(result.stderr).toBe('');
      return parsed(result);
    };

    /** API schema, cell0 and cell1 mapped; returns cell1's uuid. */
    const mapCells = async (): Promise<string> => {
      expect((await manage('api_db', 'sync')).code).toBe(0);
      expect(
        (await manage('cell_v2', 'map_cell0', '--database_connection', d.cell0.url)).code,
      ).toBe(0);
      const created = await manage(
        'cell_v2',
        'create_cell',
        '--name',
        'cell1',
        '--transport-url',
        'rabbit://mq/',
        '--database_connection',
        d.cell.url,
        '--verbose',
      );
      expect(created.code).toBe(0);
      return must(created.stdout.trim().split('\n').at(-1), 'cell uuid');
    };

    beforeEach(async () => {
      d = await createDeployment(engine);
    });
    afterEach(async () => {
      await d.destroy();
    });

    it('fails every check that needs an API schema when there is none (2)', async () => {
      const json = await checkJson();
      expect(json.exit_code).toBe(2);
      const noSchema =
        /^The API database \S+ has no schema yet\. Run command 'cellgroups-manage api_db sync' and then retry\.$/;
      expect(json.checks.map((c) => c.result)).toEqual([
        'Failure',
        'Failure',
        'Failure',
        'Failure',
      ]);
      expect(json.checks[1]?.details).toBe(
        "The API database is at schema version 0, this cellgroups needs 2: run 'cellgroups-manage api_db sync'.",
      );
      for (const c of [json.checks[0], json.checks[2], json.checks[3]]) {
        expect(c?.details).toMatch(noSchema);
        expect(c?.details).toContain(d.api.url.replace(/:[^:@/]*@/, ':****@'));
      }
    });

    it("answers Nova's Cells v2 failures: no mappings, no cell0, only cell0 (2)", async () => {
      expect((await manage('api_db', 'sync')).code).toBe(0);
      expect((await checkJson()).checks).toEqual([
        {
          check: 'Cells v2',
          result: 'Failure',
          details:
            "No cell mappings found. Run command 'cellgroups-manage cell_v2 simple_cell_setup' and then retry.",
        },
        success('API database schema'),
        success('Instance group migration'),
        success('Cell database schema'),
      ]);

      expect(
        (await manage('cell_v2', 'map_cell0', '--database_connection', d.cell0.url)).code,
      ).toBe(0);
      expect((await manage('db', 'sync')).code).toBe(0);
      const onlyCell0 = await checkJson();
      expect(onlyCell0.exit_code).toBe(2);
      expect(onlyCell0.checks[0]).toEqual({
        check: 'Cells v2',
        result: 'Failure',
        details:
          'There needs to be at least two cell mappings, one for cell0 and one for your first cell. ' +
          "Run command 'cellgroups-manage cell_v2 simple_cell_setup' and then retry.",
      });

      const other = await createDeployment(engine);
      try {
        const run = (...args: string[]) => runManage([...other.args, ...args]);
        expect((await run('api_db', 'sync')).code).toBe(0);
        expect(
          (
            await run(
              'cell_v2',
              'create_cell',
              '--name',
              'cell1',
              '--transport-url',
              'rabbit://mq/',
              '--database_connection',
              other.cell.url,
            )
          ).code,
        ).toBe(0);
        expect((await run('db', 'sync', '--local_cell')).code).toBe(0);
        const noCell0 = parsed(await run('status', 'upgrade', 'check', '--format', 'json'));
        expect(noCell0.exit_code).toBe(2);
        expect(noCell0.checks).toEqual([
          {
            check: 'Cells v2',
            result: 'Failure',
            details:
              "No cell0 mapping found. Run command 'cellgroups-manage cell_v2 map_cell0' and then retry.",
          },
          success('API database schema'),
          success('Instance group migration'),
          success('Cell database schema'),
        ]);
      } finally {
        await other.destroy();
      }
    });

    it('warns (1) while groups wait in a cell and its schema is behind, and passes (0) once migrated and synced', async () => {
      const uuid = await mapCells();
      // cell0 at the latest schema; cell1 held at 1, where live legacy groups may still be.
      expect(
        (
          await runManage([...d.args, 'db', 'sync', '--local_cell'], {
            env: { OS_DATABASE__CONNECTION: d.cell0.url },
          })
        ).code,
      ).toBe(0);
      expect((await manage('db', 'sync', '1', '--local_cell')).code).toBe(0);
      await withDatabase<CellDatabase, string[]>(d.cell.url, (cell) =>
        insertLegacyGroups(cell.db, [
          { name: 'a', members: ['i1'] },
          { name: 'b' },
          { name: 'c', policies: ['affinity'] },
          { name: 'gone', deleted: true },
        ]),
      );

      const table = await check();
      expect(table).toEqual({
        code: 1,
        stderr: '',
        stdout: `+-------------------------------------------------------------------+
| Upgrade Check Results                                             |
+-------------------------------------------------------------------+
| Check: Cells v2                                                   |
| Result: Success                                                   |
| Details: None                                                     |
+-------------------------------------------------------------------+
| Check: API database schema                                        |
| Result: Success                                                   |
| Details: None                                                     |
+-------------------------------------------------------------------+
| Check: Instance group migration                                   |
| Result: Warning                                                   |
| Details: cell1 (${uuid}): 3 instance |
|   group(s) not yet in the API database                            |
| Run 'cellgroups-manage db online_data_migrations'.                |
+-------------------------------------------------------------------+
| Check: Cell database schema                                       |
| Result: Warning                                                   |
| Details: cell1 (${uuid}): the cell   |
|   database is at schema version 1, this cellgroups needs 3        |
| Run 'cellgroups-manage db sync' for each of them once             |
|   'cellgroups-manage db online_data_migrations' reports           |
|   nothing left to migrate.                                        |
+-------------------------------------------------------------------+
`,
      });

      expect((await manage('db', 'online_data_migrations')).code).toBe(0);
      const migrated = await checkJson();
      expect(migrated.exit_code).toBe(1);
      expect(migrated.checks.slice(2)).toEqual([
        success('Instance group migration'),
        {
          check: 'Cell database schema',
          result: 'Warning',
          details:
            `cell1 (${uuid}): the cell database is at schema version 1, this cellgroups needs 3\n` +
            "Run 'cellgroups-manage db sync' for each of them once 'cellgroups-manage db online_data_migrations' reports nothing left to migrate.",
        },
      ]);

      expect((await manage('db', 'sync', '--local_cell')).code).toBe(0);
      expect(await checkJson()).toEqual({ checks: NAMES.map(success), exit_code: 0 });
    });

    it('fails (2) naming a cell whose database does not answer, and still checks the others', async () => {
      const uuid = await mapCells();
      expect((await manage('db', 'sync', '1')).code).toBe(0);
      await withDatabase<CellDatabase, string[]>(d.cell.url, (cell) =>
        insertLegacyGroups(cell.db, [{ name: 'a' }]),
      );
      const dead = await manage(
        'cell_v2',
        'create_cell',
        '--name',
        'dead',
        '--transport-url',
        'rabbit://dead/',
        '--database_connection',
        DEAD_URL,
        '--verbose',
      );
      expect(dead.code).toBe(0);
      const deadUuid = must(dead.stdout.trim().split('\n').at(-1), 'cell uuid');
      // A URL cellgroups cannot open at all (create_cell refuses it; Nova's registry may hold one).
      const odd = await withDatabase<ApiDatabase, string>(d.api.url, async (api) => {
        const cell = await new CellMappings(api).create({
          name: 'odd',
          transportUrl: 'rabbit://odd/',
          databaseConnection: 'mysql+pymysql://nova:pw@db/nova?read_default_file=/etc/my.cnf',
        });
        return cell.uuid;
      });

      const result = await check('--format', 'json');
      expect(result.stderr).toBe('');
      expect(result.stdout).not.toMatch(/hunter2|:pw@/);
      const json = parsed(result);
      expect(json.exit_code).toBe(2);
      expect(json.checks.slice(0, 2)).toEqual([
        success('Cells v2'),
        success('API database schema'),
      ]);
      const [groups, schemas] = json.checks.slice(2);
      const deadLine = new RegExp(
        `^dead \\(${deadUuid}\\) could not be checked: .*${DEAD_SHOWN.replace(/[.*?]/g, '\\$&')}.*ECONNREFUSED`,
        'm',
      );
      const oddLine = new RegExp(
        `^odd \\(${odd}\\) could not be checked: Unknown option "read_default_file" in database URL`,
        'm',
      );
      expect(groups).toMatchObject({ check: 'Instance group migration', result: 'Failure' });
      const groupLines = must(groups?.details, 'details').split('\n');
      expect(groupLines).toEqual([
        `cell1 (${uuid}): 1 instance group(s) not yet in the API database`,
        expect.stringMatching(deadLine),
        expect.stringMatching(oddLine),
        "Run 'cellgroups-manage db online_data_migrations'.",
      ]);
      expect(schemas).toMatchObject({ check: 'Cell database schema', result: 'Failure' });
      expect(must(schemas?.details, 'details').split('\n')).toEqual([
        `cell0 (00000000-0000-0000-0000-000000000000): the cell database is at schema version 1, this cellgroups needs 3`,
        `cell1 (${uuid}): the cell database is at schema version 1, this cellgroups needs 3`,
        expect.stringMatching(deadLine),
        expect.stringMatching(oddLine),
        expect.stringMatching(/^Run 'cellgroups-manage db sync'/),
      ]);
    });

    it('fails every check (2), naming the API database with its password masked, when it does not answer', async () => {
      const result = await runManage(
        [...d.args, 'status', 'upgrade', 'check', '--format', 'json'],
        {
          env: { OS_API_DATABASE__CONNECTION: DEAD_URL },
        },
      );
      expect(result.stderr).toBe('');
      expect(result.stdout).not.toMatch(/hunter2/);
      const json = parsed(result);
      expect(json.exit_code).toBe(2);
      for (const c of json.checks) {
        expect(c.result).toBe('Failure');
        expect(c.details).toContain(DEAD_SHOWN);
        expect(c.details).toMatch(/ECONNREFUSED.*Check \[api_database\] connection/);
      }
      const table = await runManage([...d.args, 'status', 'upgrade', 'check'], {
        env: { OS_API_DATABASE__CONNECTION: DEAD_URL },
      });
      expect(table.code).toBe(2);
      expect(table.stderr).toBe('');
      expect(table.stdout).toMatch(/^\| Result: Failure +\|$/m);
      expect(table.stdout).not.toMatch(/at .*\.js:\d+/); // no stack trace
    });
  });
});

describe('manage status upgrade check, without a database', () => {
  it('answers 255, not a check status, for a configuration error', async () => {
    const result = await runManage([
      '--config-file',
      '/nonexistent/cellgroups.conf',
      'status',
      'upgrade',
      'check',
    ]);
    expect(result).toEqual({
      code: 255,
      stdout: '',
      stderr: 'ERROR: Config file /nonexistent/cellgroups.conf does not exist.\n',
    });
  });

  it("wraps details as Python's textwrap.wrap(text, 60, subsequent_indent='  ')", () => {
    // Expected values are Python 3.11's output for the same calls.
    expect(
      wrapText(
        "The API database is at schema version 0, this cellgroups needs 2: run 'cellgroups-manage api_db sync'.",
        60,
        '  ',
      ),
    ).toEqual([
      'The API database is at schema version 0, this cellgroups',
      "  needs 2: run 'cellgroups-manage api_db sync'.",
    ]);
    expect(
      wrapText(
        'a policy of anti-affinity\tand supercalifragilisticexpialidocious-words-that-never-end-anywhere-at-all',
        20,
        '  ',
      ),
    ).toEqual([
      'a policy of anti-',
      '  affinity       and',
      '  supercalifragilist',
      '  icexpialidocious-',
      '  words-that-never-',
      '  end-anywhere-at-',
      '  all',
    ]);
    expect(wrapText('', 60, '  ')).toEqual([]);
  });
});
