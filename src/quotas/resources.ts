import type { Config } from '../config/load.js';

/**
 * Nova's quota resources, in the order Nova lists them (sorted by name).
 * Only `server_groups` (groups per project and per user) and
 * `server_group_members` (servers per group) mean something here; the
 * others are stored and shown as Nova does, so that clients reading a
 * quota set find every key they expect.
 */
export const QUOTA_RESOURCES = [
  'cores',
  'fixed_ips',
  'floating_ips',
  'injected_file_content_bytes',
  'injected_file_path_bytes',
  'injected_files',
  'instances',
  'key_pairs',
  'metadata_items',
  'ram',
  'security_group_rules',
  'security_groups',
  'server_group_members',
  'server_groups',
] as const;

export type QuotaResource = (typeof QUOTA_RESOURCES)[number];

/** A limit per resource; -1 means unlimited. */
export type QuotaLimits = Record<QuotaResource, number>;

export function isQuotaResource(name: string): name is QuotaResource {
  return (QUOTA_RESOURCES as readonly string[]).includes(name);
}

/** Nova-network's resources: Nova has no options for them any more and always reports -1. */
const NETWORK_RESOURCES = ['fixed_ips', 'floating_ips', 'security_group_rules', 'security_groups'];

/** Hidden from 2.36 on (network quotas are Neutron's). */
export const HIDDEN_FROM_2_36: readonly QuotaResource[] = [
  'fixed_ips',
  'floating_ips',
  'security_group_rules',
  'security_groups',
];

/** Also hidden from 2.57 on (personality files are gone). */
export const HIDDEN_FROM_2_57: readonly QuotaResource[] = [
  ...HIDDEN_FROM_2_36,
  'injected_files',
  'injected_file_content_bytes',
  'injected_file_path_bytes',
];

/** The `[quota]` options: the limits of a project that has no limits of its own. */
export function configuredDefaults(config: Config): QuotaLimits {
  const quota = config.values.quota;
  const limits = {} as QuotaLimits;
  for (const resource of QUOTA_RESOURCES) {
    limits[resource] = NETWORK_RESOURCES.includes(resource)
      ? -1
      : quota[resource as Exclude<keyof typeof quota, 'count_usage_from_placement'>];
  }
  return limits;
}

/** Nova's arithmetic on limits, where anything below 0 is unlimited. */
export const unlimited = (limit: number): boolean => limit < 0;
