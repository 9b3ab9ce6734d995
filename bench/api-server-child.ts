/**
 * One server of the API benchmark, in a process of its own so that it never
 * shares an event loop with the load generator (bench/api.ts forks it).
 *
 *   node dist-bench/bench/api-server-child.js app|bare <job as JSON>
 *
 * It answers on 127.0.0.1, on a port of the system's choosing, and tells
 * the parent that port over IPC; it stops when the parent says "stop" (or
 * goes away). Ctrl-C reaches the whole process group: the parent decides
 * when the servers stop, so SIGINT is ignored here.
 */
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../src/config/load.js';
import { buildApp } from '../src/api/app.js';
import { openDatabase } from '../src/db/connection.js';
import type { ApiDatabase } from '../src/db/schema/api.js';
import { bareServer } from './bare-api-server.js';

export type ServerKind = 'app' | 'bare';

/** What a server child is given. */
export interface ServerJob {
  readonly apiUrl: string;
  readonly cellUrl: string;
  /** `[DEFAULT] state_path` of the app (a scratch directory). */
  readonly stateDir: string;
}

/** What a server child says: its port once listening, or why it could not start. */
export type ServerMessage = { readonly port: number } | { readonly error: string };

async function start(
  kind: ServerKind,
  job: ServerJob,
): Promise<{ port: number; stop(): Promise<void> }> {
  // The app's whole configuration comes from here, as oslo.config's environment source
  // would give it: nothing from the parent's environment leaks in.
  const config = loadConfig({
    env: {
      OS_DEFAULT__STATE_PATH: job.stateDir,
      OS_API_DATABASE__CONNECTION: job.apiUrl,
      OS_DATABASE__CONNECTION: job.cellUrl,
    },
    cwd: job.stateDir,
  });
  if (kind === 'app') {
    const app = buildApp({ config });
    await app.listen({ host: '127.0.0.1', port: 0 });
    return { port: (app.server.address() as AddressInfo).port, stop: () => app.close() };
  }
  const api = openDatabase<ApiDatabase>(config.apiDatabaseUrl);
  const server = bareServer(api, {
    quota: config.values.quota.server_groups,
    maxLimit: config.values.api.max_limit,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      await api.close();
    },
  };
}

const [kind, jobText] = process.argv.slice(2);
const tell = (message: ServerMessage): void => {
  process.send?.(message);
};
process.on('SIGINT', () => {
  // The parent stops us once its load generator is quiet (see the header).
});
try {
  if ((kind !== 'app' && kind !== 'bare') || jobText === undefined || !process.send) {
    throw new Error('usage: api-server-child.js app|bare <job JSON> (forked with IPC)');
  }
  const server = await start(kind, JSON.parse(jobText) as ServerJob);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void server.stop().finally(() => {
      if (process.connected) process.disconnect();
      process.exit(0);
    });
  };
  process.on('message', (message) => {
    if (message === 'stop') stop();
  });
  process.on('disconnect', stop);
  tell({ port: server.port });
} catch (error) {
  tell({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exitCode = 1;
  if (process.connected) process.disconnect();
}
