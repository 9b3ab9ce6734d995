import type { TestProject } from 'vitest/node';
import { describeError } from '../../../src/errors.js';
import { requiredEngines } from '../required-engines.js';
import { GaleraCluster } from './cluster.js';
import { serveControl } from './control.js';
import type { GaleraProvided } from '../galera.js';

/**
 * The `galera` project's global setup: one 3-node cluster for all its files
 * (they run one after another: a test kills nodes), stopped at the end.
 * Not there (packages missing, or it would not start) is a skip notice,
 * unless CELLGROUPS_REQUIRE_ENGINES names galera (or all): then a failure.
 */
export default async function setup(
  project: TestProject,
): Promise<(() => Promise<void>) | undefined> {
  const started = Date.now();
  let cluster: GaleraCluster;
  try {
    cluster = await GaleraCluster.start();
  } catch (error) {
    const why = `a 3-node Galera cluster could not start: ${describeError(error)}`;
    if (requiredEngines().has('galera')) {
      throw new Error(
        `${why}\nCELLGROUPS_REQUIRE_ENGINES requires Galera (packages galera-4, mariadb-server and rsync; .ci/run installs them).`,
      );
    }
    console.warn(
      `cellgroups tests: skipping the Galera suites, ${why}\n  (set CELLGROUPS_REQUIRE_ENGINES=all or galera to make this a failure)`,
    );
    const provided: GaleraProvided = { available: false, reason: why };
    project.provide('galera', provided);
    return undefined;
  }
  const control = await serveControl(cluster);
  const provided: GaleraProvided = {
    available: true,
    nodes: cluster.nodes,
    control: control.address,
  };
  project.provide('galera', provided);
  console.log(
    `cellgroups tests: Galera cluster Synced in ${((Date.now() - started) / 1000).toFixed(1)} s, ` +
      `nodes on 127.0.0.1 ports ${cluster.nodes.map((n) => n.port).join(', ')}`,
  );
  return async () => {
    await control.close();
    await cluster.stop();
  };
}
