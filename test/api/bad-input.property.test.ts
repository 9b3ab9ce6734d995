import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { FAULT_CONTENT_TYPE } from '../../src/api/http/versioning.js';
import { loadConfig } from '../../src/config/load.js';
import { requestContext } from '../../src/context.js';
import { createCloud, type TestCloud } from '../support/cloud.js';
import { forEachEngine } from '../support/engines.js';
import { runSeed } from '../support/migration-cloud.js';

/**
 * Random bad input against the compute API over a real cloud: bodies,
 * Content-Types, microversion headers, tokens, query strings, paths and
 * methods. Whatever arrives, the answer is never a 5xx, every error is
 * Nova's fault body (or its HTML 404 page for what is not routed), and
 * the groups in the database are exactly those a create answered for,
 * less those a delete removed.
 *
 * A failure prints its seed (each engine draws its own);
 * CELLGROUPS_TEST_SEED=<seed> replays it, on a fresh cloud, run for run.
 * The runs share one cloud (deletes need earlier creates), so a failure
 * is not shrunk: a shorter replay would not meet the same database.
 */

// Few runs on the server engines: each request there is a network round trip or several.
// CELLGROUPS_PROPERTY_RUNS=<n> runs n on every engine instead (a longer hunt).
const RUNS = { sqlite: 500, server: 150 };
const runsOverride = Number.parseInt(process.env.CELLGROUPS_PROPERTY_RUNS ?? '', 10);

const NOT_FOUND_PAGE_TITLE = '<title>404 Not Found</title>';
const NOT_FOUND_PLAIN = '404 Not Found\n\nThe resource could not be found.\n\n   ';
// What must never reach a user: internals of a thrown error or of a value that went wrong.
const LEAKS = [
  /\bat .*\(.*:\d+:\d+\)/, // a stack frame
  /\n\s+at /,
  /\b(Type|Range|Reference|Syntax)Error\b/,
  /\bError: /,
  /\bundefined\b/,
  /\bNaN\b/,
  /\[object Object\]/,
  /node_modules|\/src\//,
];

// ---- generators ---------------------------------------------------------------

/** Printable ASCII and tab: what an HTTP client can put in a header value. */
const headerText = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 40,
});

/** Strings that trouble names: whitespace at the ends, control characters, astral and odd Unicode. */
const nastyString = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(
    '',
    ' ',
    ' web',
    'web ',
    '\tweb',
    'web\n',
    'we\u0000b',
    'we\u007fb',
    'we\u200bb',
    '\u200b',
    '\ufeffweb',
    'web\u2028',
    '\u00a0web',
    'we\u00a0b',
    'web \u{1f600}',
    '\u{1f600}',
    '\ud800',
    'a\udc00b',
    '\uffff',
    '名前',
    'O\'Reilly "quoted" \\ back',
    '%s %d {0}',
    '<script>',
    'x'.repeat(255),
    'x'.repeat(256),
    'é'.repeat(255),
    '\u{1f600}'.repeat(200),
  ),
);

// Numbers JSON.stringify can write (1e400 is in the raw bodies below): past 2**53, fractions.
const hugeNumber = fc.constantFrom(
  1e20,
  2 ** 53,
  2 ** 31,
  2 ** 63,
  -1,
  0,
  0.5,
  1.0,
  -0,
  Number.MAX_SAFE_INTEGER,
);

/** Numbers as strings, and strings that look like numbers to a lax parser. */
const numberText = fc.oneof(
  fc.integer().map(String),
  fc.constantFrom(
    '',
    '0',
    '1',
    '01',
    '1e3',
    '0x10',
    '1.5',
    ' 1',
    '1 ',
    '+1',
    '-1',
    '١',
    '99999999999999999999',
    '9'.repeat(400),
    'Infinity',
    'NaN',
  ),
);

/** Any JSON value, with the odd ones more likely than uniform draws would make them. */
const jsonValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: nastyString },
  { weight: 1, arbitrary: hugeNumber },
  { weight: 1, arbitrary: numberText },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, [], {}, [null], { '': '' }) },
);

