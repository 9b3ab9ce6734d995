#!/usr/bin/env node
import cluster from 'node:cluster';
import { Command } from 'commander';
import { pino } from 'pino';
import { firstRun } from '../../cells/setup.js';
import { describeIgnored, loadConfig } from '../../config/load.js';
import { describeError } from '../../errors.js';
import { VERSION } from '../../version.js';
import { serveApi } from './serve.js';
import { runPrimary } from './workers.js';

/**
 * `cellgroups-api`: serves the compute API. With `--bootstrap` (what
 * `npm start` passes) it first prepares a local deployment: data directory,
 * both schemas, cell0 and one cell. With `[DEFAULT] osapi_compute_workers`
 * above 1 this process becomes the primary of that many worker processes
 * (see workers.ts), each of which runs this script again as a worker.
 */
async function main(argv: readonly string[]): Promise<void> {
  const options = new Command('cellgroups-api')
    .description('Serve the os-server-groups compute API.')
    .version(VERSION, '--version', 'print the cellgroups version and exit')
    .option(
      '--config-file <path>',
      'nova.conf-style file to read; may be repeated, later files win',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option(
      '--bootstrap',
      'create and sync the databases and map cell0 and the local cell before serving',
    )
    .parse([...argv], { from: 'user' })
    .opts<{ configFile: string[]; bootstrap?: boolean }>();

  const config = loadConfig({ files: options.configFile });
  const workers = config.values.DEFAULT.osapi_compute_workers;
  const log = pino({ level: config.values.DEFAULT.debug ? 'debug' : 'info' });
  if (!cluster.isWorker) {
    for (const setting of config.ignored) log.debug(describeIgnored(setting));
    if (config.values.quota.count_usage_from_placement) {
      log.warn(
        '[quota] count_usage_from_placement = True: cellgroups has no placement client and counts ' +
          'instances, cores and RAM in use from the cell databases (as Nova does with False); ' +
          "its /limits and os-quota-sets usage may differ from Nova's.",
      );
    }
  }
  if (cluster.isWorker) {
    // Forked by the primary below, with the same arguments: it bootstrapped already.
    await serveApi(config);
    return;
  }
  if (options.bootstrap) {
    for (const line of await firstRun(config)) console.log(line);
  }
  if (workers === 1) {
    const address = await serveApi(config);
    console.log(`cellgroups compute API listening on ${address} (try: curl ${address}/)`);
    return;
  }
  process.exit(
    await runPrimary({
      workers,
      shutdownTimeoutMs: config.values.DEFAULT.graceful_shutdown_timeout * 1000,
      log,
    }),
  );
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`cellgroups-api: ${describeError(error)}`);
  // Not just exitCode: a worker's channel to its primary would keep it alive.
  process.exit(1);
});
