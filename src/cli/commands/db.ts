import type { Command } from 'commander';
import { CELL0_UUID, CellMappings } from '../../cells/cell-mappings.js';
import { syncCellDatabase } from '../../cells/setup.js';
import { withDatabase } from '../../db/connection.js';
import {
  findNovaSchema,
  latestVersion,
  readSchemaVersion,
  type NovaSchema,
} from '../../db/migrations/migrator.js';
import type { ApiDatabase } from '../../db/schema/api.js';
import type { CellDatabase } from '../../db/schema/cell.js';
import { describeError } from '../../errors.js';
import { formatOption, type ActionWrapper, type FormatOptions } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { registerOnlineMigrationCommand } from './online-migrations.js';
import { parseVersionArgument, reportSync, reportVersion } from './schema-output.js';

// nova-manage's words for a cell0 it cannot reach, so that runbooks keyed on them still match.
const CELL0_UNREACHABLE = [
  'ERROR: Could not access cell0.',
  'Has the nova_api database been created?',
  'Has the nova_cell0 database been created?',
  'Has "cellgroups-manage api_db sync" been run?',
  'Has "cellgroups-manage cell_v2 map_cell0" been run?',
  'Is [api_database]/connection set in the configuration?',
  'Is the cell0 database connection URL correct?',
].join('\n');

export function registerDbCommands(program: Command, action: ActionWrapper): void {
  const db = program.command('db').description('Manage the cell database schemas.');

  db.command('sync')
    .description(
      'Sync the schema of cell0 and of the local cell ([database] connection) up to VERSION (default: the latest).',
    )
    .argument('[VERSION]', 'schema version to reach')
    .option('--local_cell', 'only sync the local cell database, not cell0')
    .action(
      action(async (ctx, version: string | undefined, options: { local_cell?: boolean }) => {
        const target = parseVersionArgument(version);
        const config = ctx.config();
        if (!options.local_cell) {
          try {
            const cell0 = await withDatabase<
              ApiDatabase,
              Awaited<ReturnType<CellMappings['findByUuid']>>
            >(config.apiDatabaseUrl, (api) => new CellMappings(api).findByUuid(CELL0_UUID));
            if (!cell0?.databaseConnection) {
              ctx.out('WARNING: cell0 mapping not found - not syncing cell0.');
            } else {
              const result = await syncCellDatabase(cell0.databaseConnection, target);
              reportSync(ctx, 'cell0 database', cell0.databaseConnection, result);
            }
          } catch (error) {
            ctx.err(`${CELL0_UNREACHABLE}\nError: ${describeError(error)}`);
            return EXIT.FAILED;
          }
        }
        const result = await syncCellDatabase(config.cellDatabaseUrl, target);
        reportSync(ctx, 'cell database', config.cellDatabaseUrl, result);
        return EXIT.OK;
      }),
    );

  registerOnlineMigrationCommand(db, action);

  db.command('version')
    .description('Print the schema version of the local cell database.')
    .addOption(formatOption())
    .action(
      action(async (ctx, options: FormatOptions) => {
        const [version, nova] = await withDatabase<CellDatabase, [number, NovaSchema | undefined]>(
          ctx.config().cellDatabaseUrl,
          async (cell) => [
            await readSchemaVersion(cell, 'cell'),
            await findNovaSchema(cell, 'cell'),
          ],
        );
        reportVersion(ctx, options.format, version, latestVersion('cell'), nova);
        return EXIT.OK;
      }),
    );
}