const POLICY_VALUES = ['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity'];
const policyValue = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...POLICY_VALUES) },
  { weight: 1, arbitrary: fc.constantFrom('Affinity', 'anti_affinity', '', ' affinity') },
  { weight: 1, arbitrary: jsonValue },
);

/** A field that is mostly right, sometimes anything at all. */
const mostly = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: jsonValue });

const nearValidGroup = fc
  .tuple(
    fc.record(
      {
        name: mostly(fc.oneof(fc.constantFrom('web', 'db tier', 'g-1'), nastyString)),
        policies: mostly(
          fc.oneof(
            policyValue.map((p) => [p]),
            fc.array(policyValue, { maxLength: 3 }),
          ),
        ),
        policy: mostly(policyValue),
        rules: mostly(
          fc.oneof(
            fc.constant({}),
            fc.record(
              { max_server_per_host: fc.oneof(fc.integer(), hugeNumber, numberText, jsonValue) },
              { requiredKeys: [] },
            ),
            fc.dictionary(fc.string({ maxLength: 10 }), jsonValue, { maxKeys: 2 }),
          ),
        ),
        metadata: jsonValue,
      },
      { requiredKeys: [] },
    ),
    // Keys no schema knows, now and then.
    fc.option(fc.dictionary(fc.string({ maxLength: 8 }), jsonValue, { maxKeys: 2 }), { freq: 4 }),
  )
  .map(([group, extra]) => ({ ...(extra ?? {}), ...group }));

/** A value nested `depth` deep in arrays or objects. */
const deeplyNested = fc
  .record({ depth: fc.integer({ min: 50, max: 20_000 }), objects: fc.boolean() })
  .map(({ depth, objects }) =>
    objects
      ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
      : `${'['.repeat(depth)}${']'.repeat(depth)}`,
  );

type Payload = string | Buffer | undefined;

const body: fc.Arbitrary<Payload> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  {
    weight: 6,
    arbitrary: fc
      .record(
        {
          server_group: fc.oneof({ weight: 4, arbitrary: nearValidGroup }, jsonValue),
          extra: jsonValue,
        },
        { requiredKeys: ['server_group'] },
      )
      .map((b) => JSON.stringify(b)),
  },
  { weight: 1, arbitrary: jsonValue.map((v) => JSON.stringify(v)) },
  {
    weight: 1,
    // Valid JSON text that JSON.stringify would never write: huge numbers, escapes, duplicate keys.
    arbitrary: fc.constantFrom(
      '{"server_group": {"name": "n", "policy": "anti-affinity", "rules": {"max_server_per_host": 1e400}}}',
      '{"server_group": {"name": "n", "policy": "anti-affinity", "rules": {"max_server_per_host": 99999999999999999999}}}',
      '{"server_group": {"name": "n", "policy": "anti-affinity", "rules": {"max_server_per_host": 1.0}}}',
      '{"server_group": {"name": "n", "policy": "anti-affinity", "rules": {"max_server_per_host": 2e0}}}',
      '{"server_group": {"name": "n", "policies": ["affinity"]}, "server_group": {"name": 1}}',
      '{"server_group": {"name": "\\ud83d", "policies": ["affinity"]}}',
      '{"server_group": {"name": "a\\u0000b", "policies": ["affinity"]}}',
      '{"__proto__": {"server_group": 1}}',
      '{"server_group": {"__proto__": {"name": "x"}, "name": "n", "policies": ["affinity"]}}',
      '{"constructor": {"prototype": {"x": 1}}}',
      'null',
      '""',
      '[]',
      '0',
      '   ',
      '\ufeff{"server_group": {"name": "n", "policies": ["affinity"]}}',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 50 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: deeplyNested },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 100_000, max: 1_200_000 })
      .map((n) =>
        JSON.stringify({ server_group: { name: 'x'.repeat(n), policies: ['affinity'] } }),
      ),
  },
);

