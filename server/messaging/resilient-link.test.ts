import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConnectOptions, Delivery, Driver, Link } from './driver.ts';
import { MemoryBroker } from './drivers/memory/index.ts';
import { BrokerRefusal, ConnectionLost, MessageDeliveryFailure, MessagingError } from './errors.ts';
import {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  isHandshakeRefusal,
  isRecoverable,
  QUICK_RECOVERY,
  recoveryDelay,
  ResilientLink,
  type LinkState,
  type RetryPolicy,
} from './resilient-link.ts';

const RECORDED = new Set([
  'assertExchange',
  'assertQueue',
  'checkExchange',
  'checkQueue',
  'bindQueue',
  'unbindQueue',
  'prefetch',
  'consume',
  'cancel',
  'publish',
  'deleteQueue',
]);

/**
 * Links to a MemoryBroker that record every topology operation as text,
 * with scripted connect failures and a hook that runs before each operation.
 */
class ScriptedDriver implements Driver {
  readonly name = 'memory' as const;
  /** `connect#<n>` and `<op> <args>` lines, in order */
  readonly log: string[] = [];
  /** Date.now() of each connect attempt */
  readonly connectTimes: number[] = [];
  /** errors the next connect attempts throw, in order */
  failures: Error[] = [];
  links: Link[] = [];
  beforeOp: ((op: string, link: Link) => void) | undefined;

  constructor(readonly broker: MemoryBroker) {}

