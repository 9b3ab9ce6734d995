import { configDefaults, defineConfig } from 'vitest/config';

// Tests that need a real Keystone (and openstackclient): their own project, so that only a run
// that includes them pays for preparing Keystone.
const KEYSTONE_TESTS = ['test/api/keystone.test.ts', 'test/clients/**/*.test.ts'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'db',
          // Every file here runs on each engine it can reach, on fresh databases of its own.
          include: [
            'test/db/**/*.test.ts',
            'test/online/**/*.test.ts',
            'test/cli/**/*.test.ts',
            'test/api/**/*.test.ts',
          ],
          exclude: [...configDefaults.exclude, ...KEYSTONE_TESTS],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          // A zone far from UTC: a timestamp read as local time shows up at once.
          env: { TZ: 'Pacific/Auckland' },
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'keystone',
          // Each file starts its own Keystone (on a copy of the one the setup prepared) and
          // a compute API of its own; the API database is SQLite, the engines are covered above.
          include: KEYSTONE_TESTS,
          globalSetup: ['test/support/keystone-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          env: { TZ: 'Pacific/Auckland' },
        },
      },
      {
        test: {
          name: 'nova',
          // One real Nova deployment (its own mariadbd, nova-manage, Nova's API under uwsgi) for
          // the whole project (support/nova/); the files share it, so one at a time.
          include: ['test/nova/**/*.test.ts'],
          globalSetup: ['test/support/nova/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
          env: { TZ: 'Pacific/Auckland' },
        },
      },
      {
        test: {
          name: 'galera',
          // One 3-node cluster on loopback for the whole project (support/galera/).
          include: ['test/galera/**/*.test.ts'],
          globalSetup: ['test/support/galera/global-setup.ts'],
          // The files share the cluster and some kill its nodes: one at a time.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
          env: { TZ: 'Pacific/Auckland' },
        },
      },
    ],
  },
});
