/**
 * The compute API microversions, in one table (as placement's
 * microversion.VERSIONS): one line per version that changed what this
 * service serves, saying what it changed. The first line is the minimum,
 * the last the maximum that version discovery announces and `latest` means.
 *
 * NOTE: the versions not listed (2.2 .. 2.12, 2.14, ...) are accepted and
 * served exactly as the listed version below them: they changed resources
 * that cellgroups does not serve (servers, flavors, hypervisors...).
 *
 * To add a version: append a line here, move MAX if it is the newest, give
 * it a name in MV if code branches on it, and branch with
 * `version.atLeast(MV.NAME)`.
 */
export const VERSIONS = [
  { version: '2.1', changes: 'The base API: os-server-groups, os-quota-sets, /limits as in v2.' },
  { version: '2.13', changes: 'Server groups show their project_id and user_id.' },
  { version: '2.15', changes: 'Create accepts the soft-affinity and soft-anti-affinity policies.' },
  {
    version: '2.36',
    changes:
      'Network proxy quotas (fixed_ips, floating_ips, security_groups, security_group_rules) leave quota sets and /limits.',
  },
  { version: '2.39', changes: 'maxImageMeta leaves /limits (the image-metadata proxy is gone).' },
  {
    version: '2.57',
    changes:
      'Personality quotas (injected_files, injected_file_content_bytes, injected_file_path_bytes) leave quota sets and /limits.',
  },
  {
    version: '2.64',
    changes:
      'Server groups: `policy` (one) and `rules` (max_server_per_host) replace `policies` and `metadata`.',
  },
  {
    version: '2.75',
    changes: 'Unknown query parameters are refused (400) instead of ignored.',
  },
  {
    version: '2.93',
    changes:
      'The newest of the Nova release the samples come from (Zed); nothing after 2.75 changed these resources.',
  },
] as const;

/** A version named in the table. */
export type Microversion = (typeof VERSIONS)[number]['version'];

export const MIN_VERSION: Microversion = VERSIONS[0].version;
export const MAX_VERSION: Microversion = VERSIONS[VERSIONS.length - 1]?.version ?? MIN_VERSION;

/** The versions code branches on, by what they changed; each must be a line of VERSIONS. */
export const MV = {
  GROUP_OWNER: '2.13',
  SOFT_POLICIES: '2.15',
  NETWORK_QUOTAS_GONE: '2.36',
  IMAGE_META_LIMIT_GONE: '2.39',
  FILE_QUOTAS_GONE: '2.57',
  POLICY_SINGULAR: '2.64',
  STRICT_QUERY: '2.75',
} as const satisfies Record<string, Microversion>;
