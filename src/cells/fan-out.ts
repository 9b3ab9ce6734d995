import pLimit from 'p-limit';
import { describeError } from '../errors.js';
import type { Cell } from './cell.js';

/** A cell that did not answer a fan-out, and why. */
export interface UnavailableCell {
  readonly uuid: string;
  readonly name: string | null;
  readonly reason: string;
}

export interface FanOutOptions {
  /** Give up on a cell after this long; its answer is reported missing. */
  readonly timeoutMs: number;
  /** Cells asked at once. */
  readonly concurrency: number;
}

export const DEFAULT_FAN_OUT: FanOutOptions = { timeoutMs: 10_000, concurrency: 16 };

export interface FanOutResult<T> {
  /** Answers of the cells that answered, in cell order. */
  readonly answers: { cell: Cell; value: T }[];
  readonly unavailable: UnavailableCell[];
}

class CellTimeout extends Error {}

/**
 * Asks every cell at once (bounded), each within a timeout, and returns what
 * came back plus the cells that did not answer, instead of hanging on a dead
 * cell or failing everything for one.
 *
 * NOTE: a timed-out query is abandoned, not cancelled: its connection
 * finishes or fails in the background and its result is dropped. SQLite
 * cells are local files read synchronously, so the timeout guards the
 * server engines.
 */
export async function fanOut<T>(
  cells: readonly Cell[],
  ask: (cell: Cell) => Promise<T>,
  options: FanOutOptions = DEFAULT_FAN_OUT,
): Promise<FanOutResult<T>> {
  const limit = pLimit(options.concurrency);
  const settled = await Promise.all(
    cells.map((cell) =>
      limit(async () => {
        let timer: NodeJS.Timeout | undefined;
        const work = ask(cell);
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            reject(new CellTimeout(`no answer within ${options.timeoutMs} ms`));
          }, options.timeoutMs);
        });
        try {
          return { cell, ok: true as const, value: await Promise.race([work, timeout]) };
        } catch (error) {
          work.catch(() => undefined); // the abandoned query may still fail later
          return { cell, ok: false as const, reason: describeError(error) };
        } finally {
          clearTimeout(timer);
        }
      }),
    ),
  );
  const answers: { cell: Cell; value: T }[] = [];
  const unavailable: UnavailableCell[] = [];
  for (const r of settled) {
    if (r.ok) answers.push({ cell: r.cell, value: r.value });
    else
      unavailable.push({ uuid: r.cell.mapping.uuid, name: r.cell.mapping.name, reason: r.reason });
  }
  return { answers, unavailable };
}
