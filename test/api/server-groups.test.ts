import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config/load.js';
import { requestContext } from '../../src/context.js';
import { createCloud, type TestCloud } from '../support/cloud.js';
import { forEachEngine } from '../support/engines.js';
import { expected, replay, type Comparable } from '../support/replay.js';
import { readSample, type Sample } from '../support/samples.js';

/**
 * The read and delete exchanges of the captured scenario, replayed in
 * order against the server on each engine. The groups the scenario had
 * created by then (some by calls left out of the samples) are created
 * first, through the data layer, with their captured uuids, from what the
 * captured lists show of them. Creation through the API, quotas and
 * members join as they are built (issue 6).
 */
const READS = [
  '11-show.mvnone.json',
  '12-show.mv2.13.json',
  '13-show.mv2.64.json',
  '14-show_created_at_2.1.mv2.64.json',
  '15-show_latest.mvlatest.json',
  '17-show_other_project.mv2.64.json',
  '18-show_as_admin.mv2.64.json',
  '19-show_not_found.mv2.64.json',
  '20-show_not_a_uuid.mv2.64.json',
  '21-list.mvnone.json',
  '22-list.mv2.13.json',
  '23-list.mv2.64.json',
  '24-list_limit_2.mv2.13.json',
  '25-list_limit_2_offset_2.mv2.13.json',
  '26-list_offset_past_end.mv2.13.json',
  '29-list_limit_negative.mv2.13.json',
  '30-list_limit_not_int.mv2.13.json',
  '31-list_offset_negative.mv2.13.json',
  '32-list_unknown_param.mv2.74.json',
  '33-list_unknown_param.mv2.75.json',
  '34-list_admin_own_project.mv2.13.json',
  '35-list_all_projects_admin.mv2.13.json',
  '37-list_all_projects_admin_paged.mv2.13.json',
  '38-list_all_projects_non_admin.mv2.13.json',
  '61-list_unsupported_microversion.mv2.94.json',
  '62-list_microversion_2.0.mv2.0.json',
];
const DELETES = [
  '67-delete_other_project.mv2.64.json',
  '68-delete.mv2.64.json',
  '69-delete_again.mv2.64.json',
  '70-show_deleted.mv2.64.json',
];

const CREATES = [
  '05-create.mv2.1.json',
  '06-create.mv2.15.json',
  '07-create_policy_rules.mv2.64.json',
  '08-create_policy_no_rules.mv2.64.json',
  '10-create_other_project.mv2.64.json',
  '39-create_bad_policy.mv2.1.json',
  '40-create_soft_policy_before_2.15.mv2.14.json',
  '41-create_two_policies.mv2.1.json',
  '42-create_empty_policies.mv2.1.json',
  '43-create_policy_field_before_2.64.mv2.63.json',
  '44-create_bad_policy.mv2.64.json',
  '45-create_policies_field_at_2.64.mv2.64.json',
  '46-create_rules_with_affinity.mv2.64.json',
  '47-create_rules_zero.mv2.64.json',
  '48-create_rules_unknown_key.mv2.64.json',
  '50-create_missing_name.mv2.1.json',
  '51-create_empty_name.mv2.1.json',
  '53-create_name_256_chars.mv2.1.json',
  '54-create_name_255_chars.mv2.1.json',
  '55-create_extra_property.mv2.1.json',
  '56-create_no_wrapper.mv2.1.json',
  '57-create_malformed_json.mv2.1.json',
  '58-create_no_content_type.mv2.1.json',
  '60-create_xml_content_type.mv2.1.json',
  '81-create_rules_max1_no_computes.mv2.64.json',
  '82-create_for_members.mv2.64.json',
];

interface ListedGroup {
  id: string;
  name: string;
  policy: string;
  rules: Record<string, unknown>;
  project_id: string;
  user_id: string;
}

/** The groups as the scenario had them at call 11, in creation order. */
function scenarioGroups(): ListedGroup[] {
  const alice = (readSample('23-list.mv2.64.json').body as { server_groups: ListedGroup[] })
    .server_groups;
  const bob = (
    readSample('10-create_other_project.mv2.64.json').body as {
      server_group: ListedGroup;
    }
  ).server_group;
  return [...alice, bob];
}

