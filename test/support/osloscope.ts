/**
 * An osloscope server (API only, no pages) on a throw-away vhost, its control exchange `nova` declared
 * first as a nova service would have: the integration tests that feed it hostile or huge traffic.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqplib from 'amqplib';
import pino, { type Logger } from 'pino';
import { loadConfig } from '../../server/config.ts';
import { startOsloscope, type RunningServer } from '../../server/index.ts';
import { TEST_MANAGEMENT_URL, type TestVhost } from '../../server/tap/test-support.ts';
import { tempHistoryDatabase } from '../../server/store/test-db.ts';

export async function startOsloscopeOnVhost(vh: TestVhost, env: Record<string, string> = {}, log: Logger = pino({ level: 'warn' })): Promise<RunningServer> {
  const amqp = await amqplib.connect(vh.amqpUrl);
  try {
    const ch = await amqp.createChannel();
    await ch.assertExchange('nova', 'topic', { durable: false, autoDelete: false });
  } finally {
    await amqp.close();
  }
  return startOsloscope(
    loadConfig({
      PORT: '0',
      DEMO_FLEET: 'off',
      TRANSPORT_URL: vh.url,
      CONTROL_EXCHANGE: 'nova',
      TAP_MODE: 'bindings',
      RABBITMQ_MANAGEMENT_URL: TEST_MANAGEMENT_URL,
      AUDIT_LOG: join(mkdtempSync(join(tmpdir(), 'osloscope-audit-')), 'audit.log'),
      HISTORY_DATABASE: tempHistoryDatabase(),
      LOG_LEVEL: 'warn',
      ...env,
    }),
    { withoutPages: true, log },
  );
}
