import type { FastifyRequest } from 'fastify';
import { InvalidInput } from '../../errors.js';
import type { ApiVersion } from './microversion.js';
import { MV } from '../versions-table.js';

/** The query string as Nova's validator sees it: every value of every key, in order. */
export function queryOf(request: FastifyRequest): Map<string, string[]> {
  const query = new Map<string, string[]>();
  const raw = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
  for (const [key, value] of new URLSearchParams(raw)) {
    query.set(key, [...(query.get(key) ?? []), value]);
  }
  return query;
}

/**
 * From 2.75 Nova's query schemas stop ignoring parameters they do not
 * know; earlier versions drop them silently. Same words as jsonschema's.
 */
export function refuseUnknownParams(
  query: Map<string, string[]>,
  known: readonly string[],
  version: ApiVersion,
): void {
  if (!version.atLeast(MV.STRICT_QUERY)) return;
  const unknown = [...query.keys()].filter((k) => !known.includes(k));
  if (unknown.length === 0) return;
  throw new InvalidInput(
    `Additional properties are not allowed (${unknown.map((k) => `'${k}'`).join(', ')} ${unknown.length === 1 ? 'was' : 'were'} unexpected)`,
  );
}
