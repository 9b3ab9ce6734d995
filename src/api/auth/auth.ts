import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config/load.js';
import { requestContext, type RequestContext } from '../../context.js';
import { InvalidInput } from '../../errors.js';
import { keystoneAuth } from './keystone.js';
import type { AuthStrategy } from './strategy.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is asking, once the auth strategy accepted the request. */
    context: RequestContext;
  }
}

export type { AuthStrategy } from './strategy.js';

/** The user_id and project_id columns: varchar(255) in every table. */
const MAX_ID_LENGTH = 255;

/**
 * Nova's `noauth2` (development and tests): the token is `user:project` and
 * is trusted; user id `admin` is an admin in any project. A request without
 * a token gets the fake login handshake: 204 with a token for
 * `X-Auth-User`/`X-Auth-Project-Id` (default admin:admin) and the URL to
 * use, project appended.
 */
export const noAuth2: AuthStrategy = {
  name: 'noauth2',
  authenticate(request, reply) {
    const token = request.headers['x-auth-token'];
    if (typeof token !== 'string') {
      const header = (name: string) => {
        const value = request.headers[name];
        return typeof value === 'string' ? value : 'admin';
      };
      const user = header('x-auth-user');
      const project = header('x-auth-project-id');
      const url = `${request.protocol}://${request.host}${request.url}`.replace(/\/+$/, '');
      void reply
        .code(204)
        .header('X-Auth-Token', `${user}:${project}`)
        .header('X-Server-Management-Url', `${url}/${project}`)
        .header('content-type', 'text/plain; charset=UTF-8')
        .send();
      return Promise.resolve('answered');
    }
    const separator = token.indexOf(':');
    const user = separator < 0 ? token : token.slice(0, separator);
    const project = (separator < 0 ? '' : token.slice(separator + 1)) || user;
    // Nova takes any token here, then fails (a 500) storing an id its columns cannot hold.
    if (user.length > MAX_ID_LENGTH || project.length > MAX_ID_LENGTH) {
      return Promise.reject(
        new InvalidInput(
          `X-Auth-Token: user and project ids are at most ${MAX_ID_LENGTH} characters (noauth2 tokens are user:project).`,
        ),
      );
    }
    return Promise.resolve(requestContext(user, project, user === 'admin'));
  },
};

/** The strategy `[api] auth_strategy` names; a keystone one missing its settings is a ConfigError. */
export function authStrategyFor(config: Config): AuthStrategy {
  return config.values.api.auth_strategy === 'keystone' ? keystoneAuth(config) : noAuth2;
}

/** Authenticates every route of `scope` except those marked `{ config: { public: true } }`. */
export function authenticate(scope: FastifyInstance, strategy: AuthStrategy): void {
  scope.decorateRequest('context', null as unknown as RequestContext);
  scope.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config as { public?: boolean } | undefined;
    if (config?.public === true) return undefined;
    const outcome = await strategy.authenticate(request, reply);
    if (outcome === 'answered') return reply;
    request.context = outcome;
    return undefined;
  });
}
