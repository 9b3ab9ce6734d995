import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config/load.js';
import { readSample } from '../support/samples.js';

describe('version discovery', () => {
  it('GET / answers the versions document of the captured Nova exchange', async () => {
    const sample = readSample('01-versions_root.mvnone.json');
    const app = buildApp({ config: loadConfig({ env: {} }) });
    const response = await app.inject({
      method: 'GET',
      url: '/',
      headers: { host: '127.0.0.1:18774' },
    });
    expect(response.statusCode).toBe(sample.status);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.json()).toEqual(sample.body);
    await app.close();
  });
});

describe('HEAD', () => {
  const GET_ROUTES = [
    '/v2.1/os-server-groups',
    '/v2.1/os-server-groups/0c5f2a52-7ab0-4c2e-9d1b-0d3f2f8c1a11',
    '/v2.1/p1/os-server-groups',
    '/v2.1/p1/os-server-groups/0c5f2a52-7ab0-4c2e-9d1b-0d3f2f8c1a11',
    '/v2.1/os-quota-sets/p1',
    '/v2.1/os-quota-sets/p1/detail',
    '/v2.1/os-quota-sets/p1/defaults',
    '/v2.1/p1/os-quota-sets/p1',
    '/v2.1/limits',
    '/v2.1/p1/limits',
  ];

  it.each(GET_ROUTES)('HEAD %s is the 404 page, as Nova has no HEAD routes', async (url) => {
    const app = buildApp({ config: loadConfig({ env: {} }) });
    const response = await app.inject({
      method: 'HEAD',
      url,
      headers: { 'x-auth-token': 'admin:p1' },
    });
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toBe('text/html; charset=UTF-8');
    expect(response.body).toBe('');
    await app.close();
  });

  it.each(['/', '/v2.1'])(
    "HEAD %s answers the version document's headers without its body, as Nova's version apps",
    async (url) => {
      const app = buildApp({ config: loadConfig({ env: {} }) });
      const get = await app.inject({ method: 'GET', url, headers: { host: '127.0.0.1:18774' } });
      const head = await app.inject({ method: 'HEAD', url, headers: { host: '127.0.0.1:18774' } });
      expect(head.statusCode).toBe(200);
      expect(head.headers['content-type']).toBe('application/json');
      expect(head.headers['content-length']).toBe(get.headers['content-length']);
      expect(head.body).toBe('');
      await app.close();
    },
  );
});
