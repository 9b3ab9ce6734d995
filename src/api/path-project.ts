import type { FastifyInstance } from 'fastify';
import { InvalidInput } from '../errors.js';

/**
 * `/v2.1/{project_id}/…` must name the caller's own project, admins
 * included, as in Nova: the check comes after the body was read (a bad
 * body is reported first) and before the call's own validation.
 */
export function checkPathProject(scope: FastifyInstance): void {
  scope.addHook('preHandler', (request, _reply, done) => {
    const projectId = (request.params as { project_id?: string } | undefined)?.project_id;
    // Public routes (the version documents) have no project in their path, and no context.
    if (projectId === undefined) {
      done();
      return;
    }
    const contextProject = request.context.projectId;
    if (projectId !== contextProject) {
      done(
        new InvalidInput(
          `Malformed request URL: URL's project_id '${projectId}' doesn't match Context's project_id '${contextProject}'`,
        ),
      );
      return;
    }
    done();
  });
}
