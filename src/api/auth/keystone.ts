import type { FastifyReply } from 'fastify';
import type { Config } from '../../config/load.js';
import { requestContext } from '../../context.js';
import { ConfigError, Forbidden, IdentityUnavailable } from '../../errors.js';
import type { AuthStrategy } from './strategy.js';
import { KEYSTONE_UNAVAILABLE, webobPage } from '../http/webob-pages.js';
import { IdentityClient, identityV3Url } from './identity.js';
import { TokenCache } from './token-cache.js';

/** keystonemiddleware's 401 body, word for word. */
const UNAUTHORIZED_BODY = JSON.stringify({
  error: {
    code: 401,
    title: 'Unauthorized',
    message: 'The request you have made requires authentication.',
  },
});

export interface KeystoneAuthOptions {
  /** The clock (tests move it to expire tokens and cache entries). */
  readonly now?: () => number;
}

/**
 * `[api] auth_strategy = keystone`: what keystonemiddleware's auth_token and
 * Nova's keystone context do in front of the compute API. The token in
 * `X-Auth-Token` is validated with Keystone (or found in the short cache);
 * the request then acts as the token's user in the token's project, as an
 * admin when the token carries the `admin` role. A missing, unknown,
 * expired or revoked token gets keystonemiddleware's 401. When Keystone
 * cannot answer, the request fails with a 503 and a log line: it is never
 * let through, and never waits longer than `http_connect_timeout`.
 */
export function keystoneAuth(config: Config, options: KeystoneAuthOptions = {}): AuthStrategy {
  const o = config.values.keystone_authtoken;
  const missing = (['auth_url', 'username', 'password', 'project_name'] as const).filter(
    (name) => o[name] === undefined,
  );
  if (missing.length > 0) {
    throw new ConfigError(
      `[api] auth_strategy = keystone needs [keystone_authtoken] ${missing.join(', ')}.`,
    );
  }
  const authUrl = o.auth_url ?? '';
  const now = options.now ?? Date.now;
  const identity = new IdentityClient({
    url: identityV3Url(authUrl),
    credentials: {
      username: o.username ?? '',
      password: o.password ?? '',
      userDomainName: o.user_domain_name,
      projectName: o.project_name ?? '',
      projectDomainName: o.project_domain_name,
    },
    timeoutMs: o.http_connect_timeout * 1000,
    connectRetries: o.http_request_max_retries,
    now,
  });
  const cache = new TokenCache(o.token_cache_time * 1000, now);
  const challenge = `Keystone uri="${(o.www_authenticate_uri ?? authUrl).replace(/\/+$/, '')}"`;

  const reject = (reply: FastifyReply): 'answered' => {
    void reply
      .code(401)
      .header('www-authenticate', challenge)
      .header('content-type', 'application/json')
      .send(UNAUTHORIZED_BODY);
    return 'answered';
  };

  return {
    name: 'keystone',
    async authenticate(request, reply) {
      const header = request.headers['x-auth-token'];
      // keystonemiddleware strips the token (clients have sent a trailing newline).
      const token = typeof header === 'string' ? header.trim() : '';
      if (token === '') return reject(reply);
      let info = cache.get(token);
      if (info === undefined) {
        try {
          info = await identity.validate(token);
        } catch (error) {
          if (!(error instanceof IdentityUnavailable)) throw error;
          request.log.error(
            { identity: authUrl, reason: error.reason },
            `Unable to validate token: ${error.reason}`,
          );
          // keystonemiddleware answers before Nova's app: webob's page, not a compute fault.
          const page = webobPage(request.raw, KEYSTONE_UNAVAILABLE);
          void reply.code(503).header('content-type', page.contentType).send(page.body);
          return 'answered';
        }
        if (info === undefined) {
          request.log.info('Rejecting request: Keystone does not honour the token');
          return reject(reply);
        }
        cache.set(token, info);
      }
      // Expired since it was cached (keystonemiddleware checks this on every use too).
      if (info.expiresAt <= now()) return reject(reply);
      if (info.projectId === undefined) {
        // Nova's policies for server groups need a project; a token without one has no roles there.
        throw new Forbidden('A token scoped to a project is required.');
      }
      return requestContext(info.userId, info.projectId, info.roles.includes('admin'));
    },
  };
}
