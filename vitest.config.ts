import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Service tests start real servers on their own ports; two cores, so keep parallelism modest.
    pool: 'forks',
    maxWorkers: 2,
  },
});
