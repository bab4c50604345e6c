/**
 * The fleet ping on the memory transport, with real RpcServers: what each row
 * says about a server, and where its consumer count comes from (the queue at
 * the verdict, not the broker's listing, which lags on RabbitMQ).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryBroker, RpcServer, Transport } from '../messaging/index.ts';
import { discoverServers, passiveConsumers, pingFleet, withConsumers, type PingCandidate, type PingServerResult } from './ping.ts';

const TOPIC = 'compute';
const discovery = { queueSource: 'management' as const, queues: 0, observed: 0, given: 0, note: null };

describe('pingFleet', () => {
  let broker: MemoryBroker;
  const transports: Transport[] = [];
  const servers: RpcServer[] = [];

  const transport = (name: string): Transport => {
    const t = new Transport('memory://', { memoryBroker: broker, conf: { control_exchange: 'nova' }, programName: name });
    transports.push(t);
    return t;
  };

  async function service(host: string, pingEnabled = true): Promise<RpcServer> {
    const s = new RpcServer(transport(`nova-compute-${host}`), { topic: TOPIC, server: host }, [{ echo: (_c: unknown, a: Record<string, unknown>) => a.value }], { pingEnabled });
    await s.start(0);
    servers.push(s);
    return s;
  }

  /** The candidates as a lagging management API lists them: every count stale. */
  const listed = (counts: Record<string, number>): PingCandidate[] =>
    discoverServers({ topic: TOPIC, queues: Object.entries(counts).map(([host, consumers]) => ({ name: `${TOPIC}.${host}`, consumers })) });

  const byServer = (rows: PingServerResult[]) => Object.fromEntries(rows.map((r) => [r.server, r]));

  beforeEach(() => {
    broker = new MemoryBroker();
  });

  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop().catch(() => undefined);
    for (const t of transports.splice(0)) await t.close().catch(() => undefined);
  });

  it('names a dead server whose queue outlived it by the queue it leaves, though the listing still counts its consumer', async () => {
    await service('host-a');
    const dead = await service('host-dead');
    await dead.stop();
    const client = transport('osloscope');
    const r = await pingFleet(client, { topic: TOPIC, candidates: listed({ 'host-a': 0, 'host-dead': 1 }), timeoutSeconds: 0.3, discovery });
    const s = byServer(r.servers);
    // the listing's counts were stale both ways: the live one said 0, the dead one 1
    expect(s['host-a']).toMatchObject({ status: 'pong', answered: true, consumers: 1 });
    expect(s['host-dead']).toMatchObject({ status: 'timeout', answered: false, latencyMs: null, consumers: 0 });
    expect(s['host-dead'].message).toBe('no reply within 0.3 s; nobody consumes compute.host-dead: the server is not running (its queue outlives it)');
    expect(r).toMatchObject({ answered: 1, missing: 1 });
  });

  it('tells a server that holds its queue and does not answer from a dead one', async () => {
    const hung = broker.connect('hung-compute');
    await hung.assertExchange('nova', 'topic', { durable: false, autoDelete: false });
    await hung.assertQueue(`${TOPIC}.host-hung`, { durable: false, autoDelete: false });
    await hung.bindQueue(`${TOPIC}.host-hung`, 'nova', `${TOPIC}.host-hung`);
    let taken = 0;
    await hung.consume(`${TOPIC}.host-hung`, () => {
      taken += 1; // takes the call, never acks or answers
    });
    try {
      const r = await pingFleet(transport('osloscope'), { topic: TOPIC, candidates: listed({ 'host-hung': 0 }), timeoutSeconds: 0.3, discovery });
      expect(taken).toBe(1);
      expect(r.servers[0]).toMatchObject({ server: 'host-hung', status: 'timeout', consumers: 1 });
      expect(r.servers[0].message).toBe('no reply within 0.3 s; 1 consumer(s) on compute.host-hung did not answer: the server is hung or busy with earlier calls');
    } finally {
      await hung.close();
    }
  });

  it('explains a server whose queue was deleted when it left: returned at once, not after the timeout', async () => {
    const other = broker.connect('admin');
    await other.assertExchange('nova', 'topic', { durable: false, autoDelete: false });
    await other.assertQueue(`${TOPIC}.host-left`, { durable: false, autoDelete: false });
    await other.bindQueue(`${TOPIC}.host-left`, 'nova', `${TOPIC}.host-left`);
    const candidates = listed({ 'host-left': 0 });
    await other.deleteQueue(`${TOPIC}.host-left`);
    await other.close();
    const started = performance.now();
    const r = await pingFleet(transport('osloscope'), { topic: TOPIC, candidates, timeoutSeconds: 10, discovery });
    expect(performance.now() - started).toBeLessThan(5000);
    expect(r.servers[0]).toMatchObject({ server: 'host-left', status: 'no_queue', answered: false, consumers: null });
    expect(r.servers[0].message).toMatch(/^no queue compute\.host-left took the call \(returned unroutable\): the server left and its queue was deleted/);
  });

  it('keeps the listed count when the queue cannot be asked', async () => {
    await service('host-a');
    const r = await pingFleet(transport('osloscope'), {
      topic: TOPIC,
      candidates: listed({ 'host-a': 7 }),
      timeoutSeconds: 2,
      discovery,
      queueConsumers: async () => null,
    });
    expect(r.servers[0]).toMatchObject({ status: 'pong', consumers: 7 });
  });

  it('asks the queue itself: its consumers now, gone for a queue that is not there', async () => {
    await service('host-a');
    const client = transport('osloscope');
    expect(await passiveConsumers(client, `${TOPIC}.host-a`)).toBe(1);
    expect(await passiveConsumers(client, `${TOPIC}.nobody`)).toBe('gone');
  });
});

describe('withConsumers', () => {
  const row = (over: Partial<PingServerResult>): PingServerResult => ({
    server: 'h',
    sources: ['queue'],
    consumers: 1,
    status: 'timeout',
    answered: false,
    latencyMs: null,
    message: 'no reply within 5 s',
    ...over,
  });

  it('names a queue deleted while the call waited', () => {
    expect(withConsumers(row({}), 'compute.h', 'gone', 5)).toMatchObject({
      consumers: null,
      message: 'no reply within 5 s, and queue compute.h is gone now: the server left and its queue was deleted',
    });
  });

  it('takes the count for an answer and leaves its message alone', () => {
    expect(withConsumers(row({ status: 'pong', answered: true, latencyMs: 3, message: null }), 'compute.h', 2, 5)).toMatchObject({ consumers: 2, message: null });
    expect(withConsumers(row({ status: 'pong', answered: true, latencyMs: 3, message: null }), 'compute.h', 'gone', 5)).toMatchObject({ consumers: null, message: null });
  });

  it('changes nothing when the queue could not be asked', () => {
    const r = row({});
    expect(withConsumers(r, 'compute.h', null, 5)).toBe(r);
  });
});
