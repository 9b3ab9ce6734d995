import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../src/db/connection.js';
import type { ApiDatabase, InstanceGroupsTable } from '../src/db/schema/api.js';

/**
 * The ceiling the API benchmark compares the real app with: os-server-groups
 * on node:http, straight Kysely queries on the API database through the same
 * driver and pool, and nothing else. No framework, no validation, no
 * microversion negotiation, no request ids, no cells (the benchmark's only
 * cell is empty, so the answers are the same JSON the app gives at 2.64).
 *
 * It does the database work a correct answer needs, no less: create counts
 * the project's groups for its quota in the transaction that inserts, show
 * and list read the groups with their policies and member rows (the
 * benchmark's groups have no members, so no member needs a liveness check),
 * delete locks the group row and deletes it with its policies and members.
 * Only what the benchmark sends is understood; anything else is a 404.
 */

type Db = Kysely<ApiDatabase>;

const PREFIX = '/v2.1/os-server-groups';
const NOT_FOUND = JSON.stringify({
  itemNotFound: { code: 404, message: 'Instance group could not be found.' },
});
const OVER_QUOTA = JSON.stringify({
  forbidden: { code: 403, message: 'Quota exceeded, too many server groups.' },
});

interface GroupJson {
  id: string;
  name: string | null;
  policy: string | null;
  rules: Record<string, unknown>;
  members: string[];
  project_id: string | null;
  user_id: string | null;
}

/** `user:project` of a noauth2 token, as the app reads it. */
function owner(request: IncomingMessage): { userId: string; projectId: string } {
  const token = request.headers['x-auth-token'];
  const text = typeof token === 'string' ? token : '';
  const colon = text.indexOf(':');
  const userId = colon < 0 ? text : text.slice(0, colon);
  const projectId = colon < 0 ? '' : text.slice(colon + 1);
  return { userId, projectId: projectId || userId };
}

function send(response: ServerResponse, status: number, body?: string): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(body);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Rows of instance_groups with their policy and member rows: two more statements for all. */
async function groupsJson(db: Db, rows: Selectable<InstanceGroupsTable>[]): Promise<GroupJson[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const [policies, members] = await Promise.all([
    db
      .selectFrom('instance_group_policy')
      .select(['group_id', 'policy', 'rules'])
      .where('group_id', 'in', ids)
      .execute(),
    db
      .selectFrom('instance_group_member')
      .select(['group_id', 'instance_uuid'])
      .where('group_id', 'in', ids)
      .execute(),
  ]);
  const policyOf = new Map(policies.map((p) => [p.group_id, p]));
  const membersOf = new Map<number, string[]>();
  for (const m of members) {
    if (m.instance_uuid !== null)
      membersOf.set(m.group_id, [...(membersOf.get(m.group_id) ?? []), m.instance_uuid]);
  }
  return rows.map((row) => {
    const policy = policyOf.get(row.id);
    return {
      id: row.uuid,
      name: row.name,
      policy: policy?.policy ?? null,
      rules: policy?.rules ? (JSON.parse(policy.rules) as Record<string, unknown>) : {},
      members: membersOf.get(row.id) ?? [],
      project_id: row.project_id,
      user_id: row.user_id,
    };
  });
}

interface CreateBody {
  server_group: { name: string; policy: string; rules?: Record<string, unknown> };
}

