#!/usr/bin/env node
import { Command } from 'commander';
import { firstRun } from '../cells/setup.js';
import { loadConfig } from '../config/load.js';
import { describeError } from '../errors.js';
import { buildApp } from './app.js';

/**
 * `cellgroups-api`: serves the compute API. With `--bootstrap` (what
 * `npm start` passes) it first prepares a local deployment: data directory,
 * both schemas, cell0 and one cell.
 */
async function main(argv: readonly string[]): Promise<void> {
  const options = new Command('cellgroups-api')
    .description('Serve the os-server-groups compute API.')
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
  if (options.bootstrap) {
    for (const line of await firstRun(config)) console.log(line);
  }
  const app = buildApp({ config, logger: true });
  const { osapi_compute_listen: host, osapi_compute_listen_port: port } = config.values.DEFAULT;
  const shutdown = () => {
    app.log.info('shutting down');
    void app.close();
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  const address = await app.listen({ host, port });
  console.log(`cellgroups compute API listening on ${address} (try: curl ${address}/)`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`cellgroups-api: ${describeError(error)}`);
  process.exitCode = 1;
});
