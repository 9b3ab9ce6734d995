import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KEYSTONE_UNAVAILABLE, NOT_FOUND, webobPage } from '../../../src/api/http/webob-pages.js';

interface Case {
  readonly page: 'not_found' | 'keystone_unavailable';
  readonly method: string;
  readonly accept: string | null;
  readonly content_type: string;
  readonly body: string;
}

/**
 * Captured from webob itself (Debian's python3-webob 1.8.6, which Nova 26
 * runs): each exception rendered for each Accept header and method, by
 * `webob.Request.blank(…).get_response(exception)`.
 */
const FIXTURE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../fixtures/webob/pages.json',
);
const { cases } = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { cases: Case[] };

describe("webob's pages", () => {
  it.each(cases.map((c) => [c.page, c.method, JSON.stringify(c.accept), c] as const))(
    '%s, %s, Accept %s',
    (_page, _method, _accept, c) => {
      const request = {
        method: c.method,
        headers: c.accept === null ? {} : { accept: c.accept },
      } as unknown as IncomingMessage;
      const page = webobPage(request, c.page === 'not_found' ? NOT_FOUND : KEYSTONE_UNAVAILABLE);
      // A HEAD has no body on the wire; its headers are the point.
      expect({
        contentType: page.contentType,
        body: c.method === 'HEAD' ? '' : page.body,
      }).toEqual({ contentType: c.content_type, body: c.body });
    },
  );
});
