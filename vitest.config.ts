import { defineConfig } from 'vitest/config';

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
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          // A zone far from UTC: a timestamp read as local time shows up at once.
          env: { TZ: 'Pacific/Auckland' },
          hookTimeout: 60_000,
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
