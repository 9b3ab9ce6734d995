import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  CellUnavailable,
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
    // Nova's name for a 503 (wsgi.Fault). The message never carries the driver's words: they
    // may name a database host or URL; the log has them.
    if (error instanceof CellUnavailable) {
      return {
        code: 503,
        key: 'serviceUnavailable',
        message: `Cell ${error.cellUuid ?? error.cellName} is not responding; try again later.`,
      };
    }
    if (error instanceof DbError) {
      return {
        code: 503,
        key: 'serviceUnavailable',
        message: 'The database is temporarily unavailable; try again later.',
      };
    }
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
    // Nobody is left to answer: say so quietly (the request's own line follows).
    if (isClientAbort(error)) {
      request.log.debug({ err: error }, 'client closed the connection mid-request');
      return reply.code(400).send();
    }
    const fault = faultFor(error);
    // A database that does not answer is an outage to watch, not a bug.
    if (error instanceof DbError) request.log.warn({ err: error }, 'request failed');
    else if (fault.code >= 500) request.log.error({ err: error }, 'request failed');
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

/**
 * Whether an error only says the client went away (closed or reset its
 * connection mid-request): nothing to answer and nothing wrong with the
 * server, so it is logged at info or debug, never as an error.
 */
export function isClientAbort(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code } = error as { code?: unknown };
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE';
}

// What Node's HTTP parser refuses, by its error code: the status Node (and Fastify) answer it
// with, and words that name the fault without echoing the request's bytes.
const PARSER_FAULTS: Readonly<Record<string, { code: number; message: string }>> = {
  HPE_HEADER_OVERFLOW: { code: 431, message: 'Request header fields too large.' },
  ERR_HTTP_REQUEST_TIMEOUT: { code: 408, message: 'Request timed out.' },
  HPE_INVALID_METHOD: { code: 400, message: 'Malformed request: invalid method.' },
  HPE_INVALID_CONTENT_LENGTH: { code: 400, message: 'Malformed request: invalid Content-Length.' },
  HPE_UNEXPECTED_CONTENT_LENGTH: {
    code: 400,
    message: 'Malformed request: invalid Content-Length.',
  },
  HPE_INVALID_CHUNK_SIZE: { code: 400, message: 'Malformed request: invalid chunked encoding.' },
  HPE_INVALID_TRANSFER_ENCODING: {
    code: 400,
    message: 'Malformed request: invalid Transfer-Encoding.',
  },
  HPE_INVALID_HEADER_TOKEN: { code: 400, message: 'Malformed request: invalid header.' },
  HPE_INVALID_EOF_STATE: { code: 400, message: 'Malformed request: body shorter than declared.' },
};

/** The fault for an error Node's HTTP server reports before Fastify sees a request. */
export function clientErrorFault(error: Error): Fault {
  const code = (error as { code?: unknown }).code;
  const known = typeof code === 'string' ? PARSER_FAULTS[code] : undefined;
  const status = known?.code ?? 400;
  return {
    code: status,
    key: FAULT_NAMES[status] ?? 'computeFault',
    message: known?.message ?? 'Malformed request.',
  };
}

/**
 * Fastify's `clientErrorHandler` (Node's `clientError` event): a request
 * Node's parser refused (headers too large, a broken Content-Length or
 * chunked body, a method it does not know, a NUL in a header) gets a compute
 * fault like any other refusal, and the connection is closed, since the
 * parser cannot tell where the next request would start. A connection the
 * client reset needs no answer.
 */
export function renderClientError(
  this: FastifyInstance,
  error: Error & { code?: string },
  socket: Socket,
): void {
  if (isClientAbort(error) || socket.destroyed) {
    this.log.debug({ err: error }, 'client closed the connection mid-request');
    socket.destroy();
    return;
  }
  const fault = clientErrorFault(error);
  this.log.info({ code: error.code, status: fault.code }, 'malformed request refused');
  if (socket.writable) {
    const body = JSON.stringify({ [fault.key]: { code: fault.code, message: fault.message } });
    socket.write(
      `HTTP/1.1 ${fault.code} ${STATUS_CODES[fault.code] ?? 'Bad Request'}\r\n` +
        `Content-Type: ${FAULT_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  }
  socket.end();
  // A client that never reads must not hold the socket open.
  socket.setTimeout(5_000, () => socket.destroy());
}
