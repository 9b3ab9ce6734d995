import type { SyncResult } from '../../db/migrations/migrator.js';
import { describeMarker } from '../../db/migrations/nova-managed.js';
import { maskPassword } from '../../db/url.js';
import { InvalidInput } from '../../errors.js';
import type { CommandContext } from '../command.js';

/** `sync [VERSION]`: a non-negative integer, or nothing for the latest. */
export function parseVersionArgument(version: string | undefined): number | undefined {
  if (version === undefined) return undefined;
  if (!/^\d+$/.test(version)) {
    throw new InvalidInput(
      `Invalid schema version "${version}": expected a whole number such as 1.`,
    );
  }
  return Number(version);
}

export function reportSync(
  ctx: CommandContext,
  what: string,
  url: string,
  result: SyncResult,
): void {
  const where = `${what} ${maskPassword(url)}`;
  if (result.nova) {
    // Said in full: an operator beside Nova must see that Nova's schema was left alone.
    const added = result.applied.map((s) => `${s.version} (${s.name})`).join(', ');
    ctx.out(
      `${where}: managed by Nova (${describeMarker(result.nova)}); its schema is left to nova-manage. ` +
        (added
          ? `Added cellgroups' own table(s) for version ${added}; now at cellgroups version ${result.to}.`
          : `Nothing to change: at cellgroups version ${result.to}.`),
    );
    return;
  }
  if (result.applied.length === 0) {
    ctx.out(`${where}: schema already at version ${result.to}.`);
  } else {
    const steps = result.applied.map((s) => `${s.version} (${s.name})`).join(', ');
    ctx.out(
      `${where}: schema synced from version ${result.from} to ${result.to}: applied ${steps}.`,
    );
  }
}
