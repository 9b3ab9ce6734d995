import type { FastifyInstance, FastifyRequest } from 'fastify';
import { versionDocument, versionsDocument } from '../views/versions.js';

/** The URL clients reached us at, so that links point back the same way. */
export function baseUrlOf(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

/**
 * Version discovery: needs no token and no microversion. Nova's version apps
 * (`Versions`, `VersionsV2`) pick their action from the path alone, never the
 * method, so HEAD gets the GET answer's headers (webob drops the body); the
 * compute routes themselves have no HEAD (see app.ts).
 */
export function versionRoutes(app: FastifyInstance): void {
  app.route({
    method: ['GET', 'HEAD'],
    url: '/',
    handler: (request) => versionsDocument(baseUrlOf(request)),
  });
}

/** `GET /v2.1`: the document of the one version served here (negotiated, so it echoes the version). */
export function versionV21Routes(scope: FastifyInstance): void {
  scope.route({
    method: ['GET', 'HEAD'],
    url: '/',
    config: { public: true },
    handler: (request) => versionDocument(baseUrlOf(request)),
  });
}
