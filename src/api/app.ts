import { randomUUID } from 'node:crypto';
import Fastify, {
  LogController,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Config } from '../config/load.js';
import { versionRoutes, versionV21Routes } from './routes/versions.js';
import { GroupService } from '../groups/service.js';
import { authStrategyFor, authenticate, type AuthStrategy } from './auth/auth.js';
import { acceptJsonBodies } from './http/bodies.js';
import {
  isClientAbort,
  renderClientError,
  renderFaults,
  renderFrameworkError,
} from './http/faults.js';
import { checkUrlProject } from './http/project-url.js';
import { configuredDefaults } from '../quotas/resources.js';
import { cellInstanceCounter, QuotaService } from '../quotas/service.js';
import { limitRoutes } from './routes/limits.js';
import { quotaSetRoutes } from './routes/quota-sets.js';
import { serverGroupRoutes } from './routes/server-groups.js';
import { NOT_FOUND, webobPage } from './http/webob-pages.js';
import { lenientUrl } from './http/urls.js';
import { negotiateVersions } from './http/versioning.js';

export interface AppOptions {
  readonly config: Config;
  /** The data layer (default: one over the configured API database, closed with the app). */
  readonly groups?: GroupService;
  /** Log one line per request (the server turns it on; tests leave it off). */
  readonly logger?: boolean;
  /** Where log lines go instead of stdout (tests read them); implies `logger`. */
  readonly logStream?: { write(line: string): void };
  /** How requests authenticate (default: the one `[api] auth_strategy` names). */
  readonly auth?: AuthStrategy;
}

/**
 * The compute API as a Fastify instance that does not listen: the server
 * binds it to a port, tests call `inject()`.
 */
export function buildApp(options: AppOptions): FastifyInstance {
  const strategy = options.auth ?? authStrategyFor(options.config);
  const groups = options.groups ?? GroupService.fromConfig(options.config);
  const quotas = new QuotaService(
    groups.api,
    groups,
    cellInstanceCounter(groups.cells, groups.fan),
    configuredDefaults(options.config),
  );
  const app = Fastify({
    logger:
      options.logger === true || options.logStream !== undefined
        ? {
            level: options.config.values.DEFAULT.debug ? 'debug' : 'info',
            ...(options.logStream === undefined ? {} : { stream: options.logStream }),
          }
        : false,
    // Nova matches `/v2.1/` and `/v2.1` alike, and an id of any length (up to eventlet's 8 KiB
    // request line).
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 8192 },
    // Nova's router (routes.Mapper) declares each route's methods and none has HEAD: a HEAD is
    // its 404 page. Fastify would answer HEAD for every GET route.
    exposeHeadRoutes: false,
    bodyLimit: MAX_REQUEST_BODY_SIZE,
    // What the router refuses before any hook runs is a compute fault too, not Fastify's JSON.
    frameworkErrors: renderFrameworkError,
    // And so is what Node's HTTP parser refuses before Fastify sees a request.
    clientErrorHandler: renderClientError,
    // Nova decodes any path; Fastify's router refuses broken escapes with a body of its own.
    rewriteUrl: (request) => lenientUrl(request.url ?? '/'),
    // Nova's request ids, in the log line of each request and in both headers.
    genReqId: () => `req-${randomUUID()}`,
    logController: new OneLinePerRequest(),
  });
  app.addHook('onRequest', (request, reply, done) => {
    // Nova's root version document comes from an app outside its request-id middleware.
    if (request.url !== '/') {
      reply.header('x-openstack-request-id', request.id);
      reply.header('x-compute-request-id', request.id);
    }
    done();
  });
  // Nova routes before it reads a body, so an unrouted request gets its 404 page whatever its
  // body and Content-Type: here the body is read (within the size limit) and dropped.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => {
    done(null, undefined);
  });
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.is404) delete request.headers['content-type'];
    done();
  });
  // An unrouted path or method gets Nova's (webob's) 404 page, not Fastify's JSON or a 405.
  app.setNotFoundHandler((request, reply) => {
    const page = webobPage(request.raw, NOT_FOUND);
    return reply.code(404).header('content-type', page.contentType).send(page.body);
  });
  // Nova sends a bare `application/json`; Fastify always adds a charset to
  // JSON. Clients compare the header, so every response gets Nova's.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (reply.getHeader('content-type') === 'application/json; charset=utf-8') {
      reply.header('content-type', 'application/json');
    }
    // A stopping server lets a request in flight finish, but its kept-alive connection must then
    // close, or the server would wait for the client to hang up (up to keepAliveTimeout).
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.register((scope, _opts, done) => {
    versionRoutes(scope);
    done();
  });
  renderFaults(app);
  if (!options.groups) app.addHook('onClose', () => groups.close());
  app.register(
    (scope, _opts, done) => {
      try {
        // Auth first: Nova's auth middleware answers (the noauth2 handshake, a 401) before any
        // microversion is negotiated, so those answers carry no version headers.
        authenticate(scope, strategy);
        negotiateVersions(scope);
        versionV21Routes(scope);
        acceptJsonBodies(scope);
        checkUrlProject(scope);
        serverGroupRoutes(scope, {
          groups,
          quotas,
          maxLimit: options.config.values.api.max_limit,
          skipDownCells: options.config.values.api.list_records_by_skipping_down_cells,
        });
        quotaSetRoutes(scope, quotas);
        limitRoutes(scope, quotas);
        done();
      } catch (error) {
        done(error instanceof Error ? error : new Error(String(error)));
      }
    },
    { prefix: '/v2.1' },
  );
  return app;
}

/**
 * Nova's pipeline refuses bodies over oslo.middleware's
 * `max_request_body_size` (default 112 KiB) before reading them; the same
 * limit here (a 413 fault).
 */
const MAX_REQUEST_BODY_SIZE = 114_688;

/** One log line per request, when it is answered, with its request id (Fastify writes two). */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {
    // The answer's line says it all.
  }
  override requestCompleted(
    error: Error | null,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const line = {
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
    };
    // A client that hung up mid-request is not the server's error.
    if (error && isClientAbort(error)) request.log.info({ ...line, aborted: true }, 'request');
    else if (error) request.log.error({ ...line, err: error }, 'request');
    else request.log.info(line, 'request');
  }
}
