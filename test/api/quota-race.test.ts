import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config/load.js';
import { requestContext } from '../../src/context.js';
import { createCloud, type TestCloud } from '../support/cloud.js';
import { forEachServerEngine } from '../support/engines.js';
import { insertLegacyGroups } from '../support/legacy.js';

const QUOTA = 5;
const RACERS = 20;

/**
 * 20 creates at once for a project with one group of quota left (one of
 * its groups still in a cell, not yet migrated): exactly one may succeed.
 */
forEachServerEngine((engine) => {
  describe('racing creates at the quota', () => {
    let cloud: TestCloud;
    let app: FastifyInstance;
    beforeAll(async () => {
      cloud = await createCloud(engine, [engine]);
      app = buildApp({
        config: loadConfig({ env: { OS_QUOTA__SERVER_GROUPS: String(QUOTA) } }),
        groups: cloud.service,
      });
      const owner = requestContext('q1', 'racing');
      for (let i = 0; i < QUOTA - 2; i++) {
        await cloud.service.create(owner, { name: `g${i}`, policy: 'affinity' });
      }
      const [cell] = cloud.cells;
      if (!cell) throw new Error('a cell expected');
      await insertLegacyGroups(cell.db.db, [{ name: 'legacy', projectId: 'racing' }]);
    });
    afterAll(async () => {
      await app.close();
      await cloud.destroy();
    });

    it(`${RACERS} creates for the last group: exactly one succeeds`, async () => {
      const answers = await Promise.all(
        Array.from({ length: RACERS }, (_, i) =>
          app.inject({
            method: 'POST',
            url: '/v2.1/os-server-groups',
            headers: {
              'x-auth-token': `u${i}:racing`,
              'content-type': 'application/json',
            },
            payload: { server_group: { name: `racer-${i}`, policies: ['affinity'] } },
          }),
        ),
      );
      const statuses = answers.map((a) => a.statusCode).sort();
      expect(statuses).toEqual([200, ...Array.from({ length: RACERS - 1 }, () => 403)]);
      for (const a of answers.filter((r) => r.statusCode === 403)) {
        expect(a.json()).toEqual({
          forbidden: { code: 403, message: 'Quota exceeded, too many server groups.' },
        });
      }
      const { count } = await cloud.service.countGroups({ projectId: 'racing' });
      expect(count).toBe(QUOTA);
    });
  });
});
