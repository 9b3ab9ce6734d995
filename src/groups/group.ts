import { epochMicroseconds } from '../db/timestamp.js';
import { InvalidInput } from '../errors.js';

/** The policies a group may have (soft ones since microversion 2.15). */
export const POLICIES = [
  'affinity',
  'anti-affinity',
  'soft-affinity',
  'soft-anti-affinity',
] as const;
export type Policy = (typeof POLICIES)[number];

/** Rules of a group; only anti-affinity takes one: `max_server_per_host`. */
export type Rules = Readonly<Record<string, unknown>>;

/** Where the authoritative copy of a group lives. */
export type GroupLocation =
  | { readonly kind: 'api'; readonly id: number }
  | {
      readonly kind: 'cell';
      readonly id: number;
      readonly cellUuid: string;
      readonly cellName: string | null;
    };

/** A server group, the same whichever database it was read from. */
export interface InstanceGroup {
  readonly uuid: string;
  readonly name: string | null;
  readonly userId: string | null;
  readonly projectId: string | null;
  readonly policy: string | null;
  readonly rules: Rules;
  /** Instance uuids, each once, in the order they were added. */
  readonly members: readonly string[];
  readonly createdAt: Date | null;
  readonly updatedAt: Date | null;
  readonly location: GroupLocation;
}

/** What a caller may give to create a group. */
export interface NewGroup {
  readonly uuid?: string;
  readonly name: string;
  readonly policy: string;
  /** Undefined: the request could not carry rules (before 2.64); stored as Nova stores that. */
  readonly rules?: Rules | undefined;
  readonly members?: readonly string[];
  /** Default: the context's user and project. */
  readonly userId?: string;
  readonly projectId?: string;
}

/** What `save` may change; members given replace the member list. */
export interface GroupChanges {
  readonly name?: string;
  readonly policy?: string;
  readonly rules?: Rules;
  readonly members?: readonly string[];
}

export function checkPolicy(policy: string, rules: Rules = {}): void {
  if (!(POLICIES as readonly string[]).includes(policy)) {
    throw new InvalidInput(`Invalid policy "${policy}": expected one of ${POLICIES.join(', ')}.`);
  }
  for (const [key, value] of Object.entries(rules)) {
    if (key !== 'max_server_per_host')
      throw new InvalidInput(`Unknown rule "${key}": only max_server_per_host exists.`);
    if (policy !== 'anti-affinity')
      throw new InvalidInput('Only the anti-affinity policy takes rules.');
    if (!Number.isInteger(value) || (value as number) < 1) {
      throw new InvalidInput(
        `max_server_per_host must be a positive integer, not ${JSON.stringify(value)}.`,
      );
    }
  }
}

/** Each member once, first occurrence first. */
export function uniqueMembers(members: readonly string[]): string[] {
  return [...new Set(members)];
}

/** What list order looks at: a group row from any database. */
export interface OrderKey {
  readonly uuid: string;
  readonly id: number;
  readonly created_at: Date | null;
}

/** The order lists show: creation order, ties by id (then by uuid, across databases). */
export function compareGroups(a: OrderKey, b: OrderKey): number {
  // To the microsecond, as the databases order them.
  const at = a.created_at ? epochMicroseconds(a.created_at) : 0;
  const bt = b.created_at ? epochMicroseconds(b.created_at) : 0;
  if (at !== bt) return at - bt;
  if (a.id !== b.id) return a.id - b.id;
  return a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0;
}
