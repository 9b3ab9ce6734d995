import type { FastifyInstance } from 'fastify';
import { InvalidInput } from '../../errors.js';

/**
 * Routes under `/v2.1/{project_id}/…` (the URL the noauth2 handshake hands
 * out): the project in the URL must be the caller's, as Nova checks once
 * the body is read and before the handler runs; otherwise a 400 naming both.
 */
export function checkUrlProject(scope: FastifyInstance): void {
  scope.addHook('preHandler', (request, _reply, done) => {
    const params = request.params as { project_id?: unknown } | undefined;
    const inUrl = params?.project_id;
    // The context is absent only on public routes, which have no project in their URL.
    const own = (request.context as typeof request.context | null)?.projectId;
    if (typeof inUrl === 'string' && inUrl !== '' && own !== undefined && inUrl !== own) {
      done(
        new InvalidInput(
          `Malformed request URL: URL's project_id '${inUrl}' doesn't match Context's project_id '${own}'`,
        ),
      );
      return;
    }
    done();
  });
}
