import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestContext } from '../../context.js';

/**
 * How a request proves who it is. A strategy either gives the request its
 * context or answers it itself (a handshake, a 401). `noauth2` is in auth.ts;
 * `keystone` is in keystone.ts.
 */
export interface AuthStrategy {
  readonly name: string;
  authenticate(request: FastifyRequest, reply: FastifyReply): Promise<RequestContext | 'answered'>;
}
