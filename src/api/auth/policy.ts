import type { RequestContext } from '../../context.js';
import { Forbidden } from '../../errors.js';

/**
 * The few policy rules of the calls served here, with Nova's defaults and
 * names (nova/policies/*.py): a refusal names the rule, as Nova's 403 does,
 * so that an operator can find it. Server groups are not here: another
 * project's group is "not found" (the data layer scopes every lookup).
 */
const RULES = {
  'os_compute_api:os-quota-sets:show': 'admin_or_owner',
  'os_compute_api:os-quota-sets:detail': 'admin_or_owner',
  'os_compute_api:os-quota-sets:defaults': 'any',
  'os_compute_api:os-quota-sets:update': 'admin',
  'os_compute_api:os-quota-sets:delete': 'admin',
  'os_compute_api:limits:other_project': 'admin',
} as const;

export type PolicyRule = keyof typeof RULES;

/** Refuses with Nova's 403 unless `ctx` may apply `rule` to `projectId`. */
export function authorize(ctx: RequestContext, rule: PolicyRule, projectId?: string): void {
  const check = RULES[rule];
  const allowed =
    check === 'any' ||
    ctx.isAdmin ||
    (check === 'admin_or_owner' && projectId !== undefined && projectId === ctx.projectId);
  if (!allowed) throw new Forbidden(`Policy doesn't allow ${rule} to be performed.`);
}
