import type { FastifyInstance } from 'fastify';
import { CellgroupsError, InvalidInput } from '../errors.js';

/** A body in a media type Nova does not take: 415 `badMediaType`. */
export class UnsupportedMediaType extends CellgroupsError {
  readonly code = 'UNSUPPORTED_MEDIA_TYPE';
  constructor() {
    super('Unsupported Content-Type');
  }
}

// Nova reads JSON from these, and from a body with no Content-Type at all.
const JSON_TYPES = new Set(['application/json', 'text/plain']);

/**
 * Request bodies as Nova reads them: JSON whatever the declared type among
 * `application/json`, `text/plain` or none; any other type is refused; a
 * body that is not JSON is "Malformed request body".
 */
export function acceptJsonBodies(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (type !== '' && !JSON_TYPES.has(type)) {
      done(new UnsupportedMediaType(), undefined);
      return;
    }
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(text) as unknown);
    } catch {
      done(new InvalidInput('Malformed request body'), undefined);
    }
  });
}
