import type { InstanceGroup } from '../../groups/group.js';
import type { ApiVersion } from '../http/microversion.js';
import { MV } from '../versions-table.js';

/**
 * A server group as the compute API shows it at a microversion: before
 * 2.13 without owner, from 2.13 with `project_id` and `user_id`, from 2.64
 * `policy` and `rules` instead of `policies` and `metadata`. `members` are
 * the group's live instances, which the caller has resolved.
 */
export function serverGroupView(
  group: InstanceGroup,
  members: readonly string[],
  version: ApiVersion,
): Record<string, unknown> {
  const owner = version.atLeast(MV.GROUP_OWNER)
    ? { project_id: group.projectId, user_id: group.userId }
    : {};
  if (version.atLeast(MV.POLICY_SINGULAR)) {
    return {
      id: group.uuid,
      name: group.name,
      policy: group.policy,
      rules: group.rules,
      members,
      ...owner,
    };
  }
  return {
    id: group.uuid,
    name: group.name,
    policies: group.policy === null ? [] : [group.policy],
    metadata: {},
    members,
    ...owner,
  };
}
