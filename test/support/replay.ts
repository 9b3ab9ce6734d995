import type { FastifyInstance } from 'fastify';
import type { Sample } from './samples.js';

/** What a response looks like once the parts that differ by run are normalized. */
export interface Comparable {
  readonly status: number;
  /** Lower-case names, sorted; request ids replaced by `req-<uuid>`. */
  readonly headers: [string, string][];
  readonly body: unknown;
}

const REQUEST_ID = /^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// Differ by body length, or are added by the transport.
const IGNORED = new Set(['content-length', 'date', 'connection', 'keep-alive']);

function normalize(pairs: [string, string][]): [string, string][] {
  return pairs
    .map(([name, value]): [string, string] => {
      const lower = name.toLowerCase();
      return [lower, REQUEST_ID.test(value) ? 'req-<uuid>' : value];
    })
    .filter(([name]) => !IGNORED.has(name))
    .sort(([a, av], [b, bv]) => a.localeCompare(b) || av.localeCompare(bv));
}

/** The sample's answer, normalized. */
export function expected(sample: Sample): Comparable {
  return { status: sample.status, headers: normalize(sample.headers), body: sample.body };
}

/** Sends the sample's request to `app` (as from the captured host) and normalizes the answer. */
export async function replay(app: FastifyInstance, sample: Sample): Promise<Comparable> {
  const { method, path, headers, body } = sample.request;
  const response = await app.inject({
    method: method as 'GET',
    url: path,
    // The capturing client sent `Accept: */*` without recording it: Nova answers its unrouted
    // 404 as HTML (as in the samples) only to a client that sends an Accept header; with none at
    // all it is plain text (checked against the real Nova, test/nova/faults.test.ts).
    headers: { host: '127.0.0.1:18774', accept: '*/*', ...Object.fromEntries(headers) },
    ...(body === null || body === undefined
      ? {}
      : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const pairs: [string, string][] = Object.entries(response.headers).flatMap(([name, value]) =>
    (Array.isArray(value) ? value : [String(value)]).map((v): [string, string] => [name, v]),
  );
  let parsed: unknown = response.body;
  try {
    parsed = response.body === '' ? null : (JSON.parse(response.body) as unknown);
  } catch {
    // Not JSON (Nova's HTML 404 page): compared as text.
  }
  return { status: response.statusCode, headers: normalize(pairs), body: parsed };
}