async function create(
  api: Database<ApiDatabase>,
  quota: number,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const { server_group: input } = JSON.parse(await readBody(request)) as CreateBody;
  const { userId, projectId } = owner(request);
  const rules = input.rules ?? {};
  const uuid = randomUUID();
  const now = new Date();
  const created = await api.db.transaction().execute(async (tx) => {
    if (quota >= 0) {
      const { n } = await tx
        .selectFrom('instance_groups')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('project_id', '=', projectId)
        .executeTakeFirstOrThrow();
      if (Number(n) + 1 > quota) return false;
    }
    const id = await api.engine.insertReturningId(
      tx.insertInto('instance_groups').values({
        uuid,
        name: input.name,
        user_id: userId,
        project_id: projectId,
        created_at: now,
        updated_at: null,
      }),
    );
    await tx
      .insertInto('instance_group_policy')
      .values({
        group_id: id,
        policy: input.policy,
        rules: Object.keys(rules).length === 0 ? null : JSON.stringify(rules),
        created_at: now,
      })
      .execute();
    return true;
  });
  if (!created) {
    send(response, 403, OVER_QUOTA);
    return;
  }
  const group: GroupJson = {
    id: uuid,
    name: input.name,
    policy: input.policy,
    rules,
    members: [],
    project_id: projectId,
    user_id: userId,
  };
  send(response, 200, JSON.stringify({ server_group: group }));
}

async function show(
  api: Database<ApiDatabase>,
  uuid: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const rows = await api.db
    .selectFrom('instance_groups')
    .selectAll()
    .where('uuid', '=', uuid)
    .where('project_id', '=', owner(request).projectId)
    .execute();
  const [group] = await groupsJson(api.db, rows);
  if (!group) {
    send(response, 404, NOT_FOUND);
    return;
  }
  send(response, 200, JSON.stringify({ server_group: group }));
}

async function list(
  api: Database<ApiDatabase>,
  maxLimit: number,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const rows = await api.db
    .selectFrom('instance_groups')
    .selectAll()
    .where('project_id', '=', owner(request).projectId)
    .orderBy('created_at')
    .orderBy('id')
    .limit(maxLimit)
    .execute();
  send(response, 200, JSON.stringify({ server_groups: await groupsJson(api.db, rows) }));
}

async function destroy(
  api: Database<ApiDatabase>,
  uuid: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const { projectId } = owner(request);
  const deleted = await api.db.transaction().execute(async (tx) => {
    const row = await api.engine
      .lockRows(
        tx.selectFrom('instance_groups').select(['id', 'project_id']).where('uuid', '=', uuid),
      )
      .executeTakeFirst();
    if (row?.project_id !== projectId) return false;
    await tx.deleteFrom('instance_group_member').where('group_id', '=', row.id).execute();
    await tx.deleteFrom('instance_group_policy').where('group_id', '=', row.id).execute();
    await tx.deleteFrom('instance_groups').where('id', '=', row.id).execute();
    return true;
  });
  if (!deleted) {
    send(response, 404, NOT_FOUND);
    return;
  }
  send(response, 204);
}

export interface BareServerOptions {
  /** `[quota] server_groups` (-1: unlimited), as the app is configured. */
  readonly quota: number;
  /** `[api] max_limit`: the most groups a list returns. */
  readonly maxLimit: number;
}

/** The bare server over `api` (not listening yet); closing it leaves `api` open. */
export function bareServer(api: Database<ApiDatabase>, options: BareServerOptions): Server {
  return createServer((request, response) => {
    const path = (request.url ?? '').split('?', 1)[0] ?? '';
    const id = path.startsWith(`${PREFIX}/`) ? path.slice(PREFIX.length + 1) : undefined;
    let work: Promise<void>;
    if (path === PREFIX && request.method === 'POST') {
      work = create(api, options.quota, request, response);
    } else if (path === PREFIX && request.method === 'GET') {
      work = list(api, options.maxLimit, request, response);
    } else if (id !== undefined && request.method === 'GET') {
      work = show(api, id, request, response);
    } else if (id !== undefined && request.method === 'DELETE') {
      work = destroy(api, id, request, response);
    } else {
      send(response, 404, NOT_FOUND);
      return;
    }
    work.catch((error: unknown) => {
      // The benchmark counts non-2xx answers and fails the run on any; the cause goes to stderr.
      console.error('bare server:', error);
      if (!response.headersSent) send(response, 500, '{"computeFault": {"code": 500}}');
    });
  });
}
