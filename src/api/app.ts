import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from '../config/load.js';
import { versionRoutes } from './routes/versions.js';

export interface AppOptions {
  readonly config: Config;
  /** Log one line per request (the server turns it on; tests leave it off). */
  readonly logger?: boolean;
}

/**
 * The compute API as a Fastify instance that does not listen: the server
 * binds it to a port, tests call `inject()`.
 */
export function buildApp(options: AppOptions): FastifyInstance {
  const app = Fastify({
    logger: options.logger
      ? { level: options.config.values.DEFAULT.debug ? 'debug' : 'info' }
      : false,
    // Nova matches `/v2.1/` and `/v2.1` alike.
    routerOptions: { ignoreTrailingSlash: true },
  });
  // Nova sends a bare `application/json`; Fastify always adds a charset to
  // JSON. Clients compare the header, so every response gets Nova's.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (reply.getHeader('content-type') === 'application/json; charset=utf-8') {
      reply.header('content-type', 'application/json');
    }
    done(null, payload);
  });
  app.register((scope, _opts, done) => {
    versionRoutes(scope);
    done();
  });
  return app;
}
