import type { SyncResult } from '../../db/migrations/migrator.js';
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
  if (result.applied.length === 0) {
    ctx.out(`${where}: schema already at version ${result.to}.`);
  } else {
    const steps = result.applied.map((s) => `${s.version} (${s.name})`).join(', ');
    ctx.out(
      `${where}: schema synced from version ${result.from} to ${result.to}: applied ${steps}.`,
    );
  }
}
