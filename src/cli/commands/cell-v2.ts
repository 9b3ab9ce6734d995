import type { Command } from 'commander';
import { CellMappings, transportUrlProblem, type CellMapping } from '../../cells/cell-mappings.js';
import { deleteCell, mapCell0, simpleCellSetup, updateCell } from '../../cells/setup.js';
import { countLiveInCellDatabase } from '../../groups/cell-store.js';
import { maskPassword, parseDatabaseUrl } from '../../db/url.js';
import { CellExists, CellNotFound } from '../../errors.js';
import {
  formatOption,
  type ActionWrapper,
  type CommandContext,
  type FormatOptions,
} from '../command.js';
import { EXIT } from '../exit-codes.js';
import { maskLikeNovaManage, renderJson, renderTable } from '../output.js';
import { withApiDatabase } from './api-database.js';
import { reportSync } from './schema-output.js';

/** Runs `work` with the cell registry of the configured API database. */
function withCells<T>(ctx: CommandContext, work: (cells: CellMappings) => Promise<T>): Promise<T> {
  return withApiDatabase(ctx, (api) => work(new CellMappings(api)));
}

/** `--transport-url`, else `[DEFAULT] transport_url`, checked; undefined after printing why not. */
function transportUrlFrom(ctx: CommandContext, given: string | undefined): string | undefined {
  let url = given;
  if (!url) {
    url = ctx.config().values.DEFAULT.transport_url;
    if (!url) {
      ctx.err(
        'Must specify --transport-url if [DEFAULT]/transport_url is not set in the configuration file.',
      );
      return undefined;
    }
    ctx.out(
      '--transport-url not provided in the command line, using the value [DEFAULT]/transport_url from the configuration file',
    );
  }
  const problem = transportUrlProblem(url);
  if (problem) {
    ctx.err(problem);
    return undefined;
  }
  return url;
}

/** A database URL from the command line, checked before it is stored. */
function checkedDatabaseUrl(url: string): string {
  parseDatabaseUrl(url);
  return url;
}

function cellJson(cell: CellMapping, verbose: boolean) {
  const mask = (url: string | null) => (url === null || verbose ? url : maskPassword(url));
  return {
    name: cell.name,
    uuid: cell.uuid,
    transport_url: mask(cell.transportUrl),
    database_connection: mask(cell.databaseConnection),
    disabled: cell.disabled,
  };
}

