import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CellgroupsError, InvalidInput } from '../../errors.js';

/** A body in a media type Nova does not take: 415 `badMediaType`. */
export class UnsupportedMediaType extends CellgroupsError {
  readonly code = 'UNSUPPORTED_MEDIA_TYPE';
  constructor() {
    super('Unsupported Content-Type');
  }
}

// Nova's supported types; `text/plain` (some servers' default) and a type left empty read as none.
const JSON_TYPES = new Set(['application/json', 'application/vnd.openstack.compute+json']);
const NO_TYPE = new Set(['', 'text/plain']);

// Nova reads a body only for these; any other method's body is ignored, whatever it holds.
const METHODS_WITH_BODY = new Set(['POST', 'PUT']);

/**
 * Python's JSON decoder gives up past its recursion limit (1000 by
 * default), so Nova never reads a body nested deeper; here it would be read,
 * then overflow the stack of whatever walks it (the message that quotes it).
 */
const MAX_NESTING = 1000;

/** How deep the arrays and objects of a JSON text nest (strings skipped). */
function nesting(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** The media type of a Content-Type header without its parameters. */
function mediaType(header: string): string {
  return (header.split(';')[0] ?? '').trim().toLowerCase();
}

/**
 * Request bodies as Nova reads them: JSON whatever the declared type among
 * `application/json`, `text/plain`, an empty one or none; any other type
 * is refused, whatever the method and whether or not a body came; a body
 * that is not JSON is "Malformed request body".
 */
export function acceptJsonBodies(scope: FastifyInstance): void {
  // Decided before Fastify parses the header itself: it refuses some that Nova reads as
  // JSON (`;`, an empty one) with a 415 of its own shape.
  scope.addHook('onRequest', (request: FastifyRequest, _reply, done) => {
    const config = request.routeOptions.config as { public?: boolean } | undefined;
    const header = request.headers['content-type'];
    if (config?.public === true || header === undefined) {
      done();
      return;
    }
    const type = mediaType(header);
    if (NO_TYPE.has(type)) delete request.headers['content-type'];
    else if (JSON_TYPES.has(type)) request.headers['content-type'] = 'application/json';
    else {
      done(new UnsupportedMediaType());
      return;
    }
    done();
  });
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (!METHODS_WITH_BODY.has(request.method) || text.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      if (nesting(text) > MAX_NESTING) throw new SyntaxError('nested too deep');
      done(null, JSON.parse(text) as unknown);
    } catch {
      done(new InvalidInput('Malformed request body'), undefined);
    }
  });
}
