import { HIDDEN_FROM_2_36, HIDDEN_FROM_2_57, QUOTA_RESOURCES } from '../../quotas/resources.js';

/**
 * The body of `PUT /os-quota-sets/{project_id}` per microversion, as Nova
 * declares it (nova/api/openstack/compute/schemas/quota_sets.py): a limit
 * is an integer or a string of digits, -1 (unlimited) up to the database's
 * largest integer; `force` takes oslo's boolean spellings.
 */
const limit = {
  type: ['integer', 'string'],
  pattern: '^-?[0-9]+$',
  minimum: -1,
  maximum: 0x7fffffff,
};

const boolean = {
  type: ['boolean', 'string'],
  enum: [
    true,
    'True',
    'TRUE',
    'true',
    '1',
    'ON',
    'On',
    'on',
    'YES',
    'Yes',
    'yes',
    false,
    'False',
    'FALSE',
    'false',
    '0',
    'OFF',
    'Off',
    'off',
    'NO',
    'No',
    'no',
  ],
};

function update(hidden: readonly string[]) {
  const properties: Record<string, object> = { force: boolean };
  for (const resource of QUOTA_RESOURCES) {
    if (!hidden.includes(resource)) properties[resource] = limit;
  }
  return {
    type: 'object',
    properties: {
      quota_set: { type: 'object', properties, additionalProperties: false },
    },
    required: ['quota_set'],
    additionalProperties: false,
  };
}

export const updateV21 = update([]);
export const updateV236 = update(HIDDEN_FROM_2_36);
export const updateV257 = update(HIDDEN_FROM_2_57);

/** oslo's bool_from_string for the spellings the schema lets through. */
export function isTrue(value: unknown): boolean {
  return (
    value === true ||
    (typeof value === 'string' && ['true', '1', 'on', 'yes'].includes(value.toLowerCase()))
  );
}
