import type { TestProject } from 'vitest/node';
import { NovaDeployment, novaMissing, novaRequired } from './deployment.js';

/**
 * Makes one Nova deployment for the whole `nova` project (its files run one
 * at a time against it). Without Nova installed the files skip with a note,
 * unless CELLGROUPS_REQUIRE_NOVA (or CELLGROUPS_REQUIRE_ENGINES=all, as CI
 * sets) asks for it: then the run fails here, saying what is missing.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const required = novaRequired();
  let reason = novaMissing();
  if (reason === undefined) {
    try {
      const started = Date.now();
      const nova = await NovaDeployment.start();
      const novaVersion = await nova.novaVersion();
      console.log(
        `cellgroups tests: Nova ${novaVersion} deployed in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      project.provide('nova', {
        available: true,
        dir: nova.dir,
        configFile: nova.configFile,
        apiUrl: `http://127.0.0.1:${nova.apiPort}`,
        rootUrl: nova.rootUrl,
        dbPort: nova.dbPort,
        novaVersion,
      });
      return () => {
        nova.stop();
      };
    } catch (error) {
      reason = error instanceof Error ? error.message : String(error);
    }
  }
  if (required) {
    throw new Error(
      `Nova is required (CELLGROUPS_REQUIRE_NOVA or CELLGROUPS_REQUIRE_ENGINES=all) but cannot run: ${reason}`,
    );
  }
  console.warn(
    `cellgroups tests: skipping the Nova tests: ${reason}; set CELLGROUPS_REQUIRE_NOVA=1 to make this a failure.`,
  );
  project.provide('nova', { available: false, reason, required });
  return () => undefined;
}
