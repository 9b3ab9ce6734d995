import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config/load.js';
import { buildApp } from '../app.js';

/** Exit status of a process stopped by a second Ctrl-C (128 + SIGINT, as a shell reports it). */
export const FORCED_EXIT = 130;

/**
 * Builds the compute API, stops it gracefully on SIGTERM or SIGINT, and
 * listens: what one API process does, alone or as one of several workers.
 * Resolves with the address it listens on.
 */
export async function serveApi(config: Config): Promise<string> {
  const app = buildApp({ config, logger: true });
  stopGracefullyOnSignals(app, config.values.DEFAULT.graceful_shutdown_timeout * 1000);
  const { osapi_compute_listen: host, osapi_compute_listen_port: port } = config.values.DEFAULT;
  return app.listen({ host, port });
}

/**
 * On the first SIGTERM or SIGINT: stop accepting connections (Node closes
 * the idle kept-alive ones), let requests in flight finish (app.ts closes
 * their connections after the answer), close the databases (`app.close()`
 * runs the GroupService's close after the server's), exit 0. Requests still running
 * after `timeoutMs` (0: no limit) are cut off and the process exits 1, as
 * oslo.service does past its graceful_shutdown_timeout. A second SIGINT (a
 * second Ctrl-C) exits at once; a repeated SIGTERM changes nothing, since a
 * primary process forwards one to workers that the terminal may also have
 * sent a SIGINT.
 */
export function stopGracefullyOnSignals(app: FastifyInstance, timeoutMs: number): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      if (signal === 'SIGINT') {
        app.log.warn({ signal }, 'second interrupt: exiting without waiting for requests');
        process.exit(FORCED_EXIT);
      }
      return;
    }
    stopping = true;
    app.log.info({ signal }, 'shutting down: no new connections, finishing requests in flight');
    const deadline =
      timeoutMs > 0
        ? setTimeout(() => {
            app.log.error(
              { timeoutMs },
              'graceful_shutdown_timeout exceeded: exiting with requests still in flight',
            );
            process.exit(1);
          }, timeoutMs)
        : undefined;
    app.close().then(
      () => {
        clearTimeout(deadline);
        app.log.info('stopped');
        // Explicit: a driver's stray timer or socket must not keep a stopped server alive.
        process.exit(0);
      },
      (error: unknown) => {
        clearTimeout(deadline);
        app.log.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