forEachEngine((engine) => {
  describe('os-server-groups against the captured exchanges', () => {
    let cloud: TestCloud;
    let app: FastifyInstance;
    beforeAll(async () => {
      cloud = await createCloud(engine, [engine]);
      for (const g of scenarioGroups()) {
        await cloud.service.create(requestContext(g.user_id, g.project_id), {
          uuid: g.id,
          name: g.name,
          policy: g.policy,
          rules: g.rules,
        });
        // Creation order is list order; MariaDB keeps whole seconds, ties go by id.
      }
      app = buildApp({ config: loadConfig({ env: {} }), groups: cloud.service });
    });
    afterAll(async () => {
      await app.close();
      await cloud.destroy();
    });

    const check = async (file: string) => {
      const sample: Sample = readSample(file);
      expect(await replay(app, sample)).toEqual(expected(sample));
    };
    for (const file of READS) it(file, () => check(file));

    it('64-list_legacy_header.mvlegacy-2.64.json', async () => {
      // Creates between 23 and 64 (some left out of the samples) added these groups.
      const listed = (
        readSample('64-list_legacy_header.mvlegacy-2.64.json').body as {
          server_groups: ListedGroup[];
        }
      ).server_groups;
      const known = new Set(scenarioGroups().map((g) => g.id));
      for (const g of listed.filter((g) => !known.has(g.id))) {
        await cloud.service.create(requestContext(g.user_id, g.project_id), {
          uuid: g.id,
          name: g.name,
          policy: g.policy,
          rules: g.rules,
        });
      }
      await check('64-list_legacy_header.mvlegacy-2.64.json');
    });

    for (const file of DELETES) it(file, () => check(file));

    it('72-79: a project at its quota of 10 groups lists them, creates nothing more, and shows its quota', async () => {
      // The scenario's setup before call 72 (not an exchange): smoke-quota gets 10 groups.
      const listed = (
        readSample('72-list_quota_project_full.mv2.13.json').body as {
          server_groups: (ListedGroup & { policies: string[] })[];
        }
      ).server_groups;
      for (const g of listed) {
        await cloud.service.create(requestContext(g.user_id, g.project_id), {
          uuid: g.id,
          name: g.name,
          policy: g.policies[0] ?? 'affinity',
        });
      }
      for (const file of [
        '72-list_quota_project_full.mv2.13.json',
        '73-create_over_quota.mv2.1.json',
        '74-create_over_quota.mv2.64.json',
        '75-create_over_quota_other_user.mv2.1.json',
        '77-quota_sets_show.mv2.1.json',
        '78-quota_sets_detail.mv2.1.json',
        '79-limits.mv2.1.json',
      ]) {
        await check(file);
      }
    });
  });

  describe('creating server groups as the captured exchanges did', () => {
    let cloud: TestCloud;
    let app: FastifyInstance;
    beforeAll(async () => {
      cloud = await createCloud(engine, [engine]);
      app = buildApp({ config: loadConfig({ env: {} }), groups: cloud.service });
    });
    afterAll(async () => {
      await app.close();
      await cloud.destroy();
    });

    /** A new group's id is the server's own: compared as a uuid, not by value. */
    const withoutId = (answer: Comparable): Comparable => {
      const body = answer.body as { server_group?: { id?: string } } | null;
      if (!body?.server_group?.id) return answer;
      expect(body.server_group.id).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      );
      return { ...answer, body: { server_group: { ...body.server_group, id: '<id>' } } };
    };
    for (const file of CREATES) {
      it(file, async () => {
        const sample = readSample(file);
        expect(withoutId(await replay(app, sample))).toEqual(withoutId(expected(sample)));
      });
    }
  });

  describe('members: only live instances, as the captured exchanges 83 to 86 show', () => {
    let cloud: TestCloud;
    let app: FastifyInstance;
    beforeAll(async () => {
      // cell0 and cell1, as the samples' cloud had them.
      cloud = await createCloud(engine, [engine, engine], {}, { cell0: true });
      app = buildApp({ config: loadConfig({ env: {} }), groups: cloud.service });
    });
    afterAll(async () => {
      await app.close();
      await cloud.destroy();
    });

    it('83, 85, 86', async () => {
      const created = readSample('82-create_for_members.mv2.64.json').body as {
        server_group: ListedGroup;
      };
      const member = (n: number) => `5e5e5e5e-0000-4000-8000-00000000000${n}`;
      // The scenario's setup (samples README): six member rows written straight into the
      // API database, each a different kind of instance.
      await cloud.service.create(requestContext('alice', 'smoke-p1'), {
        uuid: created.server_group.id,
        name: created.server_group.name,
        policy: created.server_group.policy,
        members: [1, 2, 3, 4, 5, 6].map(member),
      });
      const [cell0, cell1] = cloud.cells;
      if (!cell0 || !cell1) throw new Error('two cells expected');
      const mapping = (n: number, cellId: number | null) => ({
        instance_uuid: member(n),
        cell_id: cellId,
        project_id: 'smoke-p1',
        user_id: 'alice',
      });
      await cloud.api.db
        .insertInto('instance_mappings')
        .values([
          mapping(1, null), // not scheduled yet
          // 2: no mapping at all
          mapping(3, cell1.mapping.id),
          mapping(4, cell1.mapping.id),
          mapping(5, cell1.mapping.id), // no instance row
          mapping(6, cell0.mapping.id),
        ])
        .execute();
      const instance = (n: number) => ({
        uuid: member(n),
        host: null,
        project_id: 'smoke-p1',
        user_id: 'alice',
      });
      await cell1.db.db
        .insertInto('instances')
        .values([instance(3), instance(4)])
        .execute();
      await cell1.db.db
        .updateTable('instances')
        .set((eb) => ({ deleted: eb.ref('id') }))
        .where('uuid', '=', member(4))
        .execute();
      await cell0.db.db
        .insertInto('instances')
        .values([instance(6)])
        .execute();

      for (const file of [
        '83-show_members.mv2.64.json',
        '85-list_members.mv2.64.json',
        '86-delete_with_members.mv2.64.json',
      ]) {
        const sample = readSample(file);
        expect(await replay(app, sample), file).toEqual(expected(sample));
      }
    });
  });
});
