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
