import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config/load.js';

const samples = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../shared/samples',
);

describe('version discovery', () => {
  it('GET / answers the versions document of the captured Nova exchange', async () => {
    const sample = JSON.parse(
      readFileSync(path.join(samples, '01-versions_root.mvnone.json'), 'utf8'),
    ) as {
      status: number;
      headers: [string, string][];
      body: unknown;
    };
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
