import { createServer, type Server as HttpServer } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { MemoryBroker, silentLogger, Transport } from '../messaging/index.ts';
import { tryParseFilter } from '../tap/index.ts';
import type { DecodedMessage, TapEvent, TapStatus } from '../../lib/tap-contracts.ts';
import type { TrafficBatch } from '../../lib/socket-contracts.ts';
import type { Dashboard, TapFace } from '../dashboard.ts';
import { MAX_RATES_PER_SOCKET, RealtimeGateway, type Every } from './gateway.ts';

/** The gateway's clock, driven by hand: `tick(ms)` runs every timer of that period once. */
class ManualClock {
  private readonly timers = new Set<{ ms: number; fn: () => void }>();
  readonly every: Every = (ms, fn) => {
    const t = { ms, fn };
    this.timers.add(t);
    return () => this.timers.delete(t);
  };
  tick(ms: number): void {
    for (const t of this.timers) if (t.ms === ms) t.fn();
  }
}

/** Wait for what a test asserts (pushes travel over a real socket), never a fixed time. */
async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const BATCH_MS = 100;
const STATUS_MS = 200;
const CALLS_MS = 400;
const AUTH_MS = 1_000;

let seq = 0;
function message(over: Partial<DecodedMessage>): DecodedMessage {
  seq++;
  return {
    id: String(seq), ts: Date.now(), kind: 'cast', exchange: 'nova', routingKey: 'compute', topic: 'compute', server: null, method: 'm', namespace: null, version: null,
    msgId: null, replyQ: null, uniqueId: null, callMonitorTimeout: null, timeoutMs: null, args: {}, context: {}, requestId: null, result: null, failure: null, ending: null,
    eventType: null, priority: null, publisherId: null, messageId: null, timestamp: null, payload: null, properties: {}, trace: null, broker: null, bytes: 10, enveloped: true,
    compression: null, error: null, raw: null, rawEncoding: null, rawTruncated: false, ...over,
  };
}

class FakeTap implements TapFace {
  readonly listeners = new Set<(e: TapEvent) => void>();
  readonly kept: DecodedMessage[] = [];
  status(): TapStatus {
    return { requestedMode: 'auto', mode: 'firehose', state: 'running', error: null, vhost: '/', canSeeReplies: true, firehose: { on: true, detectedBy: 'memory', canEnable: true }, hint: null, tappedExchanges: [], fanoutExchanges: [], tapQueues: [], inspector: 'memory', counters: { received: 0, decoded: 0, undecodable: 0, dropped: 0, evictedMessages: 0, evictedCalls: 0, evictedRateKeys: 0 }, startedAt: 0 };
  }
  readonly snapshots: { windowMs?: number; limit?: number }[] = [];
  snapshot(nowMs: number, q: { windowMs?: number; limit?: number } = {}) {
    this.snapshots.push(q);
    const windowMs = q.windowMs ?? 60_000;
    const n = windowMs / 1000;
    const series = ['compute', 'conductor', 'latprobe-7'].map((key, i) => ({ key, topic: key, method: null, total: 3 - i, buckets: new Array(n).fill(0) }));
    return {
      nowMs,
      status: this.status(),
      rates: { nowMs, bucketMs: 1000, windowMs, startMs: nowMs - windowMs, total: new Array(n).fill(0), byKind: {} as never, totalsByKind: {} as never, series: { exchange: [], topic: series.slice(0, q.limit ?? 20), server: [], method: [] }, topMethods: [] },
      calls: { inflight: 0, stuck: 0, done: 0, byCause: {} as never },
    };
  }
  recent(o: { filter?: string | ((m: DecodedMessage) => boolean); limit?: number }) {
    const pred = typeof o.filter === 'function' ? o.filter : () => true;
    return this.kept.filter(pred).slice(-(o.limit ?? 200));
  }
  calls() {
    return [];
  }
  call() {
    return null;
  }
  latency() {
    return { name: 'x', help: 'x', buckets: [], series: [] };
  }
  knownTargets() {
    return { exchanges: [], topics: [], notificationTopics: [], servers: [], methods: [] };
  }
  async brokerView(): Promise<never> {
    throw new Error('not here');
  }
  on(l: (e: TapEvent) => void) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  publish(m: DecodedMessage) {
    this.kept.push(m);
    for (const l of this.listeners) l({ type: 'tap:message', message: m });
  }
}

