import type { Bool, Id, SoftDelete, Timestamps } from './columns.js';

/**
 * A cell database: the instances of that cell and the legacy group tables
 * (soft delete; nova/db/sqlalchemy/models.py before the groups moved).
 */
export interface CellDatabase {
  instances: InstancesTable;
  instance_groups: LegacyInstanceGroupsTable;
  instance_group_policy: LegacyInstanceGroupPolicyTable;
  instance_group_member: LegacyInstanceGroupMemberTable;
}

export interface InstancesTable extends Timestamps, SoftDelete {
  id: Id;
  uuid: string;
  host: string | null;
  node: string | null;
  project_id: string | null;
  user_id: string | null;
  display_name: string | null;
  vm_state: string | null;
  /**
   * From cell schema 3 on (cell/003-instance-usage.ts), and in every cell
   * Nova made: ask `CellPool.instanceColumns` before naming them.
   */
  vcpus: number | null;
  memory_mb: number | null;
  hidden: Bool;
}

export interface LegacyInstanceGroupsTable extends Timestamps, SoftDelete {
  id: Id;
  uuid: string;
  name: string | null;
  user_id: string | null;
  project_id: string | null;
}

/** A legacy group may carry several policy rows, and never rules. */
export interface LegacyInstanceGroupPolicyTable extends Timestamps, SoftDelete {
  id: Id;
  policy: string | null;
  group_id: number;
}

/** `instance_id` holds the instance *uuid*, as text. */
export interface LegacyInstanceGroupMemberTable extends Timestamps, SoftDelete {
  id: Id;
  instance_id: string | null;
  group_id: number;
}
