import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * `npm run test:unit`: the fast unit tests beside the code — memory transport, pure modules, the
 * HTTP and socket plumbing on the embedded broker, the layer rules. No RabbitMQ, no Python peer, no
 * browser. The full suite (vitest.config.ts) runs these too, plus test/ and e2e/.
 */
export default defineConfig({
  // components/ and app/ import with tsconfig.json's `@/` path (not `@scope/` packages)
  resolve: { alias: [{ find: /^@\//, replacement: fileURLToPath(new URL('./', import.meta.url)) }] },
  test: {
    include: ['{server,lib,bin,scripts,components,app}/**/*.test.{ts,tsx}'],
    exclude: [
      '**/node_modules/**',
      // drive a real RabbitMQ (and Python peers) side by side with the memory broker
      'bin/commands/bench.test.ts',
      'server/messaging/drivers/memory/memory-vs-rabbitmq.test.ts',
      // slow by design, kept for the full suite: the whole-tree layer check (`npm run lint` is the
      // quick way), 300 parallel logins against the throttle, compression bombs of 64 MiB and more
      'scripts/layers.test.ts',
      'server/auth/login-limits.test.ts',
      'server/http/security.test.ts',
      'server/messaging/compression.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
    env: {
      // a unit test that reaches for a broker fails at once instead of finding the shared one
      TEST_TRANSPORT_URL: 'rabbit://guest:guest@127.0.0.1:1/',
      TEST_MANAGEMENT_URL: 'http://guest:guest@127.0.0.1:1',
      TEST_AMQP_HOST: 'guest:guest@127.0.0.1:1',
      // history in memory unless a test names a store (not a shared file under ./data/)
      HISTORY_DATABASE: ':memory:',
    },
  },
});
