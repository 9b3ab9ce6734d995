import type { Command } from 'commander';
import { withDatabase } from '../../db/connection.js';
import {
  latestVersion,
  readSchemaState,
  syncSchema,
  type SchemaState,
} from '../../db/migrations/migrator.js';
import type { ApiDatabase } from '../../db/schema/api.js';
import { EXIT } from '../exit-codes.js';
import { renderJson } from '../output.js';
import { formatOption, type ActionWrapper, type FormatOptions } from '../command.js';
import { parseVersionArgument, reportSync } from './schema-output.js';

export function registerApiDbCommands(program: Command, action: ActionWrapper): void {
  const apiDb = program.command('api_db').description('Manage the API database schema.');

  apiDb
    .command('sync')
    .description('Sync the API database schema up to VERSION (default: the latest).')
    .argument('[VERSION]', 'schema version to reach')
    .action(
      action(async (ctx, version: string | undefined) => {
        const target = parseVersionArgument(version);
        const result = await withDatabase<ApiDatabase, Awaited<ReturnType<typeof syncSchema>>>(
          ctx.config().apiDatabaseUrl,
          (api) => syncSchema(api, 'api', target),
        );
        reportSync(ctx, 'API database', ctx.config().apiDatabaseUrl, result);
        return EXIT.OK;
      }),
    );

  apiDb
    .command('version')
    .description('Print the schema version of the API database.')
    .addOption(formatOption())
    .action(
      action(async (ctx, options: FormatOptions) => {
        const state = await withDatabase<ApiDatabase, SchemaState>(
          ctx.config().apiDatabaseUrl,
          (api) => readSchemaState(api, 'api'),
        );
        ctx.out(
          options.format === 'json'
            ? renderJson({
                version: state.version,
                latest: latestVersion('api'),
                managed_by: state.nova ? 'nova' : 'cellgroups',
                ...(state.nova && { nova_revision: state.nova.revision }),
              })
            : String(state.version),
        );
        return EXIT.OK;
      }),
    );
}
