/**
 * The same broker scenarios run against the memory broker and against the
 * real RabbitMQ (amqplib directly, one connection + confirm channel per
 * "link", as the rabbit driver does), with the same expectations — so the
 * memory broker's semantics are pinned to the real broker's, not to what we
 * believe about it.
 *
 * Without a broker on 127.0.0.1:5672 the RabbitMQ half is skipped loudly,
 * or fails when CI is set.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import amqplib, { type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { MessageDeliveryFailure, MessageUndeliverable, MessagingError } from '../../errors.ts';
import { MemoryBroker } from './memory-broker.ts';
import type { MemoryLink } from './memory-link.ts';

const RABBIT_URL = 'amqp://guest:guest@127.0.0.1:5672';
const run = promisify(execFile);

interface Received {
  body: string;
  redelivered: boolean;
  headers: Record<string, unknown>;
}

/** A channel close as both sides report it: AMQP reply code and RabbitMQ's reply text. */
interface ChannelClose {
  code: number | undefined;
  text: string;
}

type PublishOutcome = 'confirmed' | 'returned' | 'nacked';

interface PublishProps {
  mandatory?: boolean;
  expiration?: string;
  contentType?: string;
  contentEncoding?: string;
  headers?: Record<string, unknown>;
  deliveryMode?: number;
  priority?: number;
}

interface QueueOpts {
  durable: boolean;
  autoDelete: boolean;
  exclusive?: boolean;
  arguments?: Record<string, unknown>;
}

/** One connection with one confirm channel. */
interface Chan {
  readonly isOpen: boolean;
  assertExchange(name: string, type: 'topic' | 'fanout', options: { durable: boolean; autoDelete: boolean }): Promise<void>;
  assertQueue(name: string, options: QueueOpts): Promise<void>;
  bindQueue(queue: string, exchange: string, key: string): Promise<void>;
  messageCount(queue: string): Promise<number>;
  publish(exchange: string, routingKey: string, body: string, props?: PublishProps): Promise<PublishOutcome>;
  consume(queue: string, onMessage: (m: Received) => void, options?: { ack: boolean }): Promise<void>;
  /** Resolves when the channel is closed by a channel error. */
  closedByError(): Promise<ChannelClose>;
  close(): Promise<void>;
}

interface Subject {
  readonly name: string;
  channel(): Promise<Chan>;
  setTracing(on: boolean): Promise<void>;
  /** Remember broker entities to delete afterwards. */
  created(kind: 'queue' | 'exchange', name: string): void;
  cleanup(): Promise<void>;
}

/** RabbitMQ's reply text out of an amqplib error message (`… with message "<text>"`). */
function replyText(message: string): string {
  return /with message "(.*)"$/s.exec(message)?.[1] ?? message;
}

function toClose(e: unknown): ChannelClose {
  const err = e as { code?: unknown; message?: unknown };
  return { code: typeof err.code === 'number' ? err.code : undefined, text: replyText(String(err.message)) };
}

function unique(prefix: string): string {
  return `osloscope-memtest-${prefix}-${randomBytes(4).toString('hex')}`;
}

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for the broker');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- the memory broker ----------------------------------------------------

