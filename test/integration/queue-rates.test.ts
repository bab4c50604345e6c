/**
 * Message rates per queue on the Broker page come from RabbitMQ's management
 * API (message_stats publish / deliver_get rates): a queue that is published
 * to and consumed from shows both rates above zero, an idle queue none.
 * With statistics disabled the API leaves the counts out, and the Broker page
 * says so instead of calling every reply queue an orphan.
 */
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../lib/eventually.ts';
import { buildBrokerView, STATS_NOT_REPORTED } from '../../server/tap/broker-view.ts';
import { inspectedQueue, ManagementInspector, MANAGEMENT_QUEUE_COLUMNS, withPassiveCounts, type ManagementQueueRow } from '../../server/tap/inspector.ts';
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
  // named as oslo names a reply queue, and consumed as its caller does
  const reply = `reply_${randomBytes(16).toString('hex')}`;
  let conn: Awaited<ReturnType<typeof amqp.connect>>;
  let timer: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    conn = await amqp.connect(AMQP_URL);
    const ch = await conn.createChannel();
    await ch.assertQueue(busy, { durable: false, autoDelete: false });
    await ch.assertQueue(idle, { durable: false, autoDelete: false });
    await ch.consume(busy, (m) => m && ch.ack(m));
    await ch.assertQueue(reply, { durable: false, autoDelete: false });
    await ch.consume(reply, () => undefined, { noAck: true });
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
    await ch?.deleteQueue(reply).catch(() => undefined);
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

  it('with statistics disabled the counts are left out: read as not reported, and a consumed reply queue is no orphan', async () => {
    const inspector = new ManagementInspector({ url: MGMT_URL, vhost: '/', timeoutMs: 10_000 });
    const view = (queues: ManagementQueueRow[]) =>
      buildBrokerView({ source: 'management', vhost: '/', at: Date.now(), poolSize: 30, topics: [], exchanges: [], queues: queues.map(inspectedQueue), consumers: [], connections: [] });
    // stats on: the consumer is counted once the management plugin has sampled the queue
    const counted = await eventually(
      async () => {
        const q = view(await inspector.request<ManagementQueueRow[]>(`/queues/%2F?columns=${MANAGEMENT_QUEUE_COLUMNS}`)).queues.find((x) => x.name === reply);
        if (q?.consumers !== 1) throw new Error(`not counted yet: ${JSON.stringify(q)}`);
        return q;
      },
      'the reply queue counted',
      20_000,
      500,
    );
    expect(counted).toMatchObject({ kind: 'reply', depth: 0, health: 'ok', note: null });
    // the API's own per-request switch serves the rows a broker with management.disable_stats serves
    const rows = await inspector.request<ManagementQueueRow[]>(`/queues/%2F?disable_stats=true&columns=${MANAGEMENT_QUEUE_COLUMNS}`);
    const row = rows.find((x) => x.name === reply) as ManagementQueueRow;
    expect(row).toBeDefined();
    expect(row.consumers).toBeUndefined();
    expect(row.messages).toBeUndefined();
    const v = view(rows);
    expect(v.queues.find((x) => x.name === reply)).toMatchObject({ kind: 'reply', depth: null, consumers: null, health: 'ok', note: STATS_NOT_REPORTED });
    expect(v.replyQueuesWithoutConsumers.map((x) => x.name)).not.toContain(reply);
    // what the tap does then: ask the broker itself, a passive declare per queue
    const ch = await conn.createChannel();
    try {
      const check = async (name: string) => {
        const r = await ch.checkQueue(name);
        return { messageCount: r.messageCount, consumerCount: r.consumerCount };
      };
      const filled = await withPassiveCounts(rows.filter((x) => x.name === reply || x.name === idle).map(inspectedQueue), check, (name) => (name.startsWith('reply_') ? 'reply' : 'other'));
      const fv = buildBrokerView({ source: 'management', vhost: '/', at: Date.now(), poolSize: 30, topics: [], exchanges: [], queues: filled, consumers: [], connections: [] });
      expect(fv.queues.find((x) => x.name === reply)).toMatchObject({ kind: 'reply', depth: 0, consumers: 1, health: 'ok', note: null });
      expect(fv.queues.find((x) => x.name === idle)).toMatchObject({ depth: 0, consumers: 0 });
    } finally {
      await ch.close().catch(() => undefined);
    }
  }, 40_000);
});
