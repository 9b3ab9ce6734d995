import { describe, inject } from 'vitest';
import type { GaleraNodeInfo, Rejoin, WsrepStatus } from './galera/cluster.js';
import { callControl, type ControlAddress } from './galera/control.js';
import type { TestEngine } from './engines.js';

/**
 * What Galera test files use: the nodes of the cluster the `galera`
 * project's global setup started (support/galera/global-setup.ts), and
 * kill/restart of a node, which that process carries out for them.
 */
export type { GaleraNodeInfo, Rejoin, WsrepStatus } from './galera/cluster.js';

export type GaleraProvided =
  | { readonly available: true; readonly nodes: GaleraNodeInfo[]; readonly control: ControlAddress }
  | { readonly available: false; readonly reason: string };

declare module 'vitest' {
  export interface ProvidedContext {
    galera: GaleraProvided;
  }
}

export class GaleraTestCluster {
  constructor(
    readonly nodes: readonly GaleraNodeInfo[],
    private readonly control: ControlAddress,
  ) {}

  node(index: number): GaleraNodeInfo {
    const node = this.nodes[index - 1];
    if (!node) throw new RangeError(`no Galera node ${index}`);
    return node;
  }

  /** Node `index` as a server engine, for freshDatabase() and the like. */
  engine(index: number): TestEngine {
    return { name: 'mysql', label: `Galera node ${index}`, serverUrl: this.node(index).url };
  }

  /** SIGKILL to that node's mariadbd only; resolves once it has exited. */
  kill(index: number): Promise<void> {
    return callControl(this.control, `/nodes/${index}/kill`);
  }

  /**
   * Starts it again as its service unit would (position recovered from
   * InnoDB first); resolves once it and the others are Synced together,
   * saying whether it caught up by IST or needed an SST.
   */
  restart(index: number): Promise<Rejoin> {
    return callControl(this.control, `/nodes/${index}/restart`);
  }

  status(index: number): Promise<WsrepStatus> {
    return callControl(this.control, `/nodes/${index}/status`);
  }

  /** Waits until node `index` is Synced in a cluster of `size`. */
  waitSynced(index: number, size: number): Promise<WsrepStatus> {
    return callControl(this.control, `/nodes/${index}/wait?size=${size}`);
  }
}

/**
 * A describe block that runs on the cluster, or is skipped (the global
 * setup has already said why) when there is none.
 */
export function describeGalera(name: string, suite: (cluster: GaleraTestCluster) => void): void {
  const provided = inject('galera');
  if (!provided.available) {
    describe.skip(`${name} (no Galera cluster: ${provided.reason})`, () => undefined);
    return;
  }
  describe(name, () => {
    suite(new GaleraTestCluster(provided.nodes, provided.control));
  });
}
