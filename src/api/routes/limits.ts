import type { FastifyInstance } from 'fastify';
import type { QuotaService } from '../../quotas/service.js';
import { authorize } from '../auth/policy.js';
import { answerWithoutCells } from '../http/down-cells.js';
import { queryOf, refuseUnknownParams } from '../http/query.js';
import { limitsView } from '../views/limits.js';

/** `GET /limits`: the caller's project's limits and usage; an admin may ask for `?tenant_id=`. */
export function limitRoutes(scope: FastifyInstance, quotas: QuotaService): void {
  for (const prefix of ['', '/:project_id']) {
    scope.get(`${prefix}/limits`, async (request, reply) => {
      const query = queryOf(request);
      refuseUnknownParams(query, ['tenant_id'], request.apiVersion);
      let projectId = request.context.projectId;
      const tenant = query.get('tenant_id');
      if (tenant !== undefined) {
        // Nova reads the last value of a repeated tenant_id.
        projectId = tenant.at(-1) ?? projectId;
        authorize(request.context, 'os_compute_api:limits:other_project');
      }
      const { detail, unavailable } = await quotas.detail({ projectId });
      // Nova counts usage without the cells that do not answer, whatever the list option says.
      answerWithoutCells(request, reply, unavailable, true);
      return limitsView(detail, request.apiVersion);
    });
  }
}
