import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config/load.js';
import { expected, replay } from '../support/replay.js';
import { readSample } from '../support/samples.js';

/**
 * Captured Nova exchanges the server answers field for field so far (the
 * ones that need no groups: version discovery, negotiation, unrouted
 * paths). os-server-groups joins this list as it is built (issue 6).
 */
const SAMPLES = [
  '01-versions_root.mvnone.json',
  '02-version_v2.1.mvnone.json',
  '03-version_v2.1_with_token.mv2.64.json',
  '65-put_unrouted.mv2.64.json',
];

describe('conformance with the captured Nova exchanges', () => {
  let app: FastifyInstance;
  beforeAll(() => {
    app = buildApp({ config: loadConfig({ env: {} }) });
  });
  afterAll(async () => {
    await app.close();
  });

  for (const file of SAMPLES) {
    it(file, async () => {
      const sample = readSample(file);
      expect(await replay(app, sample)).toEqual(expected(sample));
    });
  }

  it('refuses a version out of range with 406 and echoes it, as sample 61 shows', async () => {
    const sample = readSample('61-list_unsupported_microversion.mv2.94.json');
    const answer = await replay(app, {
      ...sample,
      request: { ...sample.request, path: '/v2.1/' },
    });
    expect(answer).toEqual(expected(sample));
  });

  it('refuses an unparsable version with 400 and no version headers', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/v2.1/',
      headers: { 'openstack-api-version': 'compute 2.x' },
    });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toBe('application/json; charset=UTF-8');
    expect(response.json()).toEqual({
      badRequest: {
        code: 400,
        message:
          'API Version String 2.x is of invalid format. Must be of format MajorNum.MinorNum.',
      },
    });
    expect(response.headers['openstack-api-version']).toBeUndefined();
    expect(response.headers['x-openstack-request-id']).toMatch(/^req-/);
  });
});
