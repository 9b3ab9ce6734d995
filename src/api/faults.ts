import type { FastifyError, FastifyInstance } from 'fastify';
import {
  CellgroupsError,
  Conflict,
  DbError,
  Forbidden,
  IdentityUnavailable,
  InvalidInput,
  NotFound,
  VersionNotAcceptable,
} from '../errors.js';
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
  return {
    code: 500,
    key: 'computeFault',
    message:
      'Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.',
  };
}

/** Sends every error of `app` as a compute fault; unexpected ones are logged with their stack. */
export function renderFaults(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    const fault = faultFor(error);
    if (fault.code >= 500) request.log.error({ err: error }, 'request failed');
    return reply
      .code(fault.code)
      .header('content-type', FAULT_CONTENT_TYPE)
      .send(JSON.stringify({ [fault.key]: { code: fault.code, message: fault.message } }));
  });
}
