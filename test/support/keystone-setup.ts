import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { keystoneMissing, keystoneRequired, prepareKeystoneTemplate } from './keystone.js';

/**
 * Prepares one Keystone directory for the whole run (the slow part: schema,
 * keys, accounts); each test file then starts its own Keystone on a copy.
 * Without Keystone installed the files that need it skip with a note, unless
 * CELLGROUPS_REQUIRE_KEYSTONE (or CELLGROUPS_REQUIRE_ENGINES=all, as CI sets)
 * asks for it: then the run fails here, with what is missing.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const required = keystoneRequired();
  const missing = keystoneMissing();
  const root = mkdtempSync(path.join(tmpdir(), 'cellgroups-keystone-template-'));
  const cleanup = () => {
    rmSync(root, { recursive: true, force: true });
  };
  let reason = missing;
  if (reason === undefined) {
    try {
      const started = Date.now();
      const dir = await prepareKeystoneTemplate(root);
      console.log(
        `cellgroups tests: Keystone prepared in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      project.provide('keystone', { available: true, dir });
      return cleanup;
    } catch (error) {
      reason = error instanceof Error ? error.message : String(error);
    }
  }
  cleanup();
  if (required) {
    throw new Error(
      `Keystone is required (CELLGROUPS_REQUIRE_KEYSTONE or CELLGROUPS_REQUIRE_ENGINES=all) but cannot run: ${reason}`,
    );
  }
  console.warn(
    `cellgroups tests: skipping the Keystone and openstackclient tests: ${reason}; set CELLGROUPS_REQUIRE_KEYSTONE=1 to make this a failure.`,
  );
  project.provide('keystone', { available: false, reason, required });
  return () => undefined;
}