  async connect(options: ConnectOptions): Promise<Link> {
    this.connectTimes.push(Date.now());
    const failure = this.failures.shift();
    if (failure) throw failure;
    const link = this.broker.connect(options.connectionName);
    this.links.push(link);
    this.log.push(`connect#${this.links.length} attempt=${options.attempt ?? 0}`);
    return new Proxy(link, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        // publishTo is publish without a promise: recorded as a publish
        const op = prop === 'publishTo' ? 'publish' : String(prop);
        return (...args: unknown[]) => {
          if (RECORDED.has(op)) {
            this.beforeOp?.(op, target);
            this.log.push(`${op} ${describeArgs(op, args)}`);
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }

  describe(): string {
    return 'memory:///';
  }

  /** Log lines since the most recent connect. */
  sinceLastConnect(): string[] {
    const i = this.log.findLastIndex((l) => l.startsWith('connect#'));
    return this.log.slice(i + 1);
  }
}

function describeArgs(op: string, args: unknown[]): string {
  switch (op) {
    case 'consume': {
      const o = (args[2] ?? {}) as { consumerTag?: string };
      return `${String(args[0])} tag=${o.consumerTag ?? '(broker)'}`;
    }
    case 'publish':
      return `${String(args[0])} ${String(args[1])}`;
    case 'assertExchange':
    case 'assertQueue':
      return `${String(args[0])} ${JSON.stringify(args.slice(1))}`;
    default:
      return args
        .filter((a) => a !== undefined)
        .map((a) => (typeof a === 'string' ? a : JSON.stringify(a)))
        .join(' ');
  }
}

/** With Math.random pinned to 0.5 the jitter factor is exactly 1. */
const POLICY: RetryPolicy = { intervalStartMs: 100, intervalStepMs: 200, intervalMaxMs: 500, reconnectDelayMs: 50 };

const recoverable = (msg = 'ECONNREFUSED') => new MessagingError(msg);

describe('backoffDelay', () => {
  it('grows by interval_step per attempt up to interval_max, then adds kombu_reconnect_delay', () => {
    const mid = () => 0.5;
    expect([0, 1, 2, 3, 10].map((n) => backoffDelay(POLICY, n, mid))).toEqual([150, 350, 550, 550, 550]);
    expect([0, 1, 2, 14, 15, 50].map((n) => backoffDelay(DEFAULT_RETRY_POLICY, n, mid))).toEqual([2000, 4000, 6000, 30_000, 31_000, 31_000]);
  });

  it('jitters only the interval, within ±20%', () => {
    for (const attempt of [0, 1, 5, 40]) {
      const base = Math.min(30_000, 1000 + 2000 * attempt);
      expect(backoffDelay(DEFAULT_RETRY_POLICY, attempt, () => 0)).toBe(Math.round(base * 0.8) + 1000);
      expect(backoffDelay(DEFAULT_RETRY_POLICY, attempt, () => 0.999_999)).toBe(Math.round(base * 1.199_999_6) + 1000);
    }
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(DEFAULT_RETRY_POLICY, 2);
      expect(d).toBeGreaterThanOrEqual(4000 + 1000);
      expect(d).toBeLessThanOrEqual(6000 + 1000);
      seen.add(d);
    }
    // Math.random is used by default, so a fleet does not reconnect in lockstep.
    expect(seen.size).toBeGreaterThan(10);
  });
});

describe('recoveryDelay (background recovery of listen links)', () => {
  it('starts at 50 ms and doubles to 500 ms, jittered to 50-100 %, for the first minute of an outage', () => {
    const top = () => 0.999_999;
    expect([0, 1, 2, 3, 4, 5, 6, 40].map((n) => recoveryDelay(DEFAULT_RETRY_POLICY, QUICK_RECOVERY, n, 10_000, 0, top))).toEqual([
      50, 100, 200, 400, 500, 500, 500, 500,
    ]);
    expect([0, 1, 5, 40].map((n) => recoveryDelay(DEFAULT_RETRY_POLICY, QUICK_RECOVERY, n, 10_000, 0, () => 0))).toEqual([25, 50, 250, 250]);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const d = recoveryDelay(DEFAULT_RETRY_POLICY, QUICK_RECOVERY, 10, 59_999, 0);
      expect(d).toBeGreaterThanOrEqual(250);
      expect(d).toBeLessThanOrEqual(500);
      seen.add(d);
    }
    expect(seen.size).toBeGreaterThan(10);
  });

  it("then falls back to kombu's capped backoff, counted from the end of the quick window", () => {
    const mid = () => 0.5;
    // 70 quick attempts made; attempt 70 is the first slow one
    expect([70, 71, 72, 200].map((n) => recoveryDelay(DEFAULT_RETRY_POLICY, QUICK_RECOVERY, n, 60_000, 70, mid))).toEqual([2000, 4000, 6000, 31_000]);
  });
});

describe('isRecoverable', () => {
  it.each([
    [new Error('socket hang up'), true],
    [new MessagingError('no code'), true],
    [new ConnectionLost('CONNECTION_FORCED', { code: 320 }), true],
    [new MessagingError('INTERNAL_ERROR', { code: 541 }), true],
    [new MessagingError('ACCESS_REFUSED', { code: 403 }), false],
    [new MessagingError('NOT_FOUND', { code: 404 }), false],
    [new MessagingError('RESOURCE_LOCKED', { code: 405 }), false],
    [new MessagingError('PRECONDITION_FAILED', { code: 406 }), false],
    [new MessagingError('NOT_ALLOWED', { code: 530 }), false],
    [null, true],
    ['text', true],
  ])('%s → %s', (err, expected) => {
    expect(isRecoverable(err)).toBe(expected);
  });
});

describe('ResilientLink', () => {
  let broker: MemoryBroker;
  let driver: ScriptedDriver;
  let states: string[];
  let links: ResilientLink[];

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    broker = new MemoryBroker();
    driver = new ScriptedDriver(broker);
    states = [];
    links = [];
  });

