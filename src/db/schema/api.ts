import type { ColumnType } from 'kysely';
import type { Bool, Id, Timestamps } from './columns.js';

/**
 * The API database, table by table, with Nova's names (nova/db/api/models.py).
 * Groups here have no soft delete: a deleted group is gone.
 */
export interface ApiDatabase {
  cell_mappings: CellMappingsTable;
  instance_mappings: InstanceMappingsTable;
  instance_groups: InstanceGroupsTable;
  instance_group_policy: InstanceGroupPolicyTable;
  instance_group_member: InstanceGroupMemberTable;
  quotas: QuotasTable;
  project_user_quotas: ProjectUserQuotasTable;
  quota_classes: QuotaClassesTable;
  quota_fences: QuotaFencesTable;
}

/** The registry of cells; cell0 has the all-zero uuid. */
export interface CellMappingsTable extends Timestamps {
  id: Id;
  uuid: string;
  name: string | null;
  transport_url: string | null;
  database_connection: string | null;
  disabled: Bool;
}

/** Which cell each instance is in; `cell_id` null means not scheduled yet. */
export interface InstanceMappingsTable extends Timestamps {
  id: Id;
  instance_uuid: string;
  cell_id: number | null;
  project_id: string;
  user_id: string | null;
  queued_for_delete: Bool;
}

export interface InstanceGroupsTable extends Timestamps {
  id: Id;
  uuid: string;
  name: string | null;
  user_id: string | null;
  project_id: string | null;
}

export interface InstanceGroupPolicyTable extends Timestamps {
  id: Id;
  policy: string | null;
  /** JSON text, e.g. `{"max_server_per_host": 2}`. */
  rules: string | null;
  group_id: number;
}

export interface InstanceGroupMemberTable extends Timestamps {
  id: Id;
  instance_uuid: string | null;
  group_id: number;
}

export interface QuotasTable extends Timestamps {
  id: Id;
  project_id: string | null;
  resource: string;
  hard_limit: number | null;
}

export interface ProjectUserQuotasTable extends Timestamps {
  id: Id;
  project_id: string;
  user_id: string;
  resource: string;
  hard_limit: number | null;
}

export interface QuotaClassesTable extends Timestamps {
  id: Id;
  class_name: string | null;
  resource: string | null;
  hard_limit: number | null;
}

/** Written by every count-then-add of a quota, so that racing ones conflict (see 002-quota-fences). */
export interface QuotaFencesTable extends Timestamps {
  id: Id;
  project_id: string;
  resource: string;
  generation: ColumnType<number, number | undefined, number>;
}
