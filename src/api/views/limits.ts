import type { QuotaResource } from '../../quotas/resources.js';
import type { QuotaDetail } from '../../quotas/service.js';
import type { ApiVersion } from '../http/microversion.js';

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

/** `GET /limits`: 2.36 drops the network limits, 2.39 maxImageMeta, 2.57 the personality ones. */
export function limitsView(
  quotas: Record<QuotaResource, QuotaDetail>,
  version: ApiVersion,
): { limits: { rate: never[]; absolute: Record<string, number> } } {
  const hidden: QuotaResource[] = [];
  if (version.atLeast('2.36'))
    hidden.push('floating_ips', 'security_groups', 'security_group_rules');
  if (version.atLeast('2.57')) hidden.push('injected_files', 'injected_file_content_bytes');
  const absolute: Record<string, number> = {};
  for (const [name, resource] of ABSOLUTE) {
    if (hidden.includes(resource)) continue;
    if (name === 'maxImageMeta' && version.atLeast('2.39')) continue;
    absolute[name] = quotas[resource].limit;
  }
  for (const [name, resource] of USED) {
    if (!hidden.includes(resource)) absolute[name] = quotas[resource].in_use;
  }
  return { limits: { rate: [], absolute } };
}
