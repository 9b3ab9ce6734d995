import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout these tests run from. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * What a fresh clone holds: the files git tracks. No `dist/`, no `data/`:
 * `prestart` must build, and the first start must create the data directory.
 */
function trackedFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((file) => file !== '' && existsSync(path.join(ROOT, file)));
}

/**
 * A temporary copy of the checkout as a fresh clone after `npm ci` would be:
 * the sources and npm's files copied, node_modules linked (installing again
 * would only take time). `remove()` deletes it.
 */
export class TempCheckout {
  readonly dir: string;

  constructor(prefix = 'cgt-checkout-') {
    // realpath: what the processes inside it print (macOS-style /tmp links, symlinked TMPDIR).
    this.dir = realpathSync(mkdtempSync(path.join(tmpdir(), prefix)));
    for (const file of trackedFiles()) {
      cpSync(path.join(ROOT, file), path.join(this.dir, file), { recursive: true });
    }
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(this.dir, 'node_modules'), 'dir');
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The environment of a command run as a newcomer would run it: PATH and HOME
 * (npm keeps its cache and logs there) and what the test adds; nothing from
 * the caller's shell (no OS_* overrides, no npm_* variables of an outer
 * `npm test`).
 */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    // npm's "new version available" notice would land in the output compared.
    npm_config_update_notifier: 'false',
    ...extra,
  };
}

/**
 * A command in a process group of its own (npm runs `sh -c`, which runs
 * node): signals go to the whole group, so nothing is left behind.
 */
export class ProcessGroup {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters = new Set<() => void>();

  constructor(
    command: string,
    args: readonly string[],
    options: { cwd: string; env: NodeJS.ProcessEnv },
  ) {
    this.child = spawn(command, args, { ...options, detached: true });
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
      this.wake();
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      this.wake();
    });
    // 'close', not 'exit': the processes npm starts write to the same pipes, and their
    // last lines come after npm itself has gone.
    this.exited = new Promise((resolve) =>
      this.child.on('close', (code, signal) => {
        resolve({ code, signal });
        this.wake();
      }),
    );
  }

  /** Waits until `found` returns something from the output so far; fails if the process exits first. */
  async until<T>(what: string, found: () => T | undefined, timeoutMs = 120_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = found();
      if (value !== undefined) return value;
      if (this.child.exitCode !== null || this.child.signalCode !== null || Date.now() > deadline) {
        throw new Error(`no ${what}; output so far:\n${this.stdout}${this.stderr}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Sends `signal` to every process of the group. */
  signal(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  /**
   * The processes of the group still running. Exited ones count as gone even
   * while nobody has reaped them (a container's PID 1 may never do it).
   */
  running(): number[] {
    const group = this.child.pid;
    if (group === undefined) return [];
    if (!existsSync('/proc/self/stat')) {
      try {
        process.kill(-group, 0);
        return [group];
      } catch {
        return [];
      }
    }
    const pids: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // gone meanwhile
      }
      // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === group && state !== 'Z' && state !== 'X') pids.push(Number(entry));
    }
    return pids;
  }

  /** Waits (bounded) until the whole group is gone. */
  async gone(timeoutMs = 15_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.running().length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return this.running().length === 0;
  }

  /** For cleanup: whatever is left of the group is killed. */
  kill(): void {
    this.signal('SIGKILL');
  }

  private wake(): void {
    for (const waiter of this.waiters) waiter();
    this.waiters.clear();
  }
}
