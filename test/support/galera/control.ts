import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GaleraCluster } from './cluster.js';

/**
 * The cluster belongs to the process that started it (vitest's global
 * setup), which alone may signal and restart its nodes and must know their
 * pids to stop them at the end. Test files run in workers, so they ask that
 * process over this small loopback HTTP endpoint.
 */
export interface ControlAddress {
  readonly url: string;
  /** Sent as a bearer token: other programs on the machine cannot kill our nodes. */
  readonly token: string;
}

export interface Control {
  readonly address: ControlAddress;
  close(): Promise<void>;
}

const ROUTE = /^\/nodes\/(\d+)\/(kill|restart|status|wait)(?:\?size=(\d+))?$/;

async function answer(cluster: GaleraCluster, request: IncomingMessage): Promise<unknown> {
  const match = ROUTE.exec(request.url ?? '');
  if (!match)
    throw new RangeError(`no such control route: ${request.method ?? ''} ${request.url ?? ''}`);
  const index = Number(match[1]);
  switch (match[2]) {
    case 'kill':
      await cluster.kill(index);
      return {};
    case 'restart':
      return cluster.restart(index);
    case 'wait':
      await cluster.waitSynced(index, Number(match[3] ?? 3));
      return cluster.status(index);
    default:
      return cluster.status(index);
  }
}

export async function serveControl(cluster: GaleraCluster): Promise<Control> {
  const token = randomBytes(16).toString('hex');
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (request.headers.authorization !== `Bearer ${token}`) {
      reply(401, { error: 'bad token' });
      return;
    }
    answer(cluster, request).then(
      (body) => {
        reply(200, body);
      },
      (error: unknown) => {
        reply(500, { error: error instanceof Error ? error.message : String(error) });
      },
    );
  });
  // A restart may wait for a full state transfer; never let Node cut it short.
  server.requestTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: { url: `http://127.0.0.1:${port}`, token },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** Calls the control endpoint from a test worker. */
export async function callControl<T>(address: ControlAddress, route: string): Promise<T> {
  const response = await fetch(`${address.url}${route}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${address.token}` },
    signal: AbortSignal.timeout(180_000),
  });
  const body = (await response.json()) as T & { error?: string };
  if (!response.ok)
    throw new Error(`Galera control ${route}: ${body.error ?? response.statusText}`);
  return body;
}
