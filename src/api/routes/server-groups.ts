import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { GroupService } from '../../groups/service.js';
import type { InstanceGroup } from '../../groups/group.js';
import { InvalidInput } from '../../errors.js';
import type { ApiVersion } from '../microversion.js';
import { serverGroupView } from '../views/server-groups.js';

/** What the routes need beyond the request: the data layer and `[api] max_limit`. */
export interface ServerGroupDeps {
  readonly groups: GroupService;
  readonly maxLimit: number;
}

const NON_NEGATIVE = /^[0-9]*$/;

/** The query string as Nova's validator sees it: every value of every key. */
function queryOf(request: FastifyRequest): Map<string, string[]> {
  const query = new Map<string, string[]>();
  const raw = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
  for (const [key, value] of new URLSearchParams(raw)) {
    query.set(key, [...(query.get(key) ?? []), value]);
  }
  return query;
}

/**
 * limit, offset and all_projects, checked as Nova's query schema does
 * (same messages); from 2.75 no other parameter is accepted. Nova reads
 * the last value of a repeated parameter.
 */
function listParams(
  query: Map<string, string[]>,
  version: ApiVersion,
): { limit: number | undefined; offset: number; allProjects: boolean } {
  const number = (name: string): number | undefined => {
    const values = query.get(name);
    if (values === undefined) return undefined;
    for (const value of values) {
      if (!NON_NEGATIVE.test(value)) {
        throw new InvalidInput(
          `Invalid input for query parameters ${name}. Value: ${value}. '${value}' does not match '^[0-9]*$'`,
        );
      }
    }
    const last = values.at(-1) ?? '';
    if (last === '') throw new InvalidInput(`${name} param must be an integer`);
    return Number.parseInt(last, 10);
  };
  if (version.atLeast('2.75')) {
    const unknown = [...query.keys()].filter(
      (k) => !['all_projects', 'limit', 'offset'].includes(k),
    );
    if (unknown.length > 0) {
      throw new InvalidInput(
        `Additional properties are not allowed (${unknown.map((k) => `'${k}'`).join(', ')} ${unknown.length === 1 ? 'was' : 'were'} unexpected)`,
      );
    }
  }
  return {
    limit: number('limit'),
    offset: number('offset') ?? 0,
    allProjects: query.has('all_projects'),
  };
}

/** os-server-groups: list, show and delete (create arrives with its validation). */
export function serverGroupRoutes(scope: FastifyInstance, deps: ServerGroupDeps): void {
  const { groups } = deps;

  const view = async (request: FastifyRequest, group: InstanceGroup) => {
    const { members } = await groups.liveMembers(request.context, group);
    return serverGroupView(
      group,
      members.map((m) => m.instanceUuid),
      request.apiVersion,
    );
  };

  for (const prefix of ['', '/:project_id']) {
    scope.get(`${prefix}/os-server-groups`, async (request) => {
      const params = listParams(queryOf(request), request.apiVersion);
      // Nova's `limited`: no limit, or 0, means max_limit; more is capped to it.
      const limit = Math.min(deps.maxLimit, params.limit || deps.maxLimit);
      const page = await groups.list(request.context, {
        limit,
        offset: params.offset,
        allProjects: params.allProjects,
      });
      return { server_groups: await Promise.all(page.groups.map((g) => view(request, g))) };
    });

    scope.get<{ Params: { id: string } }>(`${prefix}/os-server-groups/:id`, async (request) => ({
      server_group: await view(request, await groups.get(request.context, request.params.id)),
    }));

    scope.delete<{ Params: { id: string } }>(
      `${prefix}/os-server-groups/:id`,
      async (request, reply) => {
        await groups.destroy(request.context, request.params.id);
        // Nova's 204 names a JSON body it does not send; clients see the header, so it is kept.
        return reply.code(204).header('content-type', 'application/json').send();
      },
    );
  }
}
