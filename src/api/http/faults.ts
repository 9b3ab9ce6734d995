import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  CellgroupsError,
  Conflict,
  DbError,
  Forbidden,
  IdentityUnavailable,
  InvalidInput,
  NotFound,
  VersionNotAcceptable,
} from '../../errors.js';
import { UnsupportedMediaType } from './bodies.js';
import { FAULT_CONTENT_TYPE } from './versioning.js';

/** A compute API fault: the status, the body's key, and its message. */
export interface Fault {
  readonly code: number;
  readonly key: string;
  readonly message: string;
}

/**
 * The one mapping from errors to the compute API's fault bodies
 * (`{"itemNotFound": {"code": 404, "message": …}}`). A database or an
 * Identity service that does not answer is a 503 the client may retry, not a 500; anything unexpected
 * is a 500 with Nova's words and no detail (the log has it).
 */
export function faultFor(error: unknown): Fault {
  if (error instanceof CellgroupsError) {
    const message = error.message;
    if (error instanceof NotFound) return { code: 404, key: 'itemNotFound', message };
    if (error instanceof UnsupportedMediaType) return { code: 415, key: 'badMediaType', message };
    if (error instanceof InvalidInput) return { code: 400, key: 'badRequest', message };
    if (error instanceof Forbidden) return { code: 403, key: 'forbidden', message };
    if (error instanceof Conflict) return { code: 409, key: 'conflictingRequest', message };
    if (error instanceof VersionNotAcceptable) return { code: 406, key: 'computeFault', message };
    if (error instanceof DbError) return { code: 503, key: 'computeFault', message };
    // keystonemiddleware's words; a client may retry.
    if (error instanceof IdentityUnavailable) return { code: 503, key: 'computeFault', message };
  }
  const refused = fastifyRefusal(error);
  if (refused) return refused;
  return {
    code: 500,
    key: 'computeFault',
    message:
      'Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.',
  };
}

// Nova's fault names for the statuses Fastify itself may refuse a request with.
const FAULT_NAMES: Readonly<Record<number, string>> = {
  400: 'badRequest',
  413: 'overLimit',
  415: 'badMediaType',
};

// Nova's (or its middleware's) words where it refuses the same thing.
const MESSAGES: Readonly<Record<number, string>> = {
  // oslo.middleware's sizelimit.
  413: 'Request is too large.',
  414: 'The request URL is too long.',
  415: 'Unsupported Content-Type',
};

/**
 * A request Fastify refused before any route saw it (a body over the size
 * limit, a Content-Length that does not match, a path it cannot route):
 * the client's fault, so its 4xx with Nova's name and words, not an
 * unexpected 500.
 */
function fastifyRefusal(error: unknown): Fault | undefined {
  if (!(error instanceof Error)) return undefined;
  const { code, statusCode } = error as Partial<FastifyError>;
  if (typeof code !== 'string' || !code.startsWith('FST_')) return undefined;
  if (typeof statusCode !== 'number' || statusCode < 400 || statusCode >= 500) return undefined;
  return {
    code: statusCode,
    key: FAULT_NAMES[statusCode] ?? 'computeFault',
    message: MESSAGES[statusCode] ?? error.message,
  };
}

function sendFault(reply: FastifyReply, fault: Fault): FastifyReply {
  return reply
    .code(fault.code)
    .header('content-type', FAULT_CONTENT_TYPE)
    .send(JSON.stringify({ [fault.key]: { code: fault.code, message: fault.message } }));
}

/** Sends every error of `app` as a compute fault; unexpected ones are logged with their stack. */
export function renderFaults(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    const fault = faultFor(error);
    if (fault.code >= 500) request.log.error({ err: error }, 'request failed');
    return sendFault(reply, fault);
  });
}

/**
 * Fastify's `frameworkErrors`: what its router refuses before any hook or
 * error handler runs, as a compute fault too.
 */
export function renderFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const fault = faultFor(error);
  if (fault.code >= 500) request.log.error({ err: error }, 'request failed');
  void sendFault(reply, fault);
}