function memorySubject(): Subject {
  const broker = new MemoryBroker();
  let n = 0;
  const chan = (link: MemoryLink): Chan => {
    const closedP = new Promise<ChannelClose>((resolve) => link.onClose((err) => err && resolve(toClose(err))));
    const wrap = async <T>(op: () => Promise<T>): Promise<T> => {
      try {
        return await op();
      } catch (e) {
        throw toClose(e);
      }
    };
    return {
      get isOpen() {
        return link.isOpen;
      },
      assertExchange: (name, type, o) => wrap(() => link.assertExchange(name, type, o)),
      assertQueue: async (name, o) => {
        await wrap(() => link.assertQueue(name, o));
      },
      bindQueue: (q, x, key) => wrap(() => link.bindQueue(q, x, key)),
      messageCount: async (q) => (await wrap(() => link.checkQueue(q))).messageCount,
      publish: async (x, rk, body, props = {}) => {
        try {
          await link.publish(x, rk, Buffer.from(body), props);
          return 'confirmed';
        } catch (e) {
          if (e instanceof MessageUndeliverable) return 'returned';
          if (e instanceof MessageDeliveryFailure && e.name === 'MessageDeliveryFailure') return 'nacked';
          throw e instanceof MessagingError ? toClose(e) : e;
        }
      },
      consume: async (q, onMessage, options = { ack: true }) => {
        await wrap(() =>
          link.consume(q, (d) => {
            onMessage({ body: d.body.toString(), redelivered: d.redelivered, headers: d.properties.headers ?? {} });
            if (options.ack) link.ack(d);
          }),
        );
      },
      closedByError: () => closedP,
      close: () => link.close(),
    };
  };
  return {
    name: 'memory broker',
    channel: async () => chan(broker.connect(`memtest:${process.pid}:${n++}`)),
    setTracing: async (on) => broker.setTracing(on),
    created: () => {},
    cleanup: async () => {
      broker.disconnectAll();
    },
  };
}

// ---- the real RabbitMQ ----------------------------------------------------

function rabbitSubject(): Subject {
  const connections: ChannelModel[] = [];
  const queues = new Set<string>();
  const exchanges = new Set<string>();

  const chan = async (): Promise<Chan> => {
    const conn = await amqplib.connect(RABBIT_URL, { noDelay: true });
    conn.on('error', () => {});
    connections.push(conn);
    const ch: ConfirmChannel = await conn.createConfirmChannel();
    let open = true;
    let closeError: ChannelClose | undefined;
    let returned = false;
    const closedP = new Promise<ChannelClose>((resolve) => {
      ch.on('error', (e: Error) => {
        closeError = toClose(e);
      });
      ch.on('close', () => {
        open = false;
        if (closeError) resolve(closeError);
      });
    });
    ch.on('return', () => {
      returned = true;
    });
    const wrap = async <T>(op: () => Promise<T>): Promise<T> => {
      try {
        return await op();
      } catch (e) {
        throw toClose(e);
      }
    };
    return {
      get isOpen() {
        return open;
      },
      assertExchange: async (name, type, o) => {
        await wrap(() => ch.assertExchange(name, type, o));
        exchanges.add(name);
      },
      assertQueue: async (name, o) => {
        await wrap(() => ch.assertQueue(name, o));
        queues.add(name);
      },
      bindQueue: async (q, x, key) => {
        await wrap(() => ch.bindQueue(q, x, key));
      },
      messageCount: async (q) => (await wrap(() => ch.checkQueue(q))).messageCount,
      // Publishes are awaited one at a time, so a basic.return seen before
      // the confirm belongs to this publish.
      publish: (x, rk, body, props = {}) =>
        new Promise((resolve) => {
          returned = false;
          ch.publish(x, rk, Buffer.from(body), props, (err: unknown) => {
            resolve(err ? 'nacked' : returned ? 'returned' : 'confirmed');
          });
        }),
      consume: async (q, onMessage, options = { ack: true }) => {
        await wrap(() =>
          ch.consume(q, (m: ConsumeMessage | null) => {
            if (!m) return;
            onMessage({
              body: m.content.toString(),
              redelivered: m.fields.redelivered,
              headers: (m.properties.headers ?? {}) as Record<string, unknown>,
            });
            if (options.ack) ch.ack(m);
          }),
        );
      },
      closedByError: () => closedP,
      close: () => conn.close(),
    };
  };

  return {
    name: 'RabbitMQ',
    channel: chan,
    setTracing: async (on) => {
      await run('rabbitmqctl', [on ? 'trace_on' : 'trace_off', '-p', '/']);
    },
    created: (kind, name) => (kind === 'queue' ? queues : exchanges).add(name),
    cleanup: async () => {
      const conn = await amqplib.connect(RABBIT_URL, { noDelay: true });
      conn.on('error', () => {});
      for (const q of queues) {
        const ch = await conn.createChannel();
        ch.on('error', () => {});
        await ch.deleteQueue(q).catch(() => {});
        await ch.close().catch(() => {});
      }
      for (const x of exchanges) {
        const ch = await conn.createChannel();
        ch.on('error', () => {});
        await ch.deleteExchange(x).catch(() => {});
        await ch.close().catch(() => {});
      }
      await conn.close();
      for (const c of connections) await c.close().catch(() => {});
    },
  };
}