  afterEach(async () => {
    for (const l of links) await l.close();
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  function make(purpose: 'send' | 'listen'): ResilientLink {
    const l = new ResilientLink(driver, {
      connectionName: `test:${purpose}`,
      purpose,
      policy: POLICY,
      onState: (s: LinkState, d) => states.push(d.attempt === undefined ? s : `${s}#${d.attempt}`),
    });
    links.push(l);
    return l;
  }

  /** Run timers due within `ms`, plus the deliveries (setImmediate) they cause. */
  async function advance(ms: number): Promise<void> {
    await vi.advanceTimersByTimeAsync(ms);
    for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
  }

  /** Declare what an RPC server's listen connection declares, and consume with oslo's tags. */
  async function serverTopology(l: ResilientLink, got: Delivery[]): Promise<void> {
    await l.assertExchange('openstack', 'topic', { durable: false, autoDelete: false });
    await l.assertQueue('compute', { durable: false, autoDelete: false });
    await l.bindQueue('compute', 'openstack', 'compute');
    await l.assertQueue('compute.host1', { durable: false, autoDelete: false });
    await l.bindQueue('compute.host1', 'openstack', 'compute.host1');
    await l.prefetch(10);
    await l.consume('compute', (d) => got.push(d), { consumerTag: '1' });
    await l.consume('compute.host1', (d) => got.push(d), { consumerTag: '2' });
  }

  it('connects once and reuses the live link', async () => {
    const l = make('send');
    const a = await l.connect();
    expect(await l.connect()).toBe(a);
    expect(l.isConnected).toBe(true);
    expect(l.endpoint).toBe('memory:///');
    expect(driver.connectTimes).toHaveLength(1);
    expect(states).toEqual(['connecting#0', 'connected']);
  });

  it('says while reconnecting why the last attempt failed, which attempt comes next and when', async () => {
    driver.failures = [recoverable('ECONNREFUSED 127.0.0.1:5672'), recoverable('ECONNREFUSED 127.0.0.1:5672')];
    const l = make('send');
    const start = Date.now();
    const connected = l.connect(null);
    await advance(0);
    expect(l.retry).toEqual({ error: 'ECONNREFUSED 127.0.0.1:5672', attempt: 1, nextAt: start + 150 });
    await advance(150);
    expect(l.retry).toEqual({ error: 'ECONNREFUSED 127.0.0.1:5672', attempt: 2, nextAt: start + 500 });
    await advance(400);
    await connected;
    expect(l.retry).toBeNull();
  });

  it('retries a recoverable failure after the backoff delay of each attempt', async () => {
    driver.failures = [recoverable(), recoverable(), recoverable()];
    const l = make('send');
    const start = Date.now();
    const connected = l.connect(null);
    await advance(149);
    expect(driver.connectTimes.map((t) => t - start)).toEqual([0]);
    await advance(1);
    expect(driver.connectTimes.map((t) => t - start)).toEqual([0, 150]);
    await advance(1000);
    await connected;
    // 150 ms, then 350 ms, then 550 ms (capped interval 500 + reconnect delay 50)
    expect(driver.connectTimes.map((t) => t - start)).toEqual([0, 150, 500, 1050]);
    expect(driver.log[0]).toBe('connect#1 attempt=3');
    expect(states).toEqual(['connecting#0', 'connecting#1', 'connecting#2', 'connecting#3', 'connected']);
  });

  it('gives up after `retry` retries with MessageDeliveryFailure (retry=N means N+1 attempts)', async () => {
    driver.failures = Array.from({ length: 10 }, () => recoverable('ECONNREFUSED 127.0.0.1:5672'));
    const l = make('send');
    const outcome = l.connect(2).catch((e: unknown) => e);
    await advance(10_000);
    const err = await outcome;
    expect(err).toBeInstanceOf(MessageDeliveryFailure);
    expect((err as Error).message).toBe('Unable to connect to AMQP server after 3 tries: ECONNREFUSED 127.0.0.1:5672');
    expect((err as Error).cause).toBeInstanceOf(MessagingError);
    expect(driver.connectTimes).toHaveLength(3);
  });

  it('makes exactly one attempt, without sleeping, for retry=0', async () => {
    driver.failures = [recoverable()];
    const l = make('send');
    await expect(l.connect(0)).rejects.toThrow(MessageDeliveryFailure);
    expect(driver.connectTimes).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('treats a negative retry as forever, like ensure(retry=-1)', async () => {
    driver.failures = [recoverable(), recoverable(), recoverable()];
    const l = make('send');
    const outcome = l.connect(-1).then(
      () => 'connected',
      (e: unknown) => e,
    );
    await advance(2000);
    expect(await outcome).toBe('connected');
    expect(driver.connectTimes).toHaveLength(4);
    // and for an operation's own bound
    broker.disconnectAll();
    driver.failures = [recoverable(), recoverable()];
    const published = l.publish('', 'q', Buffer.from('x'), {}, -1).then(
      () => 'published',
      (e: unknown) => e,
    );
    await advance(2000);
    expect(await published).toBe('published');
    expect(driver.connectTimes).toHaveLength(7);
  });

  it('keeps retrying broker restarts (320) and internal errors (541)', async () => {
    driver.failures = [new ConnectionLost('CONNECTION_FORCED', { code: 320 }), new MessagingError('INTERNAL_ERROR', { code: 541 })];
    const l = make('send');
    const connected = l.connect(null);
    await advance(1000);
    await expect(connected).resolves.toBeDefined();
    expect(driver.connectTimes).toHaveLength(3);
  });

  it('does not retry a non-recoverable refusal, even with retry forever', async () => {
    const refused = new MessagingError('ACCESS_REFUSED - Login was refused', { code: 403 });
    driver.failures = [refused];
    const l = make('send');
    await expect(l.connect(null)).rejects.toBe(refused);
    expect(driver.connectTimes).toHaveLength(1);
  });

  it('stops retrying when closed during a backoff sleep', async () => {
    driver.failures = Array.from({ length: 5 }, () => recoverable());
    const l = make('send');
    const outcome = l.connect(null).catch((e: unknown) => e);
    await advance(10);
    await l.close();
    await advance(5000);
    expect(await outcome).toMatchObject({ message: 'Connection test:send is closed' });
    expect(driver.connectTimes).toHaveLength(1);
    await expect(l.connect()).rejects.toThrow('Connection test:send is closed');
    expect(states.at(-1)).toBe('closed');
  });

  it('replays the topology on a listen link after it dies: exchanges, queues, bindings, qos, then consumers with the same tags', async () => {
    const got: Delivery[] = [];
    const l = make('listen');
    await serverTopology(l, got);
    const firstRun = driver.sinceLastConnect();
    expect(firstRun).toEqual([
      'assertExchange openstack ["topic",{"durable":false,"autoDelete":false}]',
      'assertQueue compute [{"durable":false,"autoDelete":false}]',
      'bindQueue compute openstack compute',
      'assertQueue compute.host1 [{"durable":false,"autoDelete":false}]',
      'bindQueue compute.host1 openstack compute.host1',
      'prefetch 10',
      'consume compute tag=1',
      'consume compute.host1 tag=2',
    ]);

    expect(broker.disconnectAll()).toBe(1);
    await advance(0);
    expect(l.isConnected).toBe(true);
    expect(l.reconnects).toBe(1);
    expect(driver.sinceLastConnect()).toEqual([
      'assertExchange openstack ["topic",{"durable":false,"autoDelete":false}]',
      'assertQueue compute [{"durable":false,"autoDelete":false}]',
      'assertQueue compute.host1 [{"durable":false,"autoDelete":false}]',
      'bindQueue compute openstack compute',
      'bindQueue compute.host1 openstack compute.host1',
      'prefetch 10',
      'consume compute tag=1',
      'consume compute.host1 tag=2',
    ]);
    expect(broker.listConsumers().map((c) => [c.queue, c.consumerTag, c.prefetchCount])).toEqual([
      ['compute', '1', 10],
      ['compute.host1', '2', 10],
    ]);
    expect(states).toEqual(['connecting#0', 'connected', 'disconnected', 'connecting#0', 'connected']);

    // the re-issued consumers deliver to the original handlers, and acks go to the new link
    const pub = broker.connect('pub');
    await pub.publish('openstack', 'compute.host1', Buffer.from('after'), {});
    await advance(0);
    expect(got.map((d) => d.body.toString())).toEqual(['after']);
    l.ack(got[0]);
    expect(broker.listQueues().find((q) => q.name === 'compute.host1')?.messages).toBe(0);
  });

  it('re-issues a broker-named consumer tag as it was', async () => {
    const l = make('listen');
    await l.assertQueue('q', { durable: false, autoDelete: false });
    const tag = await l.consume('q', () => {});
    expect(tag).toMatch(/^amq\.ctag-/);
    broker.disconnectAll();
    await advance(0);
    expect(broker.listConsumers().map((c) => c.consumerTag)).toEqual([tag]);
  });

  it('ignores acks of deliveries from the dead link; the broker redelivers them on the new one', async () => {
    const got: Delivery[] = [];
    const l = make('listen');
    await serverTopology(l, got);
    const pub = broker.connect('pub');
    await pub.publish('openstack', 'compute', Buffer.from('m1'), {});
    await advance(0);
    expect(got).toHaveLength(1);
    broker.disconnectAll((name) => name === 'test:listen');
    await advance(0);
    expect(got).toHaveLength(2);
    expect(got[1].redelivered).toBe(true);
    l.ack(got[0]); // stale: must not reach the new link (an unknown delivery tag would close it with 406)
    l.reject(got[0], false);
    expect(l.isConnected).toBe(true);
    l.ack(got[1]);
    expect(broker.listQueues().find((q) => q.name === 'compute')?.messages).toBe(0);
  });

  it('leaves a send link down until its next use, then reconnects and replays its exchanges first', async () => {
    const l = make('send');
    await l.assertExchange('openstack', 'topic', { durable: false, autoDelete: false });
    broker.disconnectAll();
    await advance(5000);
    expect(driver.connectTimes).toHaveLength(1);
    expect(l.isConnected).toBe(false);
    expect(l.currentState).toBe('disconnected');
    await l.publish('openstack', 'compute', Buffer.from('x'), {});
    expect(driver.connectTimes).toHaveLength(2);
    expect(driver.sinceLastConnect()).toEqual([
      'assertExchange openstack ["topic",{"durable":false,"autoDelete":false}]',
      'publish openstack compute',
    ]);
  });

  it('re-runs an operation whose link died under it, on a new link', async () => {
    const l = make('send');
    await l.connect();
    let killed = false;
    driver.beforeOp = (op) => {
      if (op === 'publish' && !killed) {
        killed = true;
        broker.disconnectAll();
      }
    };
    await l.publish('', 'nowhere', Buffer.from('x'), {});
    expect(driver.log.filter((x) => x.startsWith('publish') || x.startsWith('connect'))).toEqual([
      'connect#1 attempt=0',
      'publish  nowhere',
      'connect#2 attempt=0',
      'publish  nowhere',
    ]);
  });

  it('bounds those re-runs by retry: retry=0 surfaces ConnectionLost at once', async () => {
    const l = make('send');
    await l.connect();
    driver.beforeOp = (op) => {
      if (op === 'publish') broker.disconnectAll();
    };
    await expect(l.publish('', 'nowhere', Buffer.from('x'), {}, 0)).rejects.toThrow(ConnectionLost);
    expect(driver.connectTimes).toHaveLength(1);
  });

  it('bounds reconnecting for an operation by retry while the broker is down', async () => {
    const l = make('send');
    await l.connect();
    broker.stop();
    const outcome = l.publish('', 'q', Buffer.from('x'), {}, 1).catch((e: unknown) => e);
    await advance(10_000);
    expect(await outcome).toBeInstanceOf(MessageDeliveryFailure);
    expect(driver.connectTimes).toHaveLength(3); // the first connect, then 1 + retry attempts
  });

  it('surfaces a channel error without reconnecting in a loop', async () => {
    const l = make('send');
    await l.connect();
    // 404 NOT_FOUND on publish to a missing exchange closes the channel (the link dies)
    await expect(l.publish('missing', 'rk', Buffer.from('x'), {})).rejects.toMatchObject({ code: 404 });
    expect(driver.connectTimes).toHaveLength(1);
    // the next use gets a fresh link
    await l.publish('', 'rk', Buffer.from('x'), {});
    expect(driver.connectTimes).toHaveLength(2);
  });

  it('forgets deleted queues, unbound bindings and cancelled consumers before replaying', async () => {
    const l = make('listen');
    const got: Delivery[] = [];
    await serverTopology(l, got);
    await l.cancel('2');
    await l.unbindQueue('compute', 'openstack', 'compute');
    await l.deleteQueue('compute.host1');
    expect(l.hasQueue('compute.host1')).toBe(false);
    expect(l.hasQueue('compute')).toBe(true);
    expect(l.hasExchange('openstack')).toBe(true);
    broker.disconnectAll();
    await advance(0);
    expect(driver.sinceLastConnect()).toEqual([
      'assertExchange openstack ["topic",{"durable":false,"autoDelete":false}]',
      'assertQueue compute [{"durable":false,"autoDelete":false}]',
      'prefetch 10',
      'consume compute tag=1',
    ]);
  });

  it('gives up recovering a listen link when the broker refuses the replayed topology', async () => {
    const l = make('listen');
    await l.assertQueue('q', { durable: false, autoDelete: false });
    await l.consume('q', () => {}, { consumerTag: '1' });
    broker.disconnectAll();
    // someone re-creates the queue with other flags before we come back: 406 on replay
    const other = broker.connect('other');
    await other.deleteQueue('q');
    await other.assertQueue('q', { durable: true, autoDelete: false });
    const recovered = l.waitForRecovery();
    await advance(0);
    expect(await recovered).toBe(false);
    expect(l.isConnected).toBe(false);
    expect(driver.connectTimes).toHaveLength(2);
    expect(states.at(-1)).toBe('disconnected');
    await advance(60_000);
    expect(driver.connectTimes).toHaveLength(2);
  });

  it('reconnects a listen link quickly once the broker is back (no kombu backoff in the first minute)', async () => {
    const l = make('listen');
    await l.assertQueue('q', { durable: false, autoDelete: false });
    await l.consume('q', () => {}, { consumerTag: '1' });
    const start = Date.now();
    broker.stop();
    await advance(10_000);
    // 0, then 38, 75, 150, 300, 375, 375 … ms apart (Math.random pinned at 0.5: factor 0.75)
    const gaps = driver.connectTimes.slice(1).map((t, i, a) => t - (i === 0 ? start : a[i - 1]));
    expect(gaps.slice(0, 7)).toEqual([0, 38, 75, 150, 300, 375, 375]);
    expect(Math.max(...gaps)).toBe(375);
    const before = driver.connectTimes.length;
    broker.start();
    await advance(375);
    expect(l.isConnected).toBe(true);
    expect(driver.connectTimes.length).toBe(before + 1);
    expect(broker.listConsumers().map((c) => c.consumerTag)).toEqual(['1']);
  });

  it("keeps a send link on kombu's backoff (oslo's ensure semantics)", async () => {
    const l = make('send');
    await l.connect();
    broker.stop();
    const outcome = l.publish('', 'q', Buffer.from('x'), {}, 2).catch((e: unknown) => e);
    await advance(5000);
    expect(await outcome).toBeInstanceOf(MessageDeliveryFailure);
    const t = driver.connectTimes;
    expect(t.slice(2).map((x, i) => x - t[i + 1])).toEqual([150, 350]);
  });

  it('skips a binding whose exchange vanished while the link was down, counts it, and replays the rest', async () => {
    const got: Delivery[] = [];
    const l = make('listen');
    await serverTopology(l, got);
    // a peer's auto-delete fanout exchange the link binds to but did not declare
    const peer = broker.connect('peer');
    await peer.assertExchange('compute_fanout', 'fanout', { durable: false, autoDelete: true });
    await l.bindQueue('compute', 'compute_fanout', '#');
    broker.disconnectAll((n) => n === 'test:listen');
    // gone while we are away (the peer stopped, a broker restart)
    (broker as unknown as { exchanges: Map<string, unknown> }).exchanges.delete('compute_fanout');
    await advance(0);
    expect(l.isConnected).toBe(true);
    expect(l.currentState).toBe('connected');
    expect(driver.sinceLastConnect()).toEqual([
      'assertExchange openstack ["topic",{"durable":false,"autoDelete":false}]',
      'assertQueue compute [{"durable":false,"autoDelete":false}]',
      'assertQueue compute.host1 [{"durable":false,"autoDelete":false}]',
      'checkExchange compute_fanout',
      'bindQueue compute openstack compute',
      'bindQueue compute.host1 openstack compute.host1',
      'prefetch 10',
      'consume compute tag=1',
      'consume compute.host1 tag=2',
    ]);
    expect(l.skipped).toBe(1);
    expect(l.lastSkipped).toEqual([
      { kind: 'binding', missing: 'compute_fanout', missingKind: 'exchange', queue: 'compute', exchange: 'compute_fanout', routingKey: '#' },
    ]);
    // the next recovery no longer tries it; the owner re-binds when it is back
    broker.disconnectAll((n) => n === 'test:listen');
    await advance(0);
    expect(l.isConnected).toBe(true);
    expect(driver.sinceLastConnect().filter((x) => x.includes('compute_fanout'))).toEqual([]);
    expect(l.lastSkipped).toEqual([]);
    expect(l.skipped).toBe(1);
    await peer.publish('openstack', 'compute', Buffer.from('still here'), {});
    await advance(0);
    expect(got.map((d) => d.body.toString())).toEqual(['still here']);
  });

  it('skips a consumer whose queue (declared by someone else) vanished, and keeps the others', async () => {
    const l = make('listen');
    const peer = broker.connect('peer');
    await peer.assertQueue('theirs', { durable: false, autoDelete: false });
    await l.assertQueue('mine', { durable: false, autoDelete: false });
    await l.consume('theirs', () => {}, { consumerTag: 't' });
    await l.consume('mine', () => {}, { consumerTag: 'm' });
    broker.disconnectAll((n) => n === 'test:listen');
    await peer.deleteQueue('theirs');
    await advance(0);
    expect(l.isConnected).toBe(true);
    expect(l.lastSkipped).toEqual([{ kind: 'consumer', missing: 'theirs', missingKind: 'queue', queue: 'theirs' }]);
    expect(broker.listConsumers().map((c) => [c.queue, c.consumerTag])).toEqual([['mine', 'm']]);
  });

  it('retries when a replayed step races a deletion (404 after the passive check) instead of giving up', async () => {
    const l = make('listen');
    const peer = broker.connect('peer');
    await peer.assertExchange('x_fanout', 'fanout', { durable: false, autoDelete: true });
    await l.assertQueue('q', { durable: false, autoDelete: false });
    await l.bindQueue('q', 'x_fanout', '#');
    let raced = false;
    driver.beforeOp = (op) => {
      // deleted between the check and the bind, once
      if (op === 'bindQueue' && !raced && driver.links.length === 2) {
        raced = true;
        (broker as unknown as { exchanges: Map<string, unknown> }).exchanges.delete('x_fanout');
      }
    };
    broker.disconnectAll((n) => n === 'test:listen');
    await advance(2000);
    expect(raced).toBe(true);
    expect(l.isConnected).toBe(true);
    expect(driver.connectTimes).toHaveLength(3);
    expect(l.lastSkipped.map((k) => k.missing)).toEqual(['x_fanout']);
  });

  it('retries a replay refused with 405 (the dead connection still holds our exclusive queue) after the first quick delay, not the grown back-off', async () => {
    const l = make('listen');
    await l.assertQueue('tap', { durable: false, autoDelete: true, exclusive: true });
    await l.consume('tap', () => {}, { consumerTag: '1' });
    // a restart: refused connections for a while, so the back-off has reached its 500 ms cap (375 ms at factor 0.75)
    broker.stop();
    await advance(5000);
    // the broker is back but lets go of the old connection's exclusive queue only after three more refusals
    let locked = 3;
    driver.beforeOp = (op) => {
      if (op === 'assertQueue' && locked > 0) {
        locked -= 1;
        throw new MessagingError("RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'tap'", { code: 405 });
      }
    };
    const before = driver.connectTimes.length;
    broker.start();
    await advance(375 + 3 * 38);
    expect(locked).toBe(0);
    expect(l.isConnected).toBe(true);
    // the attempt that met the broker back, then 38 ms (50 ms × 0.75) after each refusal, not 375 ms
    const t = driver.connectTimes.slice(before);
    expect(t.slice(1).map((x, i) => x - t[i])).toEqual([38, 38, 38]);
    expect(broker.listConsumers().map((c) => c.consumerTag)).toEqual(['1']);
  });

  it('keeps recovering a listen link while a restarted broker refuses its vhost or login for a moment (530, 403), but fails a first connect at once', async () => {
    const vhostDown = () =>
      new MessageDeliveryFailure('Unable to connect to AMQP server on mq:5672: 530 NOT_ALLOWED - vhost / is down', {
        code: 530,
        cause: new BrokerRefusal('NOT_ALLOWED - vhost / is down', 530, 'connection.open'),
      });
    const loginRefused = () =>
      new MessageDeliveryFailure('Unable to connect to AMQP server on mq:5672: 403 ACCESS_REFUSED - Login was refused', {
        code: 403,
        cause: new BrokerRefusal('ACCESS_REFUSED - Login was refused', 403, 'connection.start-ok'),
      });
    // never connected: the refusal is the answer (exit 6 / HTTP 422 upstream), one attempt
    driver.failures = [vhostDown()];
    const fresh = make('listen');
    await expect(fresh.connect(null)).rejects.toBeInstanceOf(MessageDeliveryFailure);
    expect(driver.connectTimes).toHaveLength(1);

    const l = make('listen');
    await l.assertQueue('tap', { durable: false, autoDelete: true, exclusive: true });
    await l.consume('tap', () => {}, { consumerTag: '1' });
    const before = driver.connectTimes.length;
    // the connection is cut by a restart; the broker accepts connections again but refuses the vhost twice and the login once
    driver.failures = [vhostDown(), vhostDown(), loginRefused()];
    driver.links.at(-1)!.close();
    await advance(38 + 75 + 150 + 300);
    expect(driver.failures).toHaveLength(0);
    expect(l.isConnected).toBe(true);
    expect(driver.connectTimes.length - before).toBe(4);
    expect(broker.listConsumers().map((c) => c.consumerTag)).toEqual(['1']);
  });

  it('still gives up on a refusal of a channel operation (not the handshake) while recovering', () => {
    expect(isHandshakeRefusal(new BrokerRefusal('NOT_FOUND - no queue', 404, 'queue.declare'))).toBe(false);
    expect(isHandshakeRefusal(new MessagingError('NOT_ALLOWED', { code: 530 }))).toBe(false);
    expect(isHandshakeRefusal(new MessageDeliveryFailure('x', { code: 530, cause: new BrokerRefusal('NOT_ALLOWED', 530, 'connection.open') }))).toBe(true);
  });

  it('never stays `connecting` after a bounded attempt failed; a listen link goes back to recovering by itself', async () => {
    const l = make('listen');
    await l.assertQueue('q', { durable: false, autoDelete: false });
    await l.consume('q', () => {}, { consumerTag: '1' });
    // refused replay: 406 for a queue re-created with other flags while we were away
    broker.disconnectAll();
    const other = broker.connect('other');
    await other.deleteQueue('q');
    await other.assertQueue('q', { durable: true, autoDelete: false });
    await advance(0);
    expect(l.currentState).toBe('disconnected');
    // a passive check (the tap's broker view) runs a one-shot connect: refused again, and says so
    await expect(l.checkQueue('q')).rejects.toMatchObject({ code: 406 });
    expect(l.currentState).toBe('disconnected');
    expect(l.retrying).toBe(false);

    // the cause goes away
    await other.deleteQueue('q');
    // a bounded connect that runs out of tries while the broker is down
    const s = make('send');
    await s.connect();
    broker.stop();
    await expect(s.connect(0)).rejects.toThrow(MessageDeliveryFailure);
    expect(s.currentState).toBe('disconnected');

    // the refused listen link's next bounded attempt (broker still down) puts it back on
    // background recovery, which brings it back once the broker is up
    await expect(l.checkQueue('q')).rejects.toThrow(MessageDeliveryFailure);
    expect(l.currentState).not.toBe('connected');
    broker.start();
    await advance(1500);
    expect(l.isConnected).toBe(true);
    expect(l.currentState).toBe('connected');
    expect(broker.listConsumers().map((c) => [c.queue, c.consumerTag])).toEqual([['q', '1']]);
  });

  it('waitForRecovery resolves true once a listen link is back, false when closed instead', async () => {
    const l = make('listen');
    await l.connect();
    expect(await l.waitForRecovery()).toBe(true);
    broker.stop();
    const back = l.waitForRecovery();
    await advance(100);
    broker.start();
    await advance(1000);
    expect(await back).toBe(true);

    broker.stop();
    const never = l.waitForRecovery();
    await advance(10);
    await l.close();
    expect(await never).toBe(false);
    expect(await l.waitForRecovery()).toBe(false);
  });
});
