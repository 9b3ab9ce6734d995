import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { QuotaOwner, LimitRows } from '../../quotas/store.js';
import { isQuotaResource } from '../../quotas/resources.js';
import type { QuotaService } from '../../quotas/service.js';
import { authorize } from '../auth/policy.js';
import { answerWithoutCells } from '../http/down-cells.js';
import { queryOf, refuseUnknownParams } from '../http/query.js';
import { isTrue, updateV21, updateV236, updateV257 } from '../schemas/quota-sets.js';
import { compileSchema } from '../schemas/validation.js';
import { quotaSetView } from '../views/quota-sets.js';
import { MV } from '../versions-table.js';

const validateUpdate = {
  v21: compileSchema(updateV21),
  v236: compileSchema(updateV236),
  v257: compileSchema(updateV257),
};

type ProjectRequest = FastifyRequest<{ Params: { id: string } }>;

/**
 * Whose limits a call is about: the project in the path, and the user of
 * `?user_id=` if given (Nova reads the first value; an empty one means none).
 */
function ownerOf(request: ProjectRequest): QuotaOwner {
  const query = queryOf(request);
  refuseUnknownParams(query, ['user_id'], request.apiVersion);
  const userId = query.get('user_id')?.[0];
  return userId ? { projectId: request.params.id, userId } : { projectId: request.params.id };
}

/** The limits of an update body (validated), and whether `force` skips the usage checks. */
function updateRequest(request: ProjectRequest): { limits: LimitRows; force: boolean } {
  const version = request.apiVersion;
  const validate = version.atLeast(MV.FILE_QUOTAS_GONE)
    ? validateUpdate.v257
    : version.atLeast(MV.NETWORK_QUOTAS_GONE)
      ? validateUpdate.v236
      : validateUpdate.v21;
  validate(request.body);
  const set = (request.body as { quota_set: Record<string, unknown> }).quota_set;
  const limits: LimitRows = {};
  for (const [key, value] of Object.entries(set)) {
    if (!isQuotaResource(key)) continue;
    // The schema bounded it, string or number, to -1 .. 2^31-1.
    limits[key] = Number.parseInt(String(value), 10);
  }
  return { limits, force: isTrue(set.force) };
}

/** os-quota-sets: show, detail, defaults, update and delete, for a project or a user in it. */
export function quotaSetRoutes(scope: FastifyInstance, quotas: QuotaService): void {
  for (const prefix of ['', '/:project_id']) {
    const path = `${prefix}/os-quota-sets/:id`;

    scope.get<{ Params: { id: string } }>(path, async (request) => {
      authorize(request.context, 'os_compute_api:os-quota-sets:show', request.params.id);
      const owner = ownerOf(request);
      return quotaSetView(request.params.id, await quotas.limits(owner), request.apiVersion);
    });

    scope.get<{ Params: { id: string } }>(`${path}/detail`, async (request, reply) => {
      authorize(request.context, 'os_compute_api:os-quota-sets:detail', request.params.id);
      const owner = ownerOf(request);
      const { detail, unavailable } = await quotas.detail(owner);
      // Nova counts usage without the cells that do not answer, whatever the list option says.
      answerWithoutCells(request, reply, unavailable, true);
      return quotaSetView(request.params.id, detail, request.apiVersion);
    });

    scope.get<{ Params: { id: string } }>(`${path}/defaults`, async (request) => {
      authorize(request.context, 'os_compute_api:os-quota-sets:defaults', request.params.id);
      return quotaSetView(request.params.id, await quotas.defaults(), request.apiVersion);
    });

    scope.put<{ Params: { id: string } }>(path, async (request) => {
      authorize(request.context, 'os_compute_api:os-quota-sets:update', request.params.id);
      const owner = ownerOf(request);
      const { limits, force } = updateRequest(request);
      // Nova leaves the id out of an update's answer.
      return quotaSetView(undefined, await quotas.update(owner, limits, force), request.apiVersion);
    });

    scope.delete<{ Params: { id: string } }>(path, async (request, reply) => {
      authorize(request.context, 'os_compute_api:os-quota-sets:delete', request.params.id);
      await quotas.reset(ownerOf(request));
      // Nova's 202 names a JSON body it does not send, as its other empty answers do.
      return reply.code(202).header('content-type', 'application/json').send();
    });
  }
}
