import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidInput, VersionNotAcceptable } from '../../errors.js';
import { MIN, negotiate, versionHeaders, type ApiVersion } from './microversion.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The negotiated microversion (2.1 until negotiation ran). */
    apiVersion: ApiVersion;
  }
}

/** Nova's fault bodies are JSON with an explicit charset (its successes have none). */
export const FAULT_CONTENT_TYPE = 'application/json; charset=UTF-8';

function sendFault(reply: FastifyReply, code: number, key: string, message: string): FastifyReply {
  return reply
    .code(code)
    .header('content-type', FAULT_CONTENT_TYPE)
    .send(JSON.stringify({ [key]: { code, message } }));
}

function addVersionHeaders(reply: FastifyReply, version: string): void {
  for (const [name, value] of versionHeaders(version)) {
    const present = reply.getHeader(name);
    if (present === undefined) reply.header(name, value);
    else reply.header(name, [...(Array.isArray(present) ? present : [String(present)]), value]);
  }
}

/**
 * Microversion negotiation for every route of `scope` (the /v2.1 API):
 * the version goes on the request, and every response, errors included,
 * carries the version headers. A refused version is still echoed, as Nova
 * does; an unparsable one is not (Nova never got a version to echo).
 */
export function negotiateVersions(scope: FastifyInstance): void {
  // Fastify refuses object defaults on requests; every request gets its own in the hook below.
  scope.decorateRequest('apiVersion', null as unknown as ApiVersion);
  scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    request.apiVersion = MIN;
    try {
      request.apiVersion = negotiate(request.headers);
    } catch (error) {
      if (error instanceof VersionNotAcceptable) {
        addVersionHeaders(reply, error.version);
        return sendFault(reply, 406, 'computeFault', error.message);
      }
      if (error instanceof InvalidInput) return sendFault(reply, 400, 'badRequest', error.message);
      throw error;
    }
    addVersionHeaders(reply, request.apiVersion.toString());
    return undefined;
  });
}
