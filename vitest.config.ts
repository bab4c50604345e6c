import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// One `npm test` runs everything: unit tests beside the code (memory transport),
// integration tests against the real RabbitMQ, interop tests against real Python
// oslo.messaging peers, and the Playwright end-to-end specs in e2e/.
export default defineConfig({
  // components/ and app/ import with tsconfig.json's `@/` path (not `@scope/` packages)
  resolve: { alias: [{ find: /^@\//, replacement: fileURLToPath(new URL('./', import.meta.url)) }] },
  test: {
    include: ['{server,lib,bin,scripts,components,app}/**/*.test.{ts,tsx}', 'test/**/*.test.ts', 'e2e/**/*.spec.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
    env: {
      // Every osloscope a test starts keeps its history in memory unless the test names a store: the
      // default file under ./data/ would be shared by parallel tests and matrix cells.
      HISTORY_DATABASE: ':memory:',
    },
  },
});