const contentType = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.constant('application/json') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'application/json',
      'application/json; charset=UTF-8',
      'application/json;charset=latin1',
      'APPLICATION/JSON',
      'text/plain',
      'application/xml',
      'text/html',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
      'application/json-patch+json',
      '',
      ';',
      'application/',
      '*/*',
    ),
  },
  { weight: 1, arbitrary: headerText },
);

const versionText = fc.oneof(
  fc.integer({ min: 0, max: 100 }).map((m) => `2.${m}`),
  fc.constantFrom(
    'latest',
    'LATEST',
    '2.1',
    '2.64',
    '2.93',
    '2.94',
    '2.0',
    '1.1',
    '3.0',
    '2.064',
    '02.1',
    '2.',
    '.1',
    '2.1.1',
    '2.99999999999999999999',
    '99999999999999999999.1',
    '-2.1',
    '',
  ),
  headerText,
);

const oddVersionHeaders = fc.record(
  {
    'openstack-api-version': fc.oneof(
      versionText.map((v) => `compute ${v}`),
      versionText.map((v) => `  COMPUTE\t${v}  `),
      versionText.map((v) => `placement ${v}`),
      fc.tuple(versionText, versionText).map(([a, b]) => `compute ${a}, compute ${b}`),
      fc.tuple(versionText, versionText).map(([a, b]) => [`volume ${a}`, `compute ${b}`]),
      fc.constantFrom('compute', 'compute ', ',', 'compute 2.1 2.2'),
      headerText,
    ),
    'x-openstack-nova-api-version': fc.oneof(
      versionText,
      fc.tuple(versionText, versionText).map(([a, b]) => `${a},${b}`),
    ),
  },
  { requiredKeys: [] },
);

/** A version the server speaks, as a client would ask for it. */
const goodVersion = fc.oneof(
  fc.integer({ min: 1, max: 93 }).map((m) => `2.${m}`),
  fc.constant('latest'),
);

const versionHeaders = fc.oneof(
  { weight: 3, arbitrary: fc.constant({}) },
  { weight: 4, arbitrary: goodVersion.map((v) => ({ 'openstack-api-version': `compute ${v}` })) },
  { weight: 1, arbitrary: goodVersion.map((v) => ({ 'x-openstack-nova-api-version': v })) },
  { weight: 2, arbitrary: oddVersionHeaders },
);

/** Tokens of a few projects: each has a quota of 10 groups. */
const GOOD_TOKENS = [
  'alice:p1',
  'bob:p1',
  'carol:p2',
  'dave:p3',
  'erin:p4',
  'admin:p1',
  'admin:admin',
];

const token = fc.option(
  fc.oneof(
    { weight: 16, arbitrary: fc.constantFrom(...GOOD_TOKENS) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '',
        ':',
        'alice:',
        ':p1',
        'alice',
        'a:b:c',
        ' alice : p1 ',
        'admin',
        `${'u'.repeat(256)}:p1`,
        `alice:${'p'.repeat(256)}`,
        `${'u'.repeat(255)}:${'p'.repeat(255)}`,
      ),
    },
    { weight: 1, arbitrary: headerText },
  ),
  { nil: undefined, freq: 20 },
);

