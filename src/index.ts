/**
 * cellgroups as a library: server groups wherever they live (API database or
 * cell databases), the cell registry, schemas and configuration.
 */
export { GroupService, type GroupServiceOptions, type UnionCount } from './groups/service.js';
export type {
  InstanceGroup,
  NewGroup,
  GroupChanges,
  GroupLocation,
  Rules,
  Policy,
} from './groups/group.js';
export { POLICIES } from './groups/group.js';
export type { LiveMember } from './groups/hosts.js';
export type { MergedList, Page } from './groups/merge.js';
export type { UnavailableCell, FanOutOptions } from './cells/fan-out.js';
export { requestContext, ADMIN_CONTEXT, type RequestContext } from './context.js';
export { CellMappings, CELL0_UUID, type CellMapping } from './cells/cell-mappings.js';
export { openDatabase, withDatabase, type Database } from './db/connection.js';
export {
  syncSchema,
  readSchemaVersion,
  latestVersion,
  type SchemaKind,
} from './db/migrations/migrator.js';
export type { ApiDatabase } from './db/schema/api.js';
export type { CellDatabase } from './db/schema/cell.js';
export { loadConfig, type Config } from './config/load.js';
export * from './errors.js';
export {
  instanceGroupsToApi,
  migrateInstanceGroupsToApiDb,
  DEFAULT_BATCH_ROWS,
} from './online/instance-groups.js';
export { ONLINE_MIGRATIONS, runOnlineMigrations, type RunSummary } from './online/registry.js';
export type {
  CellFailure,
  CellRemaining,
  MigrationEnv,
  MigrationResult,
  OnlineMigration,
} from './online/migration.js';
