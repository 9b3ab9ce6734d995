/**
 * The request body of `POST /os-server-groups`, per microversion, as Nova
 * declares it (nova/api/openstack/compute/schemas/server_groups.py): the
 * same keywords and enum orders, so that the messages built from them read
 * as Nova's.
 */
const name = { type: 'string', minLength: 1, maxLength: 255, format: 'name' };

const policies = (allowed: readonly string[]) => ({
  type: 'array',
  items: [{ type: 'string', enum: allowed }],
  uniqueItems: true,
  minItems: 1,
  maxItems: 1,
  additionalItems: false,
});

const wrapper = (group: object) => ({
  type: 'object',
  properties: { server_group: group },
  required: ['server_group'],
  additionalProperties: false,
});

const HARD = ['anti-affinity', 'affinity'];
const ALL = ['anti-affinity', 'affinity', 'soft-anti-affinity', 'soft-affinity'];

export const createV21 = wrapper({
  type: 'object',
  properties: { name, policies: policies(HARD) },
  required: ['name', 'policies'],
  additionalProperties: false,
});

export const createV215 = wrapper({
  type: 'object',
  properties: { name, policies: policies(ALL) },
  required: ['name', 'policies'],
  additionalProperties: false,
});

export const createV264 = wrapper({
  type: 'object',
  properties: {
    name,
    policy: { type: 'string', enum: ALL },
    rules: {
      type: 'object',
      properties: {
        max_server_per_host: {
          type: ['integer', 'string'],
          pattern: '^[0-9]*$',
          minimum: 1,
          // NOTE: not in Nova, whose Python integers have no bound. A JSON number past 2**53
          // is already rounded once parsed here, so it could not be stored as asked.
          maximum: Number.MAX_SAFE_INTEGER,
          minLength: 1,
        },
      },
      additionalProperties: false,
    },
  },
  required: ['name', 'policy'],
  additionalProperties: false,
});
