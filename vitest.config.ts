import { defineConfig } from 'vitest/config';

// One `npm test` runs everything: unit tests beside the code (memory transport),
// integration tests against the real RabbitMQ, interop tests against real Python
// oslo.messaging peers, and the Playwright end-to-end specs in e2e/.
export default defineConfig({
  test: {
    include: ['{server,lib,bin,scripts,components}/**/*.test.ts', 'test/**/*.test.ts', 'e2e/**/*.spec.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