describe('RealtimeGateway', () => {
  let http: HttpServer;
  let gateway: RealtimeGateway;
  let tap: FakeTap;
  let transport: Transport;
  let base: string;
  const sockets: Socket[] = [];
  let allow = true;
  /** cookies whose session ended (logged out) since the handshake */
  const ended = new Set<string>();
  const clock = new ManualClock();

  beforeAll(async () => {
    tap = new FakeTap();
    transport = new Transport('memory://', { memoryBroker: new MemoryBroker() });
    const dashboard: Dashboard = {
      transport,
      tap,
      parseFilter: (t) => {
        const r = tryParseFilter(t);
        return r.ok ? { ok: true, predicate: r.filter.predicate } : { ok: false, error: r.error };
      },
      info: { embedded: true, demoFleet: false, controlExchange: 'openstack', readOnly: false, rpcConnPoolSize: 30 },
      viewers: () => gateway.viewers,
      clock: Date.now,
    };
    http = createServer();
    gateway = new RealtimeGateway(http, {
      dashboard,
      log: silentLogger,
      batchMs: BATCH_MS,
      statusMs: STATUS_MS,
      callsMs: CALLS_MS,
      authMs: AUTH_MS,
      every: clock.every,
      authenticate: async (req) => {
        const cookie = req.headers.cookie ?? '';
        if (ended.has(cookie)) return null;
        if (cookie === 'let-me-in=1') return { name: 'tester', role: 'viewer' };
        if (cookie === 'let-me-in=2') return { name: 'other', role: 'viewer' };
        return null;
      },
      checkRequest: (req) => (allow && req.headers.origin !== 'http://evil.example' ? null : 'cross-origin'),
    });
    gateway.start();
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const a = http.address();
    base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });

  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
    allow = true;
    ended.clear();
  });

  afterAll(async () => {
    gateway.close();
    await new Promise<void>((r) => http.close(() => r()));
    await transport.close();
  });

  function client(headers: Record<string, string> = { cookie: 'let-me-in=1' }): Socket {
    const s = connect(base, { path: '/socket.io', transports: ['websocket'], extraHeaders: headers, reconnection: false, forceNew: true });
    sockets.push(s);
    return s;
  }
  const connected = (s: Socket) =>
    new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('connect_error', reject);
    });
  const refused = (s: Socket) => new Promise<string>((resolve) => s.once('connect_error', (e) => resolve(e.message)));
  const ask = <T>(s: Socket, event: string, payload?: unknown) => s.timeout(3000).emitWithAck(event, payload) as Promise<T>;

  it('refuses handshakes without a session', async () => {
    expect(await refused(client({}))).toBe('unauthenticated');
  });

  it('refuses cross-origin handshakes, websockets included', async () => {
    const msg = await refused(client({ cookie: 'let-me-in=1', origin: 'http://evil.example' }));
    expect(msg).not.toBe('');
  });

  it('ends the sockets of a session that was logged out, at the next check, and keeps the others', async () => {
    const mine = client({ cookie: 'let-me-in=1' });
    const theirs = client({ cookie: 'let-me-in=2' });
    await Promise.all([connected(mine), connected(theirs)]);
    const reasons: string[] = [];
    mine.on('disconnect', (reason) => reasons.push(reason));
    clock.tick(AUTH_MS);
    // still logged in: the check keeps it
    expect(await ask<{ ok: boolean }>(mine, 'status:subscribe')).toMatchObject({ ok: true });
    ended.add('let-me-in=1');
    clock.tick(AUTH_MS);
    await until(() => reasons.length > 0, 'the logged-out socket to be disconnected');
    expect(reasons).toEqual(['io server disconnect']);
    expect(mine.connected).toBe(false);
    expect(theirs.connected).toBe(true);
    expect(await ask<{ ok: boolean }>(theirs, 'status:subscribe')).toMatchObject({ ok: true });
  });

  it('revalidate() ends a logged-out session at once (the logout hook)', async () => {
    const s = client();
    await connected(s);
    ended.add('let-me-in=1');
    const gone = new Promise<string>((resolve) => s.once('disconnect', resolve));
    await gateway.revalidate();
    expect(await gone).toBe('io server disconnect');
  });

  it('validates every event and answers with the problem', async () => {
    const s = client();
    await connected(s);
    const bad = await ask<{ ok: false; error: { code: string; message: string } }>(s, 'traffic:subscribe', { filter: 42 });
    expect(bad.ok).toBe(false);
    expect(bad.error.code).toBe('validation_failed');
    expect(bad.error.message).toMatch(/filter/);
    const extra = await ask<{ ok: boolean }>(s, 'status:subscribe', { sneaky: true });
    expect(extra.ok).toBe(false);
    const grammar = await ask<{ ok: false; error: { message: string } }>(s, 'traffic:subscribe', { filter: 'kind:teapot' });
    expect(grammar.error.message).toMatch(/Bad filter/);
    expect(gateway.stats.rejectedEvents).toBeGreaterThanOrEqual(2);
  });

  it('answers a subscribe with a snapshot, then pushes status ticks', async () => {
    const s = client();
    await connected(s);
    const updates: unknown[] = [];
    s.on('status:update', (u) => updates.push(u));
    const ack = await ask<{ ok: true; data: { at: number; transport: { driver: string }; tap: { mode: string } } }>(s, 'status:subscribe', {});
    expect(ack.ok).toBe(true);
    expect(ack.data.transport.driver).toBe('memory');
    expect(ack.data.tap.mode).toBe('firehose');
    clock.tick(STATUS_MS);
    clock.tick(STATUS_MS);
    await until(() => updates.length >= 2, 'two status pushes');
    expect(updates.length).toBe(2);
  });

  it('batches messages: a burst of 2000 arrives in a few pushes, filtered, in order', async () => {
    const a = client();
    const b = client();
    await Promise.all([connected(a), connected(b)]);
    tap.publish(message({ topic: 'compute', method: 'before' }));
    const snap = await ask<{ ok: true; data: { messages: DecodedMessage[] } }>(a, 'traffic:subscribe', { filter: 'topic:compute', limit: 10 });
    expect(snap.data.messages.at(-1)?.method).toBe('before');
    await ask(b, 'traffic:subscribe', { filter: 'topic:compute' });

    const got: { a: TrafficBatch[]; b: TrafficBatch[] } = { a: [], b: [] };
    a.on('traffic:batch', (x: TrafficBatch) => got.a.push(x));
    b.on('traffic:batch', (x: TrafficBatch) => got.b.push(x));
    const batchesBefore = gateway.stats.trafficBatches;
    for (let i = 0; i < 2000; i++) tap.publish(message({ topic: i % 2 ? 'compute' : 'scheduler', method: `m${i}` }));
    // the burst only: `before` may ride along in the first flush
    const burst = (bs: TrafficBatch[]) => bs.flatMap((x) => x.messages).filter((m) => m.method !== 'before');
    const count = () => burst(got.a).length + got.a.reduce((n, x) => n + x.skipped, 0);
    for (let flushes = 0; flushes < 4 && count() < 1000; flushes++) {
      clock.tick(BATCH_MS);
      await until(() => got.a.length > flushes && got.b.length > flushes, 'a traffic batch');
    }

    const received = burst(got.a);
    const skipped = got.a.reduce((n, x) => n + x.skipped, 0);
    expect(received.length + skipped).toBe(1000);
    expect(received.every((m) => m.topic === 'compute')).toBe(true);
    expect(received.map((m) => Number(m.id))).toEqual([...received.map((m) => Number(m.id))].sort((x, y) => x - y));
    expect(got.a.length).toBeLessThanOrEqual(4);
    // both viewers share one computed batch per flush
    expect(burst(got.b).map((m) => m.id)).toEqual(received.map((m) => m.id));
    expect(gateway.stats.trafficBatches - batchesBefore).toBe(got.a.length);
  });

  it('serves chart rates narrowed to a focus, shared per (window, focus), downsampled for long windows', async () => {
    const a = client();
    const b = client();
    await Promise.all([connected(a), connected(b)]);
    const ack = await ask<{ ok: true; data: { focus: string; rates: { series: { topic: { key: string }[] } } } }>(a, 'rates:subscribe', { focus: 'LATPROBE', windowMs: 60_000 });
    expect(ack.ok).toBe(true);
    expect(ack.data.rates.series.topic.map((x) => x.key)).toEqual(['latprobe-7']);
    // only the charted dimension travels
    const byServer = await ask<{ ok: true; data: { dimension: string; rates: { series: { topic: unknown[] } } } }>(a, 'rates:subscribe', { windowMs: 60_000, dimension: 'server' });
    expect(byServer.data.dimension).toBe('server');
    expect(byServer.data.rates.series.topic).toEqual([]);
    // without a focus only the top series are asked for
    tap.snapshots.length = 0;
    const top = await ask<{ ok: true; data: { rates: { series: { topic: unknown[] } } } }>(b, 'rates:subscribe', { windowMs: 3_600_000 });
    expect(tap.snapshots.at(-1)?.limit).toBe(12);
    const hour = (top.data as unknown as { rates: { bucketMs: number; total: number[] } }).rates;
    expect(hour.total.length).toBeLessThanOrEqual(300);
    expect(hour.bucketMs).toBe(12_000);
    const bad = await ask<{ ok: false; error: { message: string } }>(a, 'rates:subscribe', { windowMs: 1234 });
    expect(bad.error.message).toMatch(/windowMs is one of/);
    const pushes: unknown[] = [];
    a.on('rates:update', (u) => pushes.push(u));
    await ask(a, 'rates:subscribe', { focus: 'latprobe', windowMs: 60_000 });
    clock.tick(STATUS_MS);
    clock.tick(STATUS_MS);
    await until(() => pushes.length >= 2, 'two rates pushes');
  });

  it('keeps two charts with different windows on one socket apart, and drops each on its own unsubscribe', async () => {
    const s = client();
    await connected(s);
    const pushes: { windowMs: number; focus: string }[] = [];
    s.on('rates:update', (u: { windowMs: number; focus: string }) => pushes.push(u));
    const minute = { focus: 'compute', windowMs: 60_000, dimension: 'topic' };
    const hour = { focus: 'compute', windowMs: 3_600_000, dimension: 'topic' };
    expect((await ask<{ ok: boolean }>(s, 'rates:subscribe', minute)).ok).toBe(true);
    expect((await ask<{ ok: boolean }>(s, 'rates:subscribe', hour)).ok).toBe(true);
    // long windows are pushed every fourth status tick: four ticks bring both
    for (let i = 0; i < 4; i++) clock.tick(STATUS_MS);
    await until(() => pushes.some((p) => p.windowMs === 3_600_000) && pushes.filter((p) => p.windowMs === 60_000).length >= 4, 'pushes for both windows');

    // the minute chart goes; the hour chart keeps its feed
    await ask(s, 'rates:unsubscribe', minute);
    pushes.length = 0;
    for (let i = 0; i < 4; i++) clock.tick(STATUS_MS);
    await until(() => pushes.some((p) => p.windowMs === 3_600_000), 'the hour chart still pushed');
    expect(pushes.filter((p) => p.windowMs === 60_000)).toEqual([]);

    // `{}` leaves every chart
    await ask(s, 'rates:unsubscribe', {});
    pushes.length = 0;
    const other = client();
    await connected(other);
    const sentinel: unknown[] = [];
    other.on('rates:update', (u) => sentinel.push(u));
    await ask(other, 'rates:subscribe', minute);
    clock.tick(STATUS_MS);
    await until(() => sentinel.length >= 1, 'a push to another socket');
    expect(pushes).toEqual([]);
  });

  it('bounds the charts one socket may subscribe', async () => {
    const s = client();
    await connected(s);
    const focuses = Array.from({ length: MAX_RATES_PER_SOCKET }, (_, i) => `f${i}`);
    for (const focus of focuses) expect((await ask<{ ok: boolean }>(s, 'rates:subscribe', { focus, windowMs: 60_000 })).ok).toBe(true);
    // the same chart again is no new subscription
    expect((await ask<{ ok: boolean }>(s, 'rates:subscribe', { focus: 'f0', windowMs: 60_000 })).ok).toBe(true);
    const over = await ask<{ ok: false; error: { message: string } }>(s, 'rates:subscribe', { focus: 'one-too-many', windowMs: 60_000 });
    expect(over.ok).toBe(false);
    expect(over.error.message).toMatch(new RegExp(`At most ${MAX_RATES_PER_SOCKET} charts`));
  });

  it('stops sending traffic after unsubscribe', async () => {
    const s = client();
    await connected(s);
    await ask(s, 'traffic:subscribe', { filter: '' });
    await ask(s, 'traffic:unsubscribe', {});
    let n = 0;
    s.on('traffic:batch', () => n++);
    // another viewer gets the batch, so the flush happened and would have reached `s` too
    const other = client();
    await connected(other);
    await ask(other, 'traffic:subscribe', { filter: '' });
    let seen = 0;
    other.on('traffic:batch', () => seen++);
    tap.publish(message({}));
    clock.tick(BATCH_MS);
    await until(() => seen > 0, 'the batch at another viewer');
    expect(n).toBe(0);
  });
});
