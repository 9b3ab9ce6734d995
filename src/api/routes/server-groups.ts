import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { UnavailableCell } from '../../cells/fan-out.js';
import { answerWithoutCells } from '../http/down-cells.js';
import type { QuotaService } from '../../quotas/service.js';
import { queryOf, refuseUnknownParams } from '../http/query.js';
import type { GroupService } from '../../groups/service.js';
import type { InstanceGroup } from '../../groups/group.js';
import { InvalidInput } from '../../errors.js';
import { createV21, createV215, createV264 } from '../schemas/server-groups.js';
import { compileSchema } from '../schemas/validation.js';
import type { ApiVersion } from '../http/microversion.js';
import { serverGroupView } from '../views/server-groups.js';
import { MV } from '../versions-table.js';

/** What the routes need beyond the request: the data layer, `[api] max_limit`, the quotas. */
export interface ServerGroupDeps {
  readonly groups: GroupService;
  readonly quotas: QuotaService;
  readonly maxLimit: number;
  /** `[api] list_records_by_skipping_down_cells`: answer without a cell that is down, or fail. */
  readonly skipDownCells: boolean;
}

const validateCreate = {
  v21: compileSchema(createV21),
  v215: compileSchema(createV215),
  v264: compileSchema(createV264),
};

interface CreateBody {
  server_group: {
    name: string;
    policies?: [string];
    policy?: string;
    rules?: { max_server_per_host?: number | string };
  };
}

/** The create body, checked against the schema of the request's microversion. */
function createRequest(body: unknown, version: ApiVersion): CreateBody['server_group'] {
  const validate = version.atLeast(MV.POLICY_SINGULAR)
    ? validateCreate.v264
    : version.atLeast(MV.SOFT_POLICIES)
      ? validateCreate.v215
      : validateCreate.v21;
  validate(body);
  return (body as CreateBody).server_group;
}

const NON_NEGATIVE = /^[0-9]*$/;

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
  refuseUnknownParams(query, ['all_projects', 'limit', 'offset'], version);
  return {
    limit: number('limit'),
    offset: number('offset') ?? 0,
    allProjects: query.has('all_projects'),
  };
}

/** os-server-groups: create, list, show and delete. */
export function serverGroupRoutes(scope: FastifyInstance, deps: ServerGroupDeps): void {
  const { groups } = deps;

  /**
   * Groups as the API shows them, their live members found in one lookup for
   * all; cells that did not answer (for the groups or their members) are
   * told as down-cells.ts says.
   */
  const views = async (
    request: FastifyRequest,
    reply: FastifyReply,
    page: readonly InstanceGroup[],
    unavailable: readonly UnavailableCell[] = [],
  ) => {
    const live = await groups.liveMembersOfGroups(page, request.context);
    answerWithoutCells(request, reply, [...unavailable, ...live.unavailable], deps.skipDownCells);
    return page.map((g) => serverGroupView(g, live.members.get(g.uuid) ?? [], request.apiVersion));
  };

  for (const prefix of ['', '/:project_id']) {
    scope.post(`${prefix}/os-server-groups`, async (request) => {
      const input = createRequest(request.body, request.apiVersion);
      const policy = input.policy ?? input.policies?.[0] ?? '';
      // From 2.64 the group has rules, empty or not (Nova stores `{}`); before, none (NULL).
      const rules: Record<string, number> | undefined = request.apiVersion.atLeast('2.64')
        ? {}
        : undefined;
      if (rules && input.rules?.max_server_per_host !== undefined) {
        rules.max_server_per_host = Number(input.rules.max_server_per_host);
      }
      if (policy !== 'anti-affinity' && rules && Object.keys(rules).length > 0) {
        throw new InvalidInput('Only anti-affinity policy supports rules.');
      }
      const { context } = request;
      const limits = await deps.quotas.serverGroupLimits(context.projectId, context.userId);
      // Counted over the API database and the cells, and serialized with the insert (see create).
      const group = await groups.create(
        context,
        { name: input.name, policy, rules },
        { quota: { ...limits, message: 'Quota exceeded, too many server groups.' } },
      );
      return { server_group: serverGroupView(group, [], request.apiVersion) };
    });

    scope.get(`${prefix}/os-server-groups`, async (request, reply) => {
      const params = listParams(queryOf(request), request.apiVersion);
      // Nova's `limited`: no limit, or 0, means max_limit; more is capped to it.
      const limit = Math.min(deps.maxLimit, params.limit || deps.maxLimit);
      const page = await groups.list(request.context, {
        limit,
        offset: params.offset,
        allProjects: params.allProjects,
      });
      return { server_groups: await views(request, reply, page.groups, page.unavailable) };
    });

    scope.get<{ Params: { id: string } }>(
      `${prefix}/os-server-groups/:id`,
      async (request, reply) => {
        const group = await groups.get(request.context, request.params.id);
        const [view] = await views(request, reply, [group]);
        return { server_group: view };
      },
    );

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
