import { spawn } from 'node:child_process';
import { expect } from 'vitest';
import { requestContext } from '../../src/context.js';
import type { GroupService } from '../../src/groups/service.js';
import { MANAGE } from './cli.js';
import { insertLegacyGroups } from './legacy.js';
import { apiGroups, liveCellRows, seededRandom, type MigrationCloud } from './migration-cloud.js';

/** What the writers were told succeeded, group by group: the state each group must end in. */
interface Model {
  name: string;
  projectId: string;
  members: Set<string>;
  deleted: boolean;
}

export interface RaceOptions {
  readonly rounds: number;
  readonly groupsPerCell: number;
  /** One service per writer (writers may share one, or each talk to another node). */
  readonly writers: readonly GroupService[];
  readonly seed: number;
}

export interface RaceStats {
  writes: number;
  onCellCopy: number;
  onApiCopy: number;
  /** Migration batches run again after a conflict (as the CLI reports them). */
  migrationRetries: number;
}

/**
 * Writers add and remove members, rename, delete and create while the real
 * CLI moves the groups they write to, in small batches. Each group has one
 * writer, so the state a group must end in is its writer's log of the
 * calls that returned success. Any lost write (a change made to a cell
 * copy after it was copied) or resurrected group shows up as a difference.
 */
export async function raceTheMigration(
  cloud: MigrationCloud,
  options: RaceOptions,
): Promise<RaceStats> {
  const random = seededRandom(options.seed);
  const pick = <T>(items: readonly T[]): T | undefined =>
    items[Math.floor(random() * items.length)];
  const writers = options.writers.length;
  const model = new Map<string, Model>();
  const stats: RaceStats = { writes: 0, onCellCopy: 0, onApiCopy: 0, migrationRetries: 0 };
  for (let round = 0; round < options.rounds; round++) {
    // Legacy groups in both cells, dealt out to the writers.
    const owned: string[][] = Array.from({ length: writers }, () => []);
    let n = 0;
    for (const cell of cloud.cells) {
      const groups = Array.from({ length: options.groupsPerCell }, (_, i) => ({
        name: `r${round}-${i}`,
        projectId: `p${i % 2}`,
        members: [`m${round}-${i}-0`, `m${round}-${i}-1`],
      }));
      const uuids = await insertLegacyGroups(cell.db, groups);
      uuids.forEach((uuid, i) => {
        const g = groups[i];
        if (!g) return;
        model.set(uuid, {
          name: g.name,
          projectId: g.projectId,
          members: new Set(g.members),
          deleted: false,
        });
        owned[n++ % writers]?.push(uuid);
      });
    }

    const migration = spawn(
      process.execPath,
      [
        MANAGE,
        ...cloud.deployment.args,
        'db',
        'online_data_migrations',
        '--batch-size',
        '6',
        '--parallel',
        '2',
      ],
      { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    migration.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    let running = true;
    const exited = new Promise<number | null>((resolve) => {
      migration.on('exit', (code) => {
        running = false;
        resolve(code);
      });
    });

    const writer = async (w: number) => {
      const service = options.writers[w];
      if (!service) return;
      const mine = owned[w] ?? [];
      let serial = 0;
      while (running) {
        const uuid = pick(mine.filter((u) => !model.get(u)?.deleted));
        const state = uuid === undefined ? undefined : model.get(uuid);
        if (uuid === undefined || state === undefined) break;
        const ctx = requestContext(`u${w}`, state.projectId);
        const before = await service.get(ctx, uuid);
        const dice = random();
        if (dice < 0.35) {
          const member = `w${w}-${round}-${serial++}`;
          await service.addMembers(ctx, uuid, [member]);
          state.members.add(member);
        } else if (dice < 0.6) {
          const member = pick([...state.members]);
          if (member === undefined) continue;
          await service.removeMembers(ctx, uuid, [member]);
          state.members.delete(member);
        } else if (dice < 0.8) {
          const name = `w${w}-${round}-${serial++}`;
          await service.save(ctx, uuid, { name });
          state.name = name;
        } else if (dice < 0.9) {
          await service.destroy(ctx, uuid);
          state.deleted = true;
        } else {
          const created = await service.create(ctx, {
            name: `new-${w}-${round}-${serial++}`,
            policy: 'affinity',
            members: [`c${w}-${round}-${serial}`],
          });
          model.set(created.uuid, {
            name: created.name ?? '',
            projectId: state.projectId,
            members: new Set(created.members),
            deleted: false,
          });
          mine.push(created.uuid);
        }
        stats.writes++;
        if (before.location.kind === 'cell') stats.onCellCopy++;
        else stats.onApiCopy++;
      }
    };
    await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
    expect(await exited, stderr).toBe(0);
    const retried = /^(\d+) batch\(es\) were run again after a conflict/m.exec(stderr);
    stats.migrationRetries += Number(retried?.[1] ?? 0);
  }
  // Whatever the last writes left in the cells moves now.
  const last = await cloud.manage(['db', 'online_data_migrations']);
  expect(last.code, last.stderr).toBe(0);
  expect(stats.onCellCopy).toBeGreaterThan(0);

  const actual = await apiGroups(cloud.api);
  for (const [uuid, want] of model) {
    if (want.deleted) {
      expect(actual.has(uuid), `deleted group ${uuid} came back`).toBe(false);
    } else {
      expect(actual.get(uuid), `group ${uuid}`).toMatchObject({
        name: want.name,
        members: [...want.members].sort(),
      });
    }
  }
  expect(actual.size).toBe([...model.values()].filter((m) => !m.deleted).length);
  expect(await liveCellRows(cloud.cells)).toBe(0);
  return stats;
}
