import cluster, { type Address, type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { RestartPolicy } from './restart-policy.js';
import { FORCED_EXIT } from './serve.js';

export interface PrimaryOptions {
  /** How many worker processes (`[DEFAULT] osapi_compute_workers`). */
  readonly workers: number;
  /** The workers' `graceful_shutdown_timeout` in ms (0: none); the primary waits a little longer. */
  readonly shutdownTimeoutMs: number;
  readonly log: Logger;
  readonly policy?: RestartPolicy;
}

/** A worker is a numbered slot (1…N) that keeps its number across restarts, as in the log. */
interface Slot {
  readonly number: number;
  worker: Worker | undefined;
  startedAt: number;
  listening: boolean;
}

/** How long the primary waits past the workers' own deadline before it kills them. */
const BACKSTOP_MARGIN_MS = 5_000;

/**
 * The primary process of a multi-worker API server: forks the workers (each
 * runs `serveApi`, this same script), prints the address once they all
 * serve, replaces a worker that dies (see RestartPolicy), and on SIGTERM or
 * SIGINT forwards SIGTERM to the workers and waits for them. Resolves with
 * the status the primary should exit with.
 *
 * The workers share one listening socket: node:cluster's primary owns it and
 * hands connections out round-robin. Workers that all listen on port 0 get
 * the same socket (cluster keys it by address and port as asked), so "any
 * free port" gives one port for all of them; it is only chosen anew if every
 * worker is gone at once, which the primary then reports.
 */
export function runPrimary(options: PrimaryOptions): Promise<number> {
  const { log, workers } = options;
  const policy = options.policy ?? new RestartPolicy();
  const slots: Slot[] = Array.from({ length: workers }, (_, i) => ({
    number: i + 1,
    worker: undefined,
    startedAt: 0,
    listening: false,
  }));
  let serving = false;
  let announced: string | undefined;
  let stopping = false;
  let status = 0;
  let backstop: NodeJS.Timeout | undefined;
  let finish: (status: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (finish = resolve));

  const slotOf = (worker: Worker) => slots.find((slot) => slot.worker === worker);
  const alive = () => slots.filter((slot) => slot.worker !== undefined);

  const start = (slot: Slot) => {
    slot.worker = cluster.fork();
    slot.startedAt = Date.now();
    slot.listening = false;
    log.info({ worker: slot.number, workerPid: slot.worker.process.pid }, 'worker started');
  };

  const stop = (exitStatus: number) => {
    status = Math.max(status, exitStatus);
    if (stopping) return;
    stopping = true;
    for (const slot of alive()) slot.worker?.process.kill('SIGTERM');
    if (options.shutdownTimeoutMs > 0) {
      backstop = setTimeout(() => {
        log.error('workers did not stop in time: killing them');
        status = 1;
        for (const slot of alive()) slot.worker?.process.kill('SIGKILL');
      }, options.shutdownTimeoutMs + BACKSTOP_MARGIN_MS);
    }
    if (alive().length === 0) finish(status);
  };

  cluster.on('listening', (worker: Worker, address: Address) => {
    const slot = slotOf(worker);
    if (!slot || slot.listening) return;
    slot.listening = true;
    log.info({ worker: slot.number, workerPid: worker.process.pid }, 'worker serving');
    const url = urlOf(address);
    if (!serving && slots.every((s) => s.listening)) {
      serving = true;
      announced = url;
      console.log(
        `cellgroups compute API listening on ${url} with ${workers} workers (try: curl ${url}/)`,
      );
    } else if (serving && url !== announced) {
      announced = url;
      console.log(`cellgroups compute API now listening on ${url} (every worker had stopped)`);
    }
  });

  cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
    const slot = slotOf(worker);
    if (!slot) return;
    slot.worker = undefined;
    const how = code !== null ? `exited with status ${code}` : `was killed by ${signal ?? '?'}`;
    const fields = { worker: slot.number, workerPid: worker.process.pid, code, signal };
    if (stopping) {
      if (code !== 0) status = 1;
      log.info(fields, `worker ${how}`);
      if (alive().length === 0) {
        clearTimeout(backstop);
        finish(status);
      }
      return;
    }
    if (!serving) {
      // A worker that cannot start (bad option, port taken) would fail the same way again.
      console.error(
        `cellgroups-api: worker ${slot.number} (pid ${worker.process.pid ?? '?'}) ${how} before it was serving; stopping`,
      );
      stop(1);
      return;
    }
    const decision = policy.onDeath(slot.startedAt, Date.now());
    if (decision.action === 'give-up') {
      log.error(fields, `worker ${how}; not restarting it`);
      console.error(`cellgroups-api: ${decision.reason}; stopping`);
      stop(1);
      return;
    }
    log.warn({ ...fields, delayMs: decision.delayMs }, `worker ${how}; restarting it`);
    setTimeout(() => {
      if (!stopping) start(slot);
    }, decision.delayMs);
  });

  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      if (signal === 'SIGINT') {
        log.warn({ signal }, 'second interrupt: killing the workers');
        for (const slot of alive()) slot.worker?.process.kill('SIGKILL');
        process.exit(FORCED_EXIT);
      }
      return;
    }
    signalled = true;
    log.info({ signal }, 'shutting down: stopping the workers');
    stop(0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  for (const slot of slots) start(slot);
  return done;
}

function urlOf(address: Address): string {
  const host = address.address;
  return `http://${address.addressType === 6 ? `[${host}]` : host}:${address.port}`;
}
