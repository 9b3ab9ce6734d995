import { spawn, spawnSync } from 'node:child_process';
import {
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createConnection } from 'mysql2/promise';
import { nodeConfig, type ClusterSettings, type NodeLayout } from './node-config.js';
import { freePorts } from './ports.js';

/**
 * A 3-node MariaDB Galera cluster on loopback, for tests: each node has its
 * own directory, socket and ports, runs as the `mysql` user when we are root,
 * and dies with the process that started it. Only the processes started here
 * are ever signalled.
 */

/** What a test needs to know about one node. */
export interface GaleraNodeInfo {
  /** 1, 2 or 3. */
  readonly index: number;
  readonly port: number;
  /** A server URL in nova.conf's form, on the `mysql` database (swap it with serverUrlFor). */
  readonly url: string;
  readonly socket: string;
}

/** Galera is not installed here (or not usable): a reason to skip, unless required. */
export class GaleraUnavailable extends Error {
  override readonly name = 'GaleraUnavailable';
}

export interface WsrepStatus {
  readonly state: string;
  readonly size: number;
  readonly ready: boolean;
}

/** How a restarted node caught up. */
export interface Rejoin {
  /** The position InnoDB recovered (uuid:seqno), or null if it had none. */
  readonly recoveredPosition: string | null;
  /** SST: a full copy from a donor; IST: only the writes it missed; none: it missed nothing. */
  readonly transfer: 'SST' | 'IST' | 'none';
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

const SYNC_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 15_000;

interface Programs {
  readonly mariadbd: string;
  readonly installDb: string;
  readonly provider: string;
  /** setpriv, to drop to `mysql` and to set the parent-death signal; absent elsewhere than Linux. */
  readonly setpriv: string | undefined;
}

function which(name: string): string | undefined {
  // mariadbd lives in /usr/sbin, which a non-root PATH may lack.
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Finds the programs, or says which Debian package is missing. */
export function findPrograms(): Programs {
  const missing: string[] = [];
  const mariadbd = which('mariadbd');
  const installDb = which('mariadb-install-db');
  if (!mariadbd || !installDb) missing.push('mariadb-server');
  // An explicit provider is the only one tried (also how to see the skip path).
  const explicit = process.env.CELLGROUPS_GALERA_PROVIDER;
  const provider = (
    explicit
      ? [explicit]
      : ['/usr/lib/galera/libgalera_smm.so', '/usr/lib64/galera-4/libgalera_smm.so']
  ).find((p) => existsSync(p));
  if (!provider) missing.push('galera-4');
  if (!which('rsync')) missing.push('rsync');
  if (!mariadbd || !installDb || !provider || missing.length > 0) {
    throw new GaleraUnavailable(
      `Galera is not installed (missing: ${missing.join(', ')}; on Debian: apt-get install ${missing.join(' ')})`,
    );
  }
  return { mariadbd, installDb, provider, setpriv: which('setpriv') };
}

const isRoot = () => process.getuid?.() === 0;

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

interface Running {
  readonly pid: number;
  /** Settles when the process has exited, with how. */
  readonly exited: Promise<string>;
  done: boolean;
}

/** Every cluster not yet stopped, so that an exiting process takes its nodes along. */
const live = new Set<GaleraCluster>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous on purpose: nothing asynchronous runs in an 'exit' listener.
  process.on('exit', () => {
    for (const cluster of live) cluster.killNow();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      for (const cluster of live) cluster.killNow();
      // Ours was the only listener: do what the signal would have done.
      if (process.listenerCount(signal) === 1)
        process.exit(128 + (signal === 'SIGHUP' ? 1 : signal === 'SIGINT' ? 2 : 15));
    };
    process.on(signal, onSignal);
  }
}

export class GaleraCluster {
  private readonly running = new Map<number, Running>();

  private constructor(
    private readonly programs: Programs,
    private readonly base: string,
    private readonly settings: ClusterSettings,
  ) {}