const queryPart = fc.oneof(
  fc
    .tuple(fc.constantFrom('limit', 'offset'), numberText)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`),
  fc.constantFrom(
    'all_projects',
    'all_projects=True',
    'all_projects=0',
    'limit',
    'limit=',
    'offset=',
    'limit=1&limit=2',
    'limit=a&limit=2',
    'limit=%zz',
    'limit=%',
    'offset=%E0%A4%A',
    '%zz=1',
    'foo=bar',
    'name=web',
    '=',
    '&&',
    'limit[]=1',
    'limit[a]=1',
    '__proto__=1',
    'constructor=1',
    'hasOwnProperty=1',
  ),
  fc
    .tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }))
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`),
  headerText.map((s) => s.replace(/[#\s]/g, '')),
);

const query = fc.option(
  fc.array(queryPart, { minLength: 1, maxLength: 4 }).map((parts) => `?${parts.join('&')}`),
  { nil: '', freq: 2 },
);

/** An id in a path: random text, a uuid, or (resolved when sent) a group a create made. */
type IdPart = { kind: 'text'; text: string } | { kind: 'known'; index: number };

const idPart: fc.Arbitrary<IdPart> = fc.oneof(
  fc.uuid().map((text) => ({ kind: 'text' as const, text })),
  fc.nat().map((index) => ({ kind: 'known' as const, index })),
  fc.nat().map((index) => ({ kind: 'known' as const, index })),
  fc
    .oneof(
      fc.string({ minLength: 1, maxLength: 40 }).map(encodeURIComponent),
      fc.constantFrom(
        '%zz',
        '%',
        '%E0%A4%A',
        '%00',
        '..',
        '%2F',
        'a%2Fb',
        'x'.repeat(300),
        'detail',
      ),
      fc.uuid().map((u) => u.toUpperCase()),
      fc.uuid().map((u) => u.replace(/-/g, '')),
    )
    .map((text) => ({ kind: 'text' as const, text })),
);

interface PathShape {
  readonly project: string | undefined;
  readonly resource: string;
  readonly id: IdPart | undefined;
  readonly trailingSlash: boolean;
}

const path: fc.Arbitrary<PathShape> = fc.record({
  project: fc.option(fc.constantFrom('p1', 'p2', 'other', '%zz', 'os-server-groups'), {
    nil: undefined,
    freq: 5,
  }),
  resource: fc.oneof(
    { weight: 15, arbitrary: fc.constant('os-server-groups') },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'os-server-group',
        'OS-SERVER-GROUPS',
        'servers',
        '',
        'os-server-groups/x/y',
      ),
    },
  ),
  id: fc.option(idPart, { nil: undefined, freq: 2 }),
  trailingSlash: fc.boolean(),
});

const method = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom('GET', 'POST', 'DELETE') },
  { weight: 1, arbitrary: fc.constantFrom('PUT', 'PATCH', 'HEAD', 'OPTIONS') },
);

interface RandomRequest {
  readonly method: string;
  readonly path: PathShape;
  readonly query: string;
  readonly token: string | undefined;
  readonly contentType: string | undefined;
  readonly versions: Partial<Record<string, string | string[]>>;
  readonly body: Payload;
}

const randomRequest: fc.Arbitrary<RandomRequest> = fc.record({
  method,
  path,
  query,
  token,
  contentType,
  versions: versionHeaders,
  body,
});

const groupName = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom('web', 'db tier', 'g-1', 'x'.repeat(255)) },
  { weight: 3, arbitrary: nastyString },
);
const maxServerPerHost = fc.oneof(fc.integer({ min: 1, max: 10 }), numberText, hugeNumber);

/** A create body right for the microversion asked, but for at most one field set to anything. */
const coherentCreate: fc.Arbitrary<RandomRequest> = fc
  .record({
    shape: fc.oneof(
      fc.record({
        minor: fc.integer({ min: 64, max: 93 }),
        group: fc.record(
          {
            name: groupName,
            policy: fc.constantFrom(...POLICY_VALUES),
            rules: fc.record({ max_server_per_host: maxServerPerHost }, { requiredKeys: [] }),
          },
          { requiredKeys: ['name', 'policy'] },
        ),
      }),
      fc.record({
        minor: fc.integer({ min: 1, max: 63 }),
        group: fc.record({
          name: groupName,
          policies: fc.constantFrom(...POLICY_VALUES).map((p) => [p]),
        }),
      }),
    ),
    mutation: fc.option(
      fc.tuple(fc.constantFrom('name', 'policy', 'policies', 'rules', 'extra'), jsonValue),
      { nil: undefined, freq: 3 },
    ),
    token: fc.constantFrom(...GOOD_TOKENS),
    legacyHeader: fc.boolean(),
  })
  .map(({ shape, mutation, token, legacyHeader }): RandomRequest => {
    const group: Record<string, unknown> = { ...shape.group };
    if (mutation) group[mutation[0]] = mutation[1];
    const version = `2.${shape.minor}`;
    return {
      method: 'POST',
      path: {
        project: undefined,
        resource: 'os-server-groups',
        id: undefined,
        trailingSlash: false,
      },
      query: '',
      token,
      contentType: 'application/json',
      versions: legacyHeader
        ? { 'x-openstack-nova-api-version': version }
        : { 'openstack-api-version': `compute ${version}` },
      body: JSON.stringify({ server_group: group }),
    };
  });

