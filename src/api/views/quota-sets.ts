import {
  HIDDEN_FROM_2_36,
  HIDDEN_FROM_2_57,
  QUOTA_RESOURCES,
  type QuotaResource,
} from '../../quotas/resources.js';
import type { ApiVersion } from '../http/microversion.js';
import { MV } from '../versions-table.js';

/** The resources a quota set shows at a microversion (2.36 drops the network ones, 2.57 the files). */
export function shownResources(version: ApiVersion): readonly QuotaResource[] {
  const hidden = version.atLeast(MV.FILE_QUOTAS_GONE)
    ? HIDDEN_FROM_2_57
    : version.atLeast(MV.NETWORK_QUOTAS_GONE)
      ? HIDDEN_FROM_2_36
      : [];
  return QUOTA_RESOURCES.filter((r) => !hidden.includes(r));
}

/** `{"quota_set": {"id": …, "<resource>": value, …}}`; an update's answer has no id. */
export function quotaSetView<V>(
  projectId: string | undefined,
  values: Record<QuotaResource, V>,
  version: ApiVersion,
): { quota_set: Record<string, V | string> } {
  const set: Record<string, V | string> = {};
  if (projectId !== undefined) set.id = projectId;
  for (const resource of shownResources(version)) set[resource] = values[resource];
  return { quota_set: set };
}