  /**
   * Bootstraps node 1 (--wsrep-new-cluster), lets root in over TCP with an
   * empty password, then joins nodes 2 and 3 (full state transfer by rsync),
   * and returns once all three report Synced in a cluster of 3.
   */
  static async start(): Promise<GaleraCluster> {
    const programs = findPrograms();
    sweepAbandoned();
    const base = mkdtempSync(path.join(tmpdir(), BASE_PREFIX));
    writeFileSync(path.join(base, OWNER_FILE), String(process.pid));
    const ports = await freePorts(12);
    const nodes: NodeLayout[] = [1, 2, 3].map((index) => {
      const dir = path.join(base, `node${index}`);
      const at = (i: number) => ports[(index - 1) * 4 + i] ?? 0;
      return {
        index,
        dir,
        datadir: path.join(dir, 'data'),
        socket: path.join(dir, 'mariadbd.sock'),
        config: path.join(dir, 'my.cnf'),
        errorLog: path.join(dir, 'error.log'),
        ports: { sql: at(0), gmcast: at(1), ist: at(2), sst: at(3) },
      };
    });
    const settings: ClusterSettings = {
      // Unique, so that a node never joins another run's cluster.
      name: path.basename(base),
      provider: programs.provider,
      nodes,
    };
    const cluster = new GaleraCluster(programs, base, settings);
    live.add(cluster);
    installExitHook();
    try {
      cluster.prepareFiles();
      cluster.installSystemTables(1);
      await cluster.launch(1, ['--wsrep-new-cluster']);
      await cluster.waitSynced(1, 1);
      await cluster.allowRootOverTcp();
      // Both at once: a donor busy with one joiner makes the other retry, which is still quicker.
      await Promise.all([cluster.launch(2), cluster.launch(3)]);
      await Promise.all([1, 2, 3].map((i) => cluster.waitSynced(i, 3)));
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  get nodes(): GaleraNodeInfo[] {
    return this.settings.nodes.map((n) => ({
      index: n.index,
      port: n.ports.sql,
      url: `mysql+pymysql://root@127.0.0.1:${n.ports.sql}/mysql?charset=utf8`,
      socket: n.socket,
    }));
  }

  private layout(index: number): NodeLayout {
    const node = this.settings.nodes[index - 1];
    if (!node)
      throw new RangeError(
        `no Galera node ${index} (nodes are 1 to ${this.settings.nodes.length})`,
      );
    return node;
  }

  /** The pid of node `index`'s mariadbd, if it runs. */
  pid(index: number): number | undefined {
    const running = this.running.get(index);
    return running && !running.done ? running.pid : undefined;
  }

  private prepareFiles(): void {
    const owner = isRoot() ? mysqlIds() : undefined;
    for (const node of this.settings.nodes) {
      for (const dir of [node.dir, node.datadir, path.join(node.dir, 'tmp')]) {
        mkdirSync(dir, { recursive: true });
        if (owner) chownSync(dir, owner.uid, owner.gid);
      }
      writeFileSync(node.config, nodeConfig(this.settings, node));
    }
    // mkdtemp makes the base 0700: the mysql user must get through it.
    if (owner) chownSync(this.base, owner.uid, owner.gid);
  }

  /** System tables on the bootstrap node only: the joiners receive everything by SST. */
  private installSystemTables(index: number): void {
    const node = this.layout(index);
    const result = spawnSync(
      this.programs.installDb,
      [
        // Must come first; with it no system option file is read.
        `--defaults-file=${node.config}`,
        ...(isRoot() ? ['--user=mysql'] : []),
        '--skip-test-db',
        // root@localhost, root@127.0.0.1 and root@::1 without a password, as before 10.4.
        '--auth-root-authentication-method=normal',
        // No Galera while writing the system tables: there is no cluster yet.
        '--wsrep-on=OFF',
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    if (result.status !== 0) {
      throw new Error(
        `mariadb-install-db failed for Galera node ${index} (${result.error?.message ?? `exit ${String(result.status)}`}):\n${result.stdout}${result.stderr}`,
      );
    }
  }

  /**
   * The command line of node `node`'s mariadbd. setpriv execs the server
   * (same pid): as `mysql` when we are root, and with SIGKILL as its
   * parent-death signal so that it never outlives the test run, even if the
   * runner itself is killed.
   */
  private serverCommand(node: NodeLayout, extra: readonly string[]): string[] {
    // --defaults-file must come first.
    const server = [this.programs.mariadbd, `--defaults-file=${node.config}`, ...extra];
    const { setpriv } = this.programs;
    return setpriv
      ? [
          setpriv,
          ...(isRoot() ? ['--reuid=mysql', '--regid=mysql', '--init-groups'] : []),
          '--pdeathsig=KILL',
          '--',
          ...server,
        ]
      : [...server, ...(isRoot() ? ['--user=mysql'] : [])];
  }

  /**
   * What the systemd unit's galera_recovery does before a start: after a
   * crash grastate.dat says seqno -1, and without the position recovered
   * from InnoDB the node would need a full state transfer (SST) where the
   * donor's gcache could serve it the missed writes (IST).
   */
  private recoverPosition(index: number): string | undefined {
    const node = this.layout(index);
    const log = path.join(node.dir, 'recover.log');
    rmSync(log, { force: true });
    const [command = '', ...args] = this.serverCommand(node, [
      '--wsrep-recover',
      `--log-error=${log}`,
    ]);
    const result = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 });
    let text = '';
    try {
      text = readFileSync(log, 'utf8');
    } catch {
      // no log: nothing recovered
    }
    const position = /WSREP: Recovered position: ([0-9a-f-]+:\d+)\s*$/m.exec(text)?.[1];
    if (result.status !== 0 && position === undefined) {
      throw new Error(`mariadbd --wsrep-recover failed for Galera node ${index}:\n${tail(log)}`);
    }
    return position;
  }

  private launch(index: number, extra: readonly string[] = []): Promise<void> {
    const node = this.layout(index);
    if (this.pid(index) !== undefined) throw new Error(`Galera node ${index} is already running`);
    const argv = this.serverCommand(node, extra);
    const out = openSync(path.join(node.dir, 'stdout.log'), 'a');
    const [command = '', ...args] = argv;
    // Its own process group: the state-transfer scripts it starts can be
    // stopped with it, and a ^C in the terminal does not reach it first.
    const child = spawn(command, args, { detached: true, stdio: ['ignore', out, out] });
    closeSync(out);
    const pid = child.pid;
    if (pid === undefined) {
      return new Promise((_resolve, reject) => {
        child.once('error', (error) => {
          reject(new Error(`could not start Galera node ${index}: ${error.message}`));
        });
      });
    }
    const running: Running = {
      pid,
      done: false,
      exited: new Promise((resolve) => {
        child.once('exit', (code, signal) => {
          running.done = true;
          resolve(signal ? `killed by ${signal}` : `exit ${String(code)}`);
        });
      }),
    };
    this.running.set(index, running);
    return Promise.resolve();
  }

  /** Runs `statement` on node `index` through its socket (no TCP grants needed). */
  private async query<T>(index: number, statement: string): Promise<T[]> {
    const connection = await createConnection({
      socketPath: this.layout(index).socket,
      user: 'root',
      connectTimeout: 2000,
    });
    try {
      const [rows] = await connection.query(statement);
      return rows as T[];
    } finally {
      await connection.end();
    }
  }

  async status(index: number): Promise<WsrepStatus> {
    const rows = await this.query<{ Variable_name: string; Value: string }>(
      index,
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state_comment', 'wsrep_cluster_size', 'wsrep_ready')",
    );
    const value = (name: string) => rows.find((r) => r.Variable_name.toLowerCase() === name)?.Value;
    return {
      state: value('wsrep_local_state_comment') ?? '',
      size: Number(value('wsrep_cluster_size') ?? 0),
      ready: value('wsrep_ready') === 'ON',
    };
  }

  /** Waits until node `index` reports Synced in a cluster of `size`; fails at once if it exits. */
  async waitSynced(index: number, size: number, timeoutMs = SYNC_TIMEOUT_MS): Promise<void> {
    const node = this.layout(index);
    const deadline = Date.now() + timeoutMs;
    let last = 'not answering';
    for (;;) {
      const running = this.running.get(index);
      if (!running || running.done) {
        const how = running ? await running.exited : 'not started';
        throw new Error(
          `Galera node ${index} stopped (${how}) before it was Synced; ${node.errorLog}:\n${tail(node.errorLog)}`,
        );
      }
      try {
        const status = await this.status(index);
        if (status.state === 'Synced' && status.ready && status.size === size) return;
        last = `${status.state || 'no state'}, cluster size ${status.size}`;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `Galera node ${index} was not Synced in a cluster of ${size} after ${timeoutMs / 1000} s (last: ${last}); ${node.errorLog}:\n${tail(node.errorLog)}`,
        );
      }
      await sleep(200);
    }
  }

  private async allowRootOverTcp(): Promise<void> {
    // Replicated to the joiners with the rest of the system tables.
    await this.query(1, "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'");
    await this.query(1, "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION");
  }

  /** SIGKILL to node `index`'s mariadbd, and only to it; resolves once it is gone. */
  async kill(index: number): Promise<void> {
    const running = this.running.get(index);
    if (!running || running.done) throw new Error(`Galera node ${index} is not running`);
    process.kill(running.pid, 'SIGKILL');
    await running.exited;
  }

  /**
   * Starts node `index` again after a kill or a stop: it rejoins (IST or
   * SST) and this resolves once every running node is Synced in a cluster
   * of all of them.
   */
  async restart(index: number): Promise<Rejoin> {
    const node = this.layout(index);
    if (this.pid(index) !== undefined) throw new Error(`Galera node ${index} is already running`);
    const position = this.recoverPosition(index);
    const logStart = sizeOf(node.errorLog);
    await this.launch(index, position ? [`--wsrep-start-position=${position}`] : []);
    const up = this.settings.nodes.map((n) => n.index).filter((i) => this.pid(i) !== undefined);
    await this.waitSynced(index, up.length);
    await Promise.all(up.map((i) => this.waitSynced(i, up.length)));
    // What this start logged. With a recovered position the SST script only
    // hands over ("rsync IST completed") and the donor's gcache sends the rest.
    const logged = readFileSync(node.errorLog, 'utf8').slice(logStart);
    const byScript = /rsync (SST|IST) completed on joiner/.exec(logged)?.[1] as
      'SST' | 'IST' | undefined;
    const transfer = byScript ?? (/WSREP: IST received/.test(logged) ? 'IST' : 'none');
    return { recoveredPosition: position ?? null, transfer };
  }

  /** SIGTERM to every node, SIGKILL to those still there after a while; then the files go. */
  async stop(): Promise<void> {
    await Promise.all(
      [...this.running.values()].map(async (running) => {
        if (running.done) return;
        signalGroup(running.pid, 'SIGTERM');
        const timer = setTimeout(() => {
          signalGroup(running.pid, 'SIGKILL');
        }, STOP_TIMEOUT_MS);
        await running.exited;
        clearTimeout(timer);
        // Whatever it started (a state-transfer script) goes with it.
        signalGroup(running.pid, 'SIGKILL');
      }),
    );
    live.delete(this);
    if (process.env.CELLGROUPS_GALERA_KEEP) {
      // For a post-mortem: the logs and data directories stay (and the next run's sweep removes them).
      console.log(`cellgroups tests: Galera files kept in ${this.base}`);
    } else {
      rmSync(this.base, { recursive: true, force: true });
    }
  }

  /** For exit paths: SIGKILL everything at once, remove the files, wait for nothing. */
  killNow(): void {
    for (const running of this.running.values()) signalGroup(running.pid, 'SIGKILL');
    live.delete(this);
    rmSync(this.base, { recursive: true, force: true });
  }
}

/** Signals the process group led by `pid` (one of ours: spawned detached); gone already is fine. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: nothing left in that group.
  }
}

const BASE_PREFIX = 'cellgroups-galera-';
const OWNER_FILE = 'owner.pid';

/**
 * Removes the directories of runs whose process is gone (killed before it
 * could clean up; its nodes died with it). Another live run's are kept.
 */
function sweepAbandoned(): void {
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith(BASE_PREFIX)) continue;
    const dir = path.join(tmpdir(), entry);
    let owner: number;
    try {
      owner = Number(readFileSync(path.join(dir, OWNER_FILE), 'utf8'));
    } catch {
      continue; // not ours to judge
    }
    if (Number.isInteger(owner) && owner > 0 && !isAlive(owner)) {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function mysqlIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('mysql:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) {
    throw new GaleraUnavailable(
      'there is no mysql user to run mariadbd as (it comes with mariadb-server)',
    );
  }
  return { uid: Number(uid), gid: Number(gid) };
}