const request = fc.oneof(
  { weight: 3, arbitrary: randomRequest },
  { weight: 1, arbitrary: coherentCreate },
);

// ---- checks ---------------------------------------------------------------------

interface Answer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: string;
}

/** `asked` is everything the request said: a message may quote it, whatever it holds. */
function checkNoLeak(message: string, asked: string): void {
  for (const leak of LEAKS) {
    if (!leak.test(asked)) expect(message, `leaks ${String(leak)}`).not.toMatch(leak);
  }
}

/**
 * A 4xx is the router's 404 page (webob's, as HTML, JSON or plain text after
 * the Accept header) or a fault body whose code is the status.
 */
function checkError(answer: Answer, method: string, asked: string): void {
  if (answer.contentType?.startsWith('text/html')) {
    expect(answer.status).toBe(404);
    if (method !== 'HEAD') expect(answer.body).toContain(NOT_FOUND_PAGE_TITLE);
    return;
  }
  if (answer.contentType === 'text/plain; charset=UTF-8') {
    expect(answer.status).toBe(404);
    expect(answer.body).toBe(NOT_FOUND_PLAIN);
    return;
  }
  if (answer.contentType === 'application/json') {
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body)).toMatchObject({ code: '404 Not Found', title: 'Not Found' });
    return;
  }
  expect(answer.contentType).toBe(FAULT_CONTENT_TYPE);
  // A HEAD answer has the headers of the GET answer and no body.
  if (method === 'HEAD') return;
  const parsed = JSON.parse(answer.body) as Record<string, unknown>;
  const keys = Object.keys(parsed);
  expect(keys).toHaveLength(1);
  const fault = parsed[keys[0] ?? ''] as { code?: unknown; message?: unknown };
  expect(Object.keys(fault).sort()).toEqual(['code', 'message']);
  expect(fault.code).toBe(answer.status);
  expect(typeof fault.message).toBe('string');
  expect((fault.message as string).length).toBeGreaterThan(0);
  checkNoLeak(fault.message as string, asked);
}

interface WellFormedGroup {
  id: string;
  name: string;
  policy?: string;
  policies?: string[];
  rules?: Record<string, unknown>;
  members: unknown[];
}

