import type { QuotaResource } from '../../quotas/resources.js';
import type { QuotaDetail } from '../../quotas/service.js';
import type { ApiVersion } from '../http/microversion.js';
import { MV } from '../versions-table.js';

/** Nova's names for the limits, in the order Nova's view lists them. */
const ABSOLUTE: readonly [string, QuotaResource][] = [
  ['maxTotalInstances', 'instances'],
  ['maxTotalCores', 'cores'],
  ['maxTotalRAMSize', 'ram'],
  ['maxServerMeta', 'metadata_items'],
  ['maxImageMeta', 'metadata_items'],
  ['maxPersonality', 'injected_files'],
  ['maxPersonalitySize', 'injected_file_content_bytes'],
  ['maxTotalKeypairs', 'key_pairs'],
  ['maxServerGroups', 'server_groups'],
  ['maxServerGroupMembers', 'server_group_members'],
  ['maxTotalFloatingIps', 'floating_ips'],
  ['maxSecurityGroups', 'security_groups'],
  ['maxSecurityGroupRules', 'security_group_rules'],
];

const USED: readonly [string, QuotaResource][] = [
  ['totalRAMUsed', 'ram'],
  ['totalCoresUsed', 'cores'],
  ['totalInstancesUsed', 'instances'],
  ['totalFloatingIpsUsed', 'floating_ips'],
  ['totalSecurityGroupsUsed', 'security_groups'],
  ['totalServerGroupsUsed', 'server_groups'],
];

/** `GET /limits`: network limits, maxImageMeta and the personality ones go at their versions (see MV). */
export function limitsView(
  quotas: Record<QuotaResource, QuotaDetail>,
  version: ApiVersion,
): { limits: { rate: never[]; absolute: Record<string, number> } } {
  const hidden: QuotaResource[] = [];
  if (version.atLeast(MV.NETWORK_QUOTAS_GONE))
    hidden.push('floating_ips', 'security_groups', 'security_group_rules');
  if (version.atLeast(MV.FILE_QUOTAS_GONE))
    hidden.push('injected_files', 'injected_file_content_bytes');
  const absolute: Record<string, number> = {};
  for (const [name, resource] of ABSOLUTE) {
    if (hidden.includes(resource)) continue;
    if (name === 'maxImageMeta' && version.atLeast(MV.IMAGE_META_LIMIT_GONE)) continue;
    absolute[name] = quotas[resource].limit;
  }
  for (const [name, resource] of USED) {
    if (!hidden.includes(resource)) absolute[name] = quotas[resource].in_use;
  }
  return { limits: { rate: [], absolute } };
}
