import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createConnection,
  type Connection,
  type ResultSetHeader,
  type RowDataPacket,
} from 'mysql2/promise';
import { describe, inject } from 'vitest';
import { ApiProcess } from '../api-process.js';
import { runManage, type RunResult } from '../cli.js';
import { novaEnv, run, type NovaDatabase, type Run } from './deployment.js';

/** The deployment the global setup made; only call inside a describeNova body. */
export function nova() {
  const info = inject('nova');
  if (!info.available) throw new Error(`Nova is not available: ${info.reason}`);
  return info;
}

/** A describe that runs only when the global setup could deploy Nova (it fails the run if required). */
export function describeNova(name: string, suite: () => void): void {
  const info = inject('nova');
  if (info.available) {
    describe(name, suite);
  } else {
    describe.skip(`${name} (skipped: ${info.reason})`, suite);
  }
}

/** One of Nova's console scripts (nova-manage, nova-status), with Nova's nova.conf. */
function novaCommand(name: string, args: readonly string[]): Promise<Run> {
  const { configFile, dir } = nova();
  return run(
    path.join(dir, 'bin', name),
    ['--config-file', configFile, ...args],
    novaEnv(path.join(dir, 'etc')),
  );
}

/** Nova's own `nova-manage`. */
export function novaManage(args: readonly string[]): Promise<Run> {
  return novaCommand('nova-manage', args);
}

/** Nova's own `nova-status`. */
export function novaStatus(args: readonly string[]): Promise<Run> {
  return novaCommand('nova-status', args);
}

/** `cellgroups-manage` with Nova's nova.conf, as an operator beside Nova runs it. */
export function cellgroupsManage(args: readonly string[]): Promise<RunResult> {
  return runManage(['--config-file', nova().configFile, ...args]);
}

export interface ApiAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

/**
 * One request to a compute API (Nova's or cellgroups'), as noauth2 takes it:
 * `X-Auth-Token: user:project`, admin being the user id `admin`.
 */
export async function computeRequest(
  base: string,
  method: string,
  route: string,
  options: {
    user?: string;
    project: string;
    microversion?: string;
    body?: unknown;
    /** The Accept header (default application/json); null sends none. */
    accept?: string | null;
  },
): Promise<ApiAnswer> {
  const headers: Record<string, string> = {
    'X-Auth-Token': `${options.user ?? 'user'}:${options.project}`,
  };
  if (options.accept !== null) headers.Accept = options.accept ?? 'application/json';
  if (options.microversion) headers['OpenStack-API-Version'] = `compute ${options.microversion}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`${base}/v2.1${route}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // Not JSON: the text itself is the answer.
  }
  return { status: response.status, headers: response.headers, body };
}

/** Nova's compute API of this deployment. */
export function novaApi(
  method: string,
  route: string,
  options: Parameters<typeof computeRequest>[3],
): Promise<ApiAnswer> {
  return computeRequest(nova().apiUrl, method, route, options);
}

async function withRoot<T>(
  database: NovaDatabase,
  work: (conn: Connection) => Promise<T>,
): Promise<T> {
  const conn = await createConnection({
    host: '127.0.0.1',
    port: nova().dbPort,
    user: 'root',
    database,
    dateStrings: true,
  });
  try {
    return await work(conn);
  } finally {
    await conn.end();
  }
}

/** Reads rows as root from one of Nova's databases (raw, timestamps as the server prints them). */
export function novaSql<T extends RowDataPacket>(
  database: NovaDatabase,
  sql: string,
  params: (string | number | null | readonly string[])[] = [],
): Promise<T[]> {
  return withRoot(database, async (conn) => (await conn.query<T[]>(sql, params))[0]);
}

/** Writes as root into one of Nova's databases (for rows Nova itself would have written). */
export function novaExec(
  database: NovaDatabase,
  sql: string,
  params: (string | number | null | readonly string[])[] = [],
): Promise<ResultSetHeader> {
  return withRoot(database, async (conn) => (await conn.query<ResultSetHeader>(sql, params))[0]);
}

/** Which of the two APIs a request goes to. */
export type Side = 'nova' | 'cellgroups';

/** Who calls, as noauth2 takes it (admin is the user id `admin`). */
export interface Caller {
  readonly user: string;
  readonly project: string;
}

/** cellgroups' API, started with Nova's nova.conf on a port of its own. */
export interface CellgroupsApi {
  /** Where it listens: `http://127.0.0.1:<port>`. */
  readonly base: string;
  /** One request, as `caller` at `microversion`, through Nova's API or this one. */
  call(
    side: Side,
    method: string,
    route: string,
    caller: Caller,
    microversion: string,
    body?: unknown,
  ): Promise<ApiAnswer>;
  /** The same request through both APIs: their answers, Nova's first. */
  both(
    method: string,
    route: string,
    caller: Caller,
    microversion: string,
    body?: unknown,
  ): Promise<[ApiAnswer, ApiAnswer]>;
  stop(): Promise<void>;
}

/**
 * Starts `cellgroups-api --config-file <Nova's nova.conf>` beside Nova's API,
 * after `api_db sync` (which adds only cellgroups' quota fence to Nova's API
 * database).
 */
export async function startCellgroupsApi(): Promise<CellgroupsApi> {
  const synced = await cellgroupsManage(['api_db', 'sync']);
  if (synced.code !== 0) throw new Error(`api_db sync failed: ${synced.stderr}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'cgt-nova-api-'));
  const api = new ApiProcess(['--config-file', nova().configFile], {
    cwd: dir,
    env: { OS_DEFAULT__OSAPI_COMPUTE_LISTEN_PORT: '0' },
  });
  const base = await api.until('the listening address', () => {
    const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(api.stdout);
    return match?.[1];
  });
  const call: CellgroupsApi['call'] = (side, method, route, caller, microversion, body) => {
    const options = { ...caller, microversion, ...(body === undefined ? {} : { body }) };
    return side === 'nova'
      ? novaApi(method, route, options)
      : computeRequest(base, method, route, options);
  };
  return {
    base,
    call,
    both: (method, route, caller, microversion, body) =>
      Promise.all([
        call('nova', method, route, caller, microversion, body),
        call('cellgroups', method, route, caller, microversion, body),
      ]),
    async stop() {
      api.child.kill('SIGTERM');
      await api.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