function checkGroup(group: unknown): asserts group is WellFormedGroup {
  expect(group).toBeTypeOf('object');
  const g = group as Record<string, unknown>;
  expect(g.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  expect(g.name).toBeTypeOf('string');
  expect(Array.isArray(g.members)).toBe(true);
  if ('policy' in g) expect(POLICY_VALUES).toContain(g.policy);
  else expect(g.policies).toEqual([expect.any(String)]);
}

// ---- the property ---------------------------------------------------------------

forEachEngine((engine) => {
  describe('the compute API under random bad input', () => {
    let cloud: TestCloud;
    let app: FastifyInstance;
    /** Groups a create answered for and no delete removed: uuid -> name. */
    const live = new Map<string, string>();
    /** Every uuid a create answered with (paths pick deleted ones too). */
    const known: string[] = [];

    beforeAll(async () => {
      cloud = await createCloud(engine, [engine]);
      app = buildApp({ config: loadConfig({ env: {} }), groups: cloud.service });
    });
    afterAll(async () => {
      await app.close();
      await cloud.destroy();
    });

    const urlOf = (r: RandomRequest): string => {
      const id = r.path.id;
      const idText =
        id === undefined
          ? undefined
          : id.kind === 'text'
            ? id.text
            : (known[id.index % Math.max(known.length, 1)] ?? 'no-group-yet');
      const segments = [
        'v2.1',
        ...(r.path.project === undefined ? [] : [r.path.project]),
        ...(r.path.resource === '' ? [] : [r.path.resource]),
        ...(idText === undefined ? [] : [idText]),
      ];
      return `/${segments.join('/')}${r.path.trailingSlash ? '/' : ''}${r.query}`;
    };

    const send = async (r: RandomRequest): Promise<Answer & { url: string }> => {
      const url = urlOf(r);
      const headers: Record<string, string | string[]> = { host: '127.0.0.1:8774' };
      if (r.token !== undefined) headers['x-auth-token'] = r.token;
      if (r.contentType !== undefined) headers['content-type'] = r.contentType;
      for (const [name, value] of Object.entries(r.versions)) {
        if (value !== undefined) headers[name] = value;
      }
      const response = await app.inject({
        method: r.method as 'GET',
        url,
        headers,
        ...(r.body === undefined ? {} : { payload: r.body }),
      });
      const type = response.headers['content-type'];
      return {
        url,
        status: response.statusCode,
        contentType: typeof type === 'string' ? type : undefined,
        body: response.body,
      };
    };

    /** What a successful answer must look like, and the bookkeeping of creates and deletes. */
    const checkSuccess = (r: RandomRequest, answer: Answer & { url: string }) => {
      if (answer.status === 204 && r.token === undefined) {
        // The noauth2 handshake: no token, no body.
        expect(answer.body).toBe('');
        return;
      }
      if (answer.status === 204) {
        expect(r.method).toBe('DELETE');
        const id = decodeURIComponent(
          answer.url.split('?')[0]?.replace(/\/$/, '').split('/').at(-1) ?? '',
        );
        expect(live.has(id), `deleted ${id}, which no create answered for`).toBe(true);
        live.delete(id);
        return;
      }
      if (r.method === 'HEAD') return;
      const parsed = JSON.parse(answer.body) as Record<string, unknown>;
      if ('version' in parsed) return; // GET /v2.1: the version document
      if (r.method === 'POST') {
        expect(answer.status).toBe(200);
        const group = parsed.server_group;
        checkGroup(group);
        const asked = (JSON.parse(String(r.body)) as { server_group: { name: unknown } })
          .server_group;
        // What was stored is what was asked: no name mangled on the way in.
        expect(group.name).toBe(asked.name);
        const max = group.rules?.max_server_per_host;
        if (max !== undefined) {
          expect(Number.isSafeInteger(max), `max_server_per_host ${JSON.stringify(max)}`).toBe(
            true,
          );
        }
        live.set(group.id, group.name);
        known.push(group.id);
        return;
      }
      expect(answer.status).toBe(200);
      if ('server_groups' in parsed) {
        expect(Array.isArray(parsed.server_groups)).toBe(true);
        for (const g of parsed.server_groups as unknown[]) checkGroup(g);
      } else {
        checkGroup(parsed.server_group);
      }
    };

    it('never answers 5xx, every error is a fault, and no group is lost or made up', async () => {
      const runs = Number.isFinite(runsOverride)
        ? runsOverride
        : engine.serverUrl === undefined
          ? RUNS.sqlite
          : RUNS.server;
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          const answer = await send(r);
          expect(
            answer.status,
            `${r.method} ${answer.url}: ${answer.body.slice(0, 300)}`,
          ).toBeLessThan(500);
          if (answer.status >= 400)
            checkError(answer, r.method, `${answer.url} ${JSON.stringify(r)}`);
          else checkSuccess(r, answer);
        }),
        { numRuns: runs, seed: runSeed(), endOnFailure: true },
      );
      // The database holds exactly the groups the creates answered for, less the deleted ones.
      const admin = requestContext('admin', 'admin', true);
      const stored = await cloud.service.list(admin, { allProjects: true, limit: 100_000 });
      const storedNames = new Map(stored.groups.map((g) => [g.uuid, g.name]));
      expect(live).toEqual(storedNames);
    });
  });
});