async function rabbitAvailable(): Promise<boolean> {
  try {
    const conn = await amqplib.connect(RABBIT_URL, { noDelay: true, timeout: 2000 });
    await conn.close();
    return true;
  } catch (e) {
    if (process.env.CI) throw new Error(`RabbitMQ is required in CI at ${RABBIT_URL}: ${String(e)}`);
    console.warn(`\n*** RabbitMQ not reachable at ${RABBIT_URL}: memory-vs-rabbitmq runs on the memory broker only ***\n`);
    return false;
  }
}

const subjects: (() => Subject)[] = [memorySubject];
if (await rabbitAvailable()) subjects.push(rabbitSubject);

const ADDRESS = /^127\.0\.0\.1:\d+ -> 127\.0\.0\.1:5672$/;
const transient = { durable: false, autoDelete: false } as const;

describe.each(subjects.map((make) => ({ make, label: make().name })))('broker semantics on $label', ({ make }) => {
  const subject = make();
  afterAll(() => subject.cleanup());

  it('returns a mandatory publish to an unbound key of a topic exchange', async () => {
    const ch = await subject.channel();
    const x = unique('topic');
    const q = unique('q');
    await ch.assertExchange(x, 'topic', transient);
    await ch.assertQueue(q, { ...transient, exclusive: true });
    await ch.bindQueue(q, x, 'compute');
    expect(await ch.publish(x, 'scheduler', 'nobody', { mandatory: true })).toBe('returned');
    expect(await ch.publish(x, 'scheduler', 'dropped')).toBe('confirmed');
    expect(await ch.publish(x, 'compute', 'taken', { mandatory: true })).toBe('confirmed');
    expect(await ch.messageCount(q)).toBe(1);
    expect(ch.isOpen).toBe(true);
  });

  it('matches topic wildcards the same way (# zero words, the empty key)', async () => {
    const ch = await subject.channel();
    const x = unique('wild');
    await ch.assertExchange(x, 'topic', transient);
    const patterns = ['#', 'compute.#', '*', '#.info', 'a.*.b'];
    const names = patterns.map(() => unique('wq'));
    for (const [i, p] of patterns.entries()) {
      await ch.assertQueue(names[i], { ...transient, exclusive: true });
      await ch.bindQueue(names[i], x, p);
    }
    for (const rk of ['', 'compute', 'compute.host1', 'a.info', 'info', 'x', 'a..b', 'a.b'])
      await ch.publish(x, rk, rk);
    const counts: number[] = [];
    for (const n of names) counts.push(await ch.messageCount(n));
    expect(counts).toEqual([8, 2, 3, 2, 1]);
  });

  it('never delivers an expired message', async () => {
    const ch = await subject.channel();
    const q = unique('ttl');
    await ch.assertQueue(q, { ...transient, exclusive: true });
    expect(await ch.publish('', q, 'expires', { expiration: '30' })).toBe('confirmed');
    expect(await ch.publish('', q, 'stays')).toBe('confirmed');
    await sleep(120);
    expect(await ch.messageCount(q)).toBe(1);
    const got: string[] = [];
    await ch.consume(q, (m) => got.push(m.body));
    await waitFor(() => got.length >= 1);
    await sleep(50);
    expect(got).toEqual(['stays']);
  });

  it('fans out one copy to each bound queue', async () => {
    const ch = await subject.channel();
    const x = unique('fanout');
    const [q1, q2] = [unique('f1'), unique('f2')];
    await ch.assertExchange(x, 'fanout', { durable: false, autoDelete: true });
    for (const q of [q1, q2]) {
      await ch.assertQueue(q, { ...transient, exclusive: true });
      await ch.bindQueue(q, x, q);
    }
    expect(await ch.publish(x, 'any-key', 'cast')).toBe('confirmed');
    const got: Record<string, string[]> = { [q1]: [], [q2]: [] };
    await ch.consume(q1, (m) => got[q1].push(m.body));
    await ch.consume(q2, (m) => got[q2].push(m.body));
    await waitFor(() => got[q1].length + got[q2].length >= 2);
    await sleep(50);
    expect(got).toEqual({ [q1]: ['cast'], [q2]: ['cast'] });
  });

  it('answers an inequivalent redeclare with 406 and closes the channel', async () => {
    const a = await subject.channel();
    const x = unique('x');
    const q = unique('q');
    await a.assertExchange(x, 'topic', transient);
    await a.assertQueue(q, { ...transient, arguments: { 'x-expires': 60000 } });
    subject.created('queue', q);

    const b = await subject.channel();
    const closedB = b.closedByError();
    const err = await b.assertExchange(x, 'topic', { durable: true, autoDelete: false }).catch((e: unknown) => e);
    const expected = {
      code: 406,
      text: `PRECONDITION_FAILED - inequivalent arg 'durable' for exchange '${x}' in vhost '/': received 'true' but current is 'false'`,
    };
    expect(err).toEqual(expected);
    expect(await closedB).toEqual(expected);
    expect(b.isOpen).toBe(false);

    const c = await subject.channel();
    const closedC = c.closedByError();
    await expect(c.assertQueue(q, { ...transient, arguments: { 'x-expires': 5000 } })).rejects.toEqual({
      code: 406,
      text: `PRECONDITION_FAILED - inequivalent arg 'x-expires' for queue '${q}' in vhost '/': received '5000' but current is '60000'`,
    });
    await closedC;
    // the declaring channel is unaffected
    expect(a.isOpen).toBe(true);
    await a.assertQueue(q, { ...transient, arguments: { 'x-expires': 60000, 'x-ha-policy': 'all' } });
  });

  it('caps queues with x-max-length: drop-head drops, reject-publish nacks', async () => {
    const ch = await subject.channel();
    const dh = unique('dh');
    const rp = unique('rp');
    await ch.assertQueue(dh, { ...transient, exclusive: true, arguments: { 'x-max-length': 2 } });
    await ch.assertQueue(rp, { ...transient, exclusive: true, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    for (const m of ['1', '2', '3', '4']) await ch.publish('', dh, m);
    expect([await ch.publish('', rp, 'a'), await ch.publish('', rp, 'b')]).toEqual(['confirmed', 'nacked']);
    const got: string[] = [];
    await ch.consume(dh, (m) => got.push(m.body));
    await waitFor(() => got.length >= 2);
    await sleep(50);
    expect(got).toEqual(['3', '4']);
  });

  it('requeues the unacked messages of a closed connection as redelivered', async () => {
    const a = await subject.channel();
    const q = unique('rq');
    await a.assertQueue(q, transient);
    subject.created('queue', q);
    for (const m of ['1', '2']) await a.publish('', q, m);
    const firstRound: Received[] = [];
    await a.consume(q, (m) => firstRound.push(m), { ack: false });
    await waitFor(() => firstRound.length === 2);
    await a.close();
    const b = await subject.channel();
    const second: Received[] = [];
    await b.consume(q, (m) => second.push(m));
    await waitFor(() => second.length === 2);
    expect(firstRound.map((m) => [m.body, m.redelivered])).toEqual([
      ['1', false],
      ['2', false],
    ]);
    expect(second.map((m) => [m.body, m.redelivered])).toEqual([
      ['1', true],
      ['2', true],
    ]);
  });

  it('traces publishes and deliveries on the firehose with RabbitMQ 3.10 headers', async (ctx) => {
    const pub = await subject.channel();
    const tap = await subject.channel();
    const x = unique('fh');
    const q = unique('fhq');
    const tapQ = unique('tap');
    await pub.assertExchange(x, 'topic', transient);
    await pub.assertQueue(q, { ...transient, exclusive: true });
    await pub.bindQueue(q, x, 'compute.#');
    await tap.assertQueue(tapQ, { ...transient, exclusive: true });
    // only our own traffic: the firehose covers the whole vhost
    await tap.bindQueue(tapQ, 'amq.rabbitmq.trace', `publish.${x}`);
    await tap.bindQueue(tapQ, 'amq.rabbitmq.trace', `deliver.${q}`);
    const traces: Received[] = [];
    await tap.consume(tapQ, (m) => traces.push(m));

    try {
      await subject.setTracing(true);
    } catch (e) {
      console.warn(`*** cannot switch the firehose on (${String(e)}); skipping ***`);
      ctx.skip();
      return;
    }
    try {
      const props = {
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        headers: {},
        deliveryMode: 2,
        priority: 0,
        expiration: '60000',
      };
      expect(await pub.publish(x, 'compute.host1', '{"oslo.version": "2.0"}', props)).toBe('confirmed');
      expect(await pub.publish(x, 'scheduler', 'unroutable', { mandatory: true })).toBe('returned');
      const got: Received[] = [];
      await pub.consume(q, (m) => got.push(m));
      await waitFor(() => traces.length >= 3);
    } finally {
      await subject.setTracing(false);
    }

    // only deliver traces carry `redelivered`
    const byBody = (body: string, kind: 'publish' | 'deliver'): Record<string, unknown> => {
      const t = traces.find((m) => m.body === body && ('redelivered' in m.headers ? 'deliver' : 'publish') === kind);
      if (!t) throw new Error(`no ${kind} trace for ${body}`);
      return t.headers;
    };
    const published = byBody('{"oslo.version": "2.0"}', 'publish');
    expect(Object.keys(published)).toEqual([
      'exchange_name',
      'routing_keys',
      'properties',
      'node',
      'vhost',
      'connection',
      'channel',
      'user',
      'routed_queues',
    ]);
    expect(published).toEqual({
      exchange_name: x,
      routing_keys: ['compute.host1'],
      properties: {
        expiration: '60000',
        priority: 0,
        delivery_mode: 2,
        headers: {},
        content_encoding: 'utf-8',
        content_type: 'application/json',
      },
      node: expect.stringMatching(/^[^@]+@[^@]+$/),
      vhost: '/',
      connection: expect.stringMatching(ADDRESS),
      channel: 1,
      user: 'guest',
      routed_queues: [q],
    });
    expect(Object.keys(published.properties as object)).toEqual([
      'expiration',
      'priority',
      'delivery_mode',
      'headers',
      'content_encoding',
      'content_type',
    ]);

    const unroutable = byBody('unroutable', 'publish');
    expect(unroutable).toMatchObject({ routing_keys: ['scheduler'], routed_queues: [], properties: { headers: {} } });

    const delivered = byBody('{"oslo.version": "2.0"}', 'deliver');
    expect(Object.keys(delivered)).toEqual([
      'exchange_name',
      'routing_keys',
      'properties',
      'node',
      'redelivered',
      'vhost',
      'connection',
      'channel',
      'user',
    ]);
    expect(delivered).toMatchObject({ exchange_name: x, routing_keys: ['compute.host1'], redelivered: 0, channel: 1, user: 'guest' });
    expect(delivered.connection).toMatch(ADDRESS);
    expect(delivered.properties).toEqual(published.properties);
  });
});
