import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { API_SERVER } from './cli.js';

/** One JSON log line of the API (pino): `pid` is the process that wrote it. */
export interface LogLine {
  readonly pid: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** The built `cellgroups-api` in a real process, its output collected as it comes. */
export class ApiProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<ExitStatus>;
  private readonly waiters = new Set<() => void>();

  constructor(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
    this.child = spawn(process.execPath, [API_SERVER, ...args], {
      cwd: options.cwd,
      // Only what the test says: no OS_* overrides leak in from the caller's shell.
      env: { PATH: process.env.PATH ?? '', ...options.env },
    });
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
      this.wake();
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      this.wake();
    });
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => {
        resolve({ code, signal });
        this.wake();
      }),
    );
  }

  /** The log lines so far (stdout lines that are JSON). */
  get log(): LogLine[] {
    return this.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);
  }

  /** Waits until `found` returns something from the output so far; fails if the process exits first. */
  async until<T>(what: string, found: () => T | undefined, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = found();
      if (value !== undefined) return value;
      if (this.child.exitCode !== null || this.child.signalCode !== null || Date.now() > deadline) {
        throw new Error(`no ${what}; output so far:\n${this.stdout}${this.stderr}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The address printed once the server serves. */
  listening(): Promise<string> {
    return this.until(
      'listening line',
      () => /listening on (http:\/\/\S+:\d+)/.exec(this.stdout)?.[1],
    );
  }

  /** Pids that answered requests, from the one-line-per-request log. */
  requestPids(): Set<number> {
    return new Set(this.log.filter((l) => l.msg === 'request').map((l) => l.pid));
  }

  /** Pids of the workers the primary reported serving, in order. */
  servingWorkers(): number[] {
    return this.log.filter((l) => l.msg === 'worker serving').map((l) => Number(l.workerPid));
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  private wake(): void {
    for (const waiter of this.waiters) waiter();
    this.waiters.clear();
  }
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/**
 * One request on a connection of its own: node:cluster hands out
 * connections, not requests, so a kept-alive connection would always reach
 * the same worker.
 */
export function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<HttpAnswer> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: options.method ?? 'GET',
        agent: false,
        headers: {
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
      },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
