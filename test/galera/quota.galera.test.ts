import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config/load.js';
import { requestContext } from '../../src/context.js';
import { openDatabase } from '../../src/db/connection.js';
import { conflictRetries } from '../../src/db/retry.js';
import type { ApiDatabase } from '../../src/db/schema/api.js';
import { GroupExists } from '../../src/errors.js';
import { GroupService } from '../../src/groups/service.js';
import { createCloud, type TestCloud } from '../support/cloud.js';
import { databaseOf, serverUrlFor } from '../support/engines.js';
import { describeGalera } from '../support/galera.js';

const QUOTA = 5;
const RACERS = 20;
const ROUNDS = 8;

/**
 * The checks a create makes before it inserts (quota, uuid taken) with the
 * racing requests on different nodes of the API database's cluster, where
 * a row lock or a serializable read on one node means nothing to another.
 */
describeGalera('creates racing across the nodes of a Galera cluster', (cluster) => {
  let cloud: TestCloud;
  /** One data layer and one API server per node, over the same databases. */
  const services: GroupService[] = [];
  const apps: FastifyInstance[] = [];
  beforeAll(async () => {
    // The API database and a cell, made through node 1 (the cell is reached through its mapping).
    cloud = await createCloud(cluster.engine(1), [cluster.engine(1)]);
    const database = databaseOf(cloud.apiUrl);
    for (const index of [1, 2, 3]) {
      const service = new GroupService(
        openDatabase<ApiDatabase>(serverUrlFor(cluster.node(index).url, database)),
        { cells: { mappingsTtlMs: 0 } },
      );
      services.push(service);
      apps.push(
        buildApp({
          config: loadConfig({ env: { OS_QUOTA__SERVER_GROUPS: String(QUOTA) } }),
          groups: service,
        }),
      );
    }
  });
  const nodeService = (i: number): GroupService => {
    const service = services[i % services.length];
    if (!service) throw new Error('no service');
    return service;
  };
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await Promise.all(services.map((s) => s.close()));
    await cloud.destroy();
  });

  it(`${RACERS} creates for a project's last group, spread over 3 nodes: exactly one succeeds, ${ROUNDS} times`, async () => {
    const retriesBefore = conflictRetries();
    for (let round = 0; round < ROUNDS; round++) {
      const project = `racing-${round}`;
      const owner = requestContext('q1', project);
      for (let i = 0; i < QUOTA - 1; i++) {
        await cloud.service.create(owner, { name: `g${i}`, policy: 'affinity' });
      }
      const answers = await Promise.all(
        Array.from({ length: RACERS }, (_, i) => {
          const app = apps[i % apps.length];
          if (!app) throw new Error('no app');
          return app.inject({
            method: 'POST',
            url: '/v2.1/os-server-groups',
            headers: { 'x-auth-token': `u${i}:${project}`, 'content-type': 'application/json' },
            payload: { server_group: { name: `racer-${i}`, policies: ['affinity'] } },
          });
        }),
      );
      const statuses = answers.map((a) => a.statusCode).sort();
      expect(statuses, answers.map((a) => a.body).join('\n')).toEqual([
        200,
        ...Array.from({ length: RACERS - 1 }, () => 403),
      ]);
      const { count } = await cloud.service.countGroups({ projectId: project });
      expect(count).toBe(QUOTA);
    }
    console.log(
      `Galera quota race: ${conflictRetries() - retriesBefore} transaction(s) retried after 1213 over ${ROUNDS} rounds`,
    );
  });

  it('the same uuid created at once on every node: exactly one create succeeds', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const uuid = `6a1e0000-0000-4000-8000-00000000000${round}`;
      const outcomes = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) =>
          nodeService(i).create(requestContext('u1', 'same-uuid'), {
            uuid,
            name: `twin-${i}`,
            policy: 'affinity',
          }),
        ),
      );
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const o of outcomes) {
        if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(GroupExists);
      }
    }
  });
});
