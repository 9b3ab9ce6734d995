import type { Command } from 'commander';
import { withDatabase } from '../../db/connection.js';
import {
  findNovaSchema,
  latestVersion,
  readSchemaVersion,
  syncSchema,
  type NovaSchema,
} from '../../db/migrations/migrator.js';
import type { ApiDatabase } from '../../db/schema/api.js';
import { EXIT } from '../exit-codes.js';
import { formatOption, type ActionWrapper, type FormatOptions } from '../command.js';
import { parseVersionArgument, reportSync, reportVersion } from './schema-output.js';

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
        const [version, nova] = await withDatabase<ApiDatabase, [number, NovaSchema | undefined]>(
          ctx.config().apiDatabaseUrl,
          async (api) => [await readSchemaVersion(api, 'api'), await findNovaSchema(api, 'api')],
        );
        reportVersion(ctx, options.format, version, latestVersion('api'), nova);
        return EXIT.OK;
      }),
    );
}
