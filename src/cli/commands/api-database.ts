import { withDatabase, type Database } from '../../db/connection.js';
import { readSchemaVersion } from '../../db/migrations/migrator.js';
import type { ApiDatabase } from '../../db/schema/api.js';
import { SchemaError } from '../../errors.js';
import type { CommandContext } from '../command.js';

/** Runs `work` on the configured API database, once it has a schema (else says what to run). */
export function withApiDatabase<T>(
  ctx: CommandContext,
  work: (api: Database<ApiDatabase>) => Promise<T>,
): Promise<T> {
  return withDatabase<ApiDatabase, T>(ctx.config().apiDatabaseUrl, async (api) => {
    if ((await readSchemaVersion(api, 'api')) === 0) {
      throw new SchemaError(
        `The API database ${api.displayUrl} has no schema yet: run "cellgroups-manage api_db sync" first.`,
      );
    }
    return work(api);
  });
}