export function registerCellV2Commands(program: Command, action: ActionWrapper): void {
  const cellV2 = program.command('cell_v2').description('Manage the registry of cells (cells v2).');

  cellV2
    .command('map_cell0')
    .description('Map cell0, where instances that were never scheduled live.')
    .option(
      '--database_connection <url>',
      "cell0's database URL (default: [database] connection with _cell0 after the database name)",
    )
    .action(
      action(async (ctx, options: { database_connection?: string }) => {
        const url = options.database_connection && checkedDatabaseUrl(options.database_connection);
        const { created } = await withCells(ctx, (cells) => mapCell0(cells, ctx.config(), url));
        if (!created) ctx.out('Cell0 is already setup');
        return EXIT.OK;
      }),
    );

  cellV2
    .command('create_cell')
    .description('Add a new cell to the API database. Prints nothing unless --verbose.')
    .option('--name <cell_name>', 'the name of the cell')
    .option('--database_connection <database_connection>', 'the database URL of the cell')
    .option('--transport-url <transport_url>', 'the message queue URL of the cell')
    .option('--verbose', 'print the uuid of the created cell')
    .option('--disabled', 'create the cell disabled')
    .addOption(formatOption())
    .action(
      action(
        async (
          ctx,
          options: {
            name?: string;
            database_connection?: string;
            transportUrl?: string;
            verbose?: boolean;
            disabled?: boolean;
          } & FormatOptions,
        ) => {
          const transportUrl = transportUrlFrom(ctx, options.transportUrl);
          if (!transportUrl) return 1;
          let databaseConnection = options.database_connection;
          if (!databaseConnection) {
            ctx.out(
              '--database_connection not provided in the command line, using the value [database]/connection from the configuration file',
            );
            databaseConnection = ctx.config().cellDatabaseUrl;
          }
          checkedDatabaseUrl(databaseConnection);
          try {
            const cell = await withCells(ctx, (cells) =>
              cells.create({
                name: options.name ?? null,
                transportUrl,
                databaseConnection,
                disabled: options.disabled ?? false,
              }),
            );
            if (options.format === 'json') ctx.out(renderJson(cellJson(cell, false)));
            else if (options.verbose) ctx.out(cell.uuid);
            return EXIT.OK;
          } catch (error) {
            if (!(error instanceof CellExists)) throw error;
            ctx.err(error.message);
            return 2;
          }
        },
      ),
    );

  cellV2
    .command('list_cells')
    .description('List the cells; passwords in URLs are masked unless --verbose.')
    .option('--verbose', 'show transport and database URLs with their passwords')
    .addOption(formatOption())
    .action(
      action(async (ctx, options: { verbose?: boolean } & FormatOptions) => {
        const verbose = options.verbose ?? false;
        // Python's sort of the names: by code point, not by locale.
        const cells = (await withCells(ctx, (registry) => registry.list())).sort((a, b) =>
          (a.name ?? '') < (b.name ?? '') ? -1 : (a.name ?? '') > (b.name ?? '') ? 1 : 0,
        );
        const shown = (url: string | null) =>
          url === null ? null : verbose ? url : maskLikeNovaManage(url);
        ctx.out(
          options.format === 'json'
            ? renderJson(cells.map((cell) => cellJson(cell, verbose)))
            : renderTable(
                ['Name', 'UUID', 'Transport URL', 'Database Connection', 'Disabled'],
                cells.map((c) => [
                  c.name ?? '',
                  c.uuid,
                  shown(c.transportUrl),
                  shown(c.databaseConnection),
                  c.disabled,
                ]),
              ),
        );
        return EXIT.OK;
      }),
    );

  cellV2
    .command('update_cell')
    .description(
      'Update a cell. Exit status: 1 cell not found, 2 update failed, 3 URL used by another cell, ' +
        '4 --disable with --enable, 5 cell0 cannot be disabled.',
    )
    .requiredOption('--cell_uuid <cell_uuid>', 'the uuid of the cell to update')
    .option('--name <cell_name>', 'set the cell name')
    .option(
      '--transport-url <transport_url>',
      'set the cell transport URL (running services see it after a restart)',
    )
    .option(
      '--database_connection <database_connection>',
      'set the cell database URL (running services see it after a restart)',
    )
    .option('--disable', 'disable the cell for scheduling')
    .option('--enable', 'enable the cell for scheduling')
    .action(
      action(
        async (
          ctx,
          options: {
            cell_uuid: string;
            name?: string;
            transportUrl?: string;
            database_connection?: string;
            disable?: boolean;
            enable?: boolean;
          },
        ) =>
          withCells(ctx, async (cells) => {
            const outcome = await updateCell(cells, options.cell_uuid, {
              name: options.name,
              transportUrl: options.transportUrl,
              databaseConnection: options.database_connection,
              disable: options.disable,
              enable: options.enable,
            });
            switch (outcome.kind) {
              case 'updated':
                if (outcome.unchanged) {
                  ctx.out(`Cell ${outcome.cell.uuid} is already ${outcome.unchanged}`);
                }
                return EXIT.OK;
              case 'not-found':
                ctx.err(outcome.message);
                return 1;
              case 'bad-transport-url':
                ctx.err(`Unable to update CellMapping: ${outcome.problem}`);
                return 2;
              case 'url-in-use':
                ctx.err(outcome.message);
                return 3;
              case 'disable-and-enable':
                ctx.err('Cell cannot be disabled and enabled at the same time.');
                return 4;
              case 'cell0-cannot-be-disabled':
                ctx.err('Cell0 cannot be disabled.');
                return 5;
            }
          }),
      ),
    );

  cellV2
    .command('delete_cell')
    .description(
      'Delete an empty cell. Exit status: 1 cell not found, 3 the cell has instances, ' +
        '4 only deleted instances remain mapped (use --force), 5 instance groups not yet migrated.',
    )
    .requiredOption('--cell_uuid <cell_uuid>', 'the uuid of the cell to delete')
    .option('--force', 'also delete the instance mappings of the cell (never with live instances)')
    .action(
      action(async (ctx, options: { cell_uuid: string; force?: boolean }) =>
        withCells(ctx, async (cells) => {
          try {
            const outcome = await deleteCell(
              cells,
              options.cell_uuid,
              options.force ?? false,
              countLiveInCellDatabase,
            );
            switch (outcome.kind) {
              case 'deleted':
                return EXIT.OK;
              case 'has-instances':
                ctx.err(
                  `There are existing instances mapped to cell with uuid ${options.cell_uuid}.`,
                );
                return 3;
              case 'has-instance-mappings':
                ctx.err(
                  `There are instance mappings to cell with uuid ${options.cell_uuid}, but all instances have been deleted in the cell.`,
                );
                ctx.err(
                  "So execute 'cellgroups-manage cell_v2 delete_cell --force' to delete the instance mappings.",
                );
                return 4;
              case 'has-groups':
                ctx.err(
                  `There are ${outcome.count} instance group(s) in cell with uuid ${options.cell_uuid} not yet moved to the API database.`,
                );
                ctx.err(
                  "Run 'cellgroups-manage db online_data_migrations' first; deleting the cell would lose them.",
                );
                return 5;
            }
          } catch (error) {
            if (!(error instanceof CellNotFound)) throw error;
            ctx.err(error.message);
            return 1;
          }
        }),
      ),
    );

  cellV2
    .command('simple_cell_setup')
    .description(
      'First-install setup: map cell0 and the local cell ([database] connection) and sync both schemas. Safe to re-run.',
    )
    .option('--transport-url <transport_url>', 'the message queue URL of the local cell')
    .action(
      action(async (ctx, options: { transportUrl?: string }) => {
        const transportUrl = transportUrlFrom(ctx, options.transportUrl);
        if (!transportUrl) return 1;
        const result = await withCells(ctx, (cells) =>
          simpleCellSetup(cells, ctx.config(), transportUrl),
        );
        if (!result.cell0.created) ctx.out('Cell0 is already setup');
        reportSync(
          ctx,
          'cell0 database',
          result.cell0.cell.databaseConnection ?? '',
          result.cell0.schema,
        );
        ctx.out(
          result.cell.created
            ? `Mapped cell ${result.cell.cell.name ?? ''} ${result.cell.cell.uuid}.`
            : `The local cell is already mapped as ${result.cell.cell.uuid}.`,
        );
        reportSync(ctx, 'cell database', ctx.config().cellDatabaseUrl, result.cell.schema);
        return EXIT.OK;
      }),
    );
}
