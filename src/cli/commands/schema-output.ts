import type { NovaSchema, SyncResult } from '../../db/migrations/migrator.js';
import { renderJson } from '../output.js';
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

/** `version`: the number, and on a database Nova manages, a line saying so. */
export function reportVersion(
  ctx: CommandContext,
  format: 'table' | 'json',
  version: number,
  latest: number,
  nova: NovaSchema | undefined,
): void {
  if (format === 'json') {
    ctx.out(
      renderJson({
        version,
        latest,
        ...(nova === undefined ? {} : { nova: { marker: nova.marker, revision: nova.revision } }),
      }),
    );
    return;
  }
  ctx.out(String(version));
  if (nova !== undefined) ctx.out(nova.description);
}

export function reportSync(
  ctx: CommandContext,
  what: string,
  url: string,
  result: SyncResult,
): void {
  const where = `${what} ${maskPassword(url)}`;
  if (result.nova !== undefined) {
    ctx.out(`${where}: ${result.nova.description} Nothing synced: use nova-manage for it.`);
  } else if (result.applied.length === 0) {
    ctx.out(`${where}: schema already at version ${result.to}.`);
  } else {
    const steps = result.applied.map((s) => `${s.version} (${s.name})`).join(', ');
    ctx.out(
      `${where}: schema synced from version ${result.from} to ${result.to}: applied ${steps}.`,
    );
  }
}
