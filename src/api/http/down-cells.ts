import type { FastifyReply, FastifyRequest } from 'fastify';
import type { UnavailableCell } from '../../cells/fan-out.js';
import { CellUnavailable } from '../../errors.js';

/**
 * The response header that names (by uuid, comma-separated) the cells a
 * list or show answered without. Nova's body schemas are closed
 * (additionalProperties false), so a partial answer is told in a header.
 */
export const UNAVAILABLE_CELLS_HEADER = 'x-cellgroups-unavailable-cells';

/**
 * What a read does about the cells that did not answer it. With `[api]
 * list_records_by_skipping_down_cells` (Nova's option, default true) it
 * answers with what it found, names the cells in the header above and logs
 * a warning; without it the request fails with a 503 (CellUnavailable), as
 * Nova fails a list it cannot complete.
 */
export function answerWithoutCells(
  request: FastifyRequest,
  reply: FastifyReply,
  unavailable: readonly UnavailableCell[],
  skipDownCells: boolean,
): void {
  const cells = [...new Map(unavailable.map((c) => [c.uuid, c])).values()];
  const [first] = cells;
  if (!first) return;
  if (!skipDownCells) {
    throw new CellUnavailable(first.name ?? first.uuid, first.reason, { cellUuid: first.uuid });
  }
  request.log.warn(
    { cells: cells.map((c) => ({ uuid: c.uuid, name: c.name, reason: c.reason })) },
    `answered without ${cells.length} cell(s) that did not answer: ${cells
      .map((c) => (c.name === null ? c.uuid : `${c.name} (${c.uuid})`))
      .join(', ')}`,
  );
  reply.header(UNAVAILABLE_CELLS_HEADER, cells.map((c) => c.uuid).join(', '));
}
