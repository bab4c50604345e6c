/**
 * Message rates per queue on the Broker page come from RabbitMQ's management
 * API (message_stats publish / deliver_get rates): a queue that is published
 * to and consumed from shows both rates above zero, an idle queue none.
 */
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../lib/eventually.ts';
import { ManagementInspector } from '../../server/tap/inspector.ts';
import { AMQP_URL, brokerAvailable } from '../interop/python-peer.ts';

const MGMT_URL = process.env.TEST_MANAGEMENT_URL ?? process.env.TEST_RABBITMQ_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';

async function managementUp(): Promise<boolean> {
  try {
    await new ManagementInspector({ url: MGMT_URL, vhost: '/', timeoutMs: 3000 }).request('/overview?columns=node');
    return true;
  } catch {
    return false;
  }
}

const ready = (await managementUp()) && (await brokerAvailable());
if (!ready && process.env.CI) throw new Error(`broker (${AMQP_URL}) or its management API (${MGMT_URL}) not available`);
if (!ready) console.warn('SKIPPED queue-rates: broker or management API not available');

describe.skipIf(!ready)('queue message rates from the management API', () => {
  const busy = `osloscope-rates-${randomBytes(3).toString('hex')}`;
  const idle = `${busy}-idle`;
  let conn: Awaited<ReturnType<typeof amqp.connect>>;
  let timer: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    conn = await amqp.connect(AMQP_URL);
    const ch = await conn.createChannel();
    await ch.assertQueue(busy, { durable: false, autoDelete: false });
    await ch.assertQueue(idle, { durable: false, autoDelete: false });
    await ch.consume(busy, (m) => m && ch.ack(m));
    // 20 messages a second until the test ends
    timer = setInterval(() => {
      for (let i = 0; i < 2; i++) ch.sendToQueue(busy, Buffer.from('x'));
    }, 100);
  });

  afterAll(async () => {
    if (timer) clearInterval(timer);
    const ch = await conn?.createChannel();
    await ch?.deleteQueue(busy).catch(() => undefined);
    await ch?.deleteQueue(idle).catch(() => undefined);
    await conn?.close().catch(() => undefined);
  });

  it('reports publish and deliver rates of a busy queue, none of an idle one', async () => {
    const inspector = new ManagementInspector({ url: MGMT_URL, vhost: '/', timeoutMs: 10_000 });
    // the management plugin samples every 5 s
    const q = await eventually(
      async () => {
        const list = await inspector.queues();
        const b = list.find((x) => x.name === busy);
        if (!b?.rates || b.rates.in <= 0 || b.rates.out <= 0) throw new Error(`no rates yet: ${JSON.stringify(b?.rates)}`);
        return { busy: b, idle: list.find((x) => x.name === idle) };
      },
      'publish and deliver rates of the busy queue',
      40_000,
      1000,
    );
    expect(q.busy.rates!.in).toBeGreaterThan(5);
    expect(q.busy.rates!.in).toBeLessThan(100);
    expect(q.busy.rates!.out).toBeGreaterThan(5);
    expect(q.idle?.rates?.in ?? 0).toBe(0);
  }, 60_000);
});
