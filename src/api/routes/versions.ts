import type { FastifyInstance, FastifyRequest } from 'fastify';
import { versionDocument, versionsDocument } from '../views/versions.js';

/** The URL clients reached us at, so that links point back the same way. */
export function baseUrlOf(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

/** Version discovery: needs no token and no microversion. */
export function versionRoutes(app: FastifyInstance): void {
  app.get('/', (request) => versionsDocument(baseUrlOf(request)));
}

/** `GET /v2.1`: the document of the one version served here (negotiated, so it echoes the version). */
export function versionV21Routes(scope: FastifyInstance): void {
  scope.get('/', { config: { public: true } }, (request) => versionDocument(baseUrlOf(request)));
}
