import { describe, expect, it } from 'vitest';
import { rateSnapshotSchema } from '../../lib/tap-contracts.ts';
import { clampWindow, DENSE_BYTES, MAX_WINDOW_BUCKETS, RateModel, SecondCounter, SPARSE_SECONDS, type RateSample } from './rates.ts';

const T0 = 1_700_000_000_000; // a whole second

function sample(ts: number, over: Partial<RateSample> = {}): RateSample {
  return { ts, kind: 'call', exchange: 'nova', topic: 'compute', server: null, method: 'get', ...over };
}

describe('SecondCounter', () => {
  it('counts per second and forgets what falls out of the hour', () => {
    const c = new SecondCounter();
    const s = T0 / 1000;
    c.add(s);
    c.add(s);
    c.add(s + 2);
    const out = [0, 0, 0];
    expect(c.read(s + 2, 3, out)).toBe(3);
    expect(out).toEqual([2, 0, 1]);
    // an hour later the ring slot of `s` is reused and zeroed first
    c.add(s + 3600);
    expect(c.sum(s + 3600, 3600)).toBe(2);
    expect(c.sum(s + 7200, 60)).toBe(0);
  });

  it('accepts slightly late samples and ignores ones older than the ring', () => {
    const c = new SecondCounter();
    const s = T0 / 1000;
    c.add(s + 10);
    c.add(s + 5);
    c.add(s - 4000);
    expect(c.sum(s + 10, 60)).toBe(2);
  });
  it('stays sparse for a key counted in few seconds and answers like a full ring after switching', () => {
    const s = T0 / 1000;
    // a plain map of second -> count as the reference
    const ref = new Map<number, number>();
    const c = new SecondCounter();
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    let newest = s;
    const check = () => {
      for (const [last, count] of [
        [newest, 60],
        [newest, MAX_WINDOW_BUCKETS],
        [newest - 30, 120],
      ]) {
        const out = new Array<number>(count).fill(0);
        const want = new Array<number>(count).fill(0);
        let total = 0;
        for (const [sec, n] of ref) {
          if (sec > last || sec <= last - count || sec <= newest - MAX_WINDOW_BUCKETS) continue;
          want[sec - (last - count + 1)] += n;
          total += n;
        }
        expect(c.read(last, count, out)).toBe(total);
        expect(out).toEqual(want);
        expect(c.sum(last, count)).toBe(total);
      }
    };
    const step = (n: number) => {
      // mostly forward, sometimes a few seconds late
      const sec = rand() < 0.8 ? (newest += 1 + Math.floor(rand() * 5)) : newest - Math.floor(rand() * 10);
      c.add(sec, n);
      ref.set(sec, (ref.get(sec) ?? 0) + n);
    };
    for (let i = 0; i < SPARSE_SECONDS / 2; i++) step(1);
    check();
    expect(c.bytes).toBeLessThan(2048);
    for (let i = 0; i < 200; i++) step(3);
    expect(c.bytes).toBeGreaterThanOrEqual(DENSE_BYTES);
    check();
  });

  it('forgets sparse seconds that left the hour', () => {
    const c = new SecondCounter();
    const s = T0 / 1000;
    c.add(s, 5);
    c.add(s + MAX_WINDOW_BUCKETS + 1);
    expect(c.sum(s + MAX_WINDOW_BUCKETS + 1, MAX_WINDOW_BUCKETS)).toBe(1);
    expect(c.bytes).toBeLessThan(128);
  });
});

describe('RateModel', () => {
  it('gives 1 s buckets per dimension, totals by kind and top methods for a window ending at nowMs', () => {
    const r = new RateModel();
    for (let i = 0; i < 5; i++) r.add(sample(T0 + 100 * i));
    r.add(sample(T0 + 1500, { kind: 'cast', method: 'build', server: 'host1' }));
    r.add(sample(T0 + 2500, { kind: 'notification', exchange: 'nova', topic: 'notifications', method: null }));
    r.add(sample(T0 + 2600, { kind: 'reply', exchange: '', topic: null, method: null }));
    const snap = r.snapshot(T0 + 2999, { windowMs: 60_000 });
    rateSnapshotSchema.parse(snap);
    expect(snap.bucketMs).toBe(1000);
    expect(snap.total.length).toBe(60);
    expect(snap.startMs).toBe(T0 + 2000 - 59_000);
    expect(snap.total.slice(-3)).toEqual([5, 1, 2]);
    expect(snap.totalsByKind).toEqual({ call: 5, cast: 1, fanout: 0, reply: 1, heartbeat: 0, notification: 1, unknown: 0 });
    expect(snap.byKind.call.slice(-3)).toEqual([5, 0, 0]);
    const topic = Object.fromEntries(snap.series.topic.map((s) => [s.key, s.total]));
    expect(topic).toEqual({ compute: 6, notifications: 1 });
    expect(snap.series.exchange.map((s) => [s.key, s.total])).toEqual([
      ['nova', 7],
      ['(default)', 1],
    ]);
    expect(snap.series.server.map((s) => s.key)).toEqual(['compute.host1']);
    expect(snap.topMethods[0]).toEqual({ key: 'compute:get', topic: 'compute', method: 'get', count: 5, perSecond: 5 / 60 });
    expect(snap.series.method.find((s) => s.key === 'compute:get')?.buckets.slice(-3)).toEqual([5, 0, 0]);
  });

  it('windows are clamped to 1 min .. 1 h and move with nowMs', () => {
    expect(clampWindow(10)).toBe(60_000);
    expect(clampWindow(10 * 3_600_000)).toBe(3_600_000);
    const r = new RateModel();
    r.add(sample(T0));
    expect(r.snapshot(T0 + 59_999).total.reduce((a, b) => a + b, 0)).toBe(1);
    expect(r.snapshot(T0 + 60_000).total.reduce((a, b) => a + b, 0)).toBe(0);
    const hour = r.snapshot(T0 + 30 * 60_000, { windowMs: 3_600_000 });
    expect(hour.total.length).toBe(3600);
    expect(hour.totalsByKind.call).toBe(1);
  });

  it('keeps a bounded number of keys under a flood of distinct methods and counts evictions', () => {
    const r = new RateModel({ keysPerDimension: 50 });
    for (let i = 0; i < 10_000; i++) r.add(sample(T0 + i, { method: `m${i}`, topic: `t${i % 200}` }));
    expect(r.keyCount).toBeLessThanOrEqual(50 + 50 + 100 + 1);
    // methods: all distinct, cap 100; topics: 200 cycled through a cap of 50, so every one misses (LRU)
    expect(r.evictedKeys).toBe(10_000 - 100 + (10_000 - 50));
    // the most recent keys survive
    const snap = r.snapshot(T0 + 10_000, { limit: 1000 });
    expect(snap.series.method.some((s) => s.method === 'm9999')).toBe(true);
    expect(snap.series.method.some((s) => s.method === 'm0')).toBe(false);
    // totals are exact whatever the eviction
    expect(snap.totalsByKind.call).toBe(10_000);
  });
});

describe('RateModel.knownTargets', () => {
  it('lists what the traffic named, most recently counted first, servers split from their topic', () => {
    const r = new RateModel();
    r.add(sample(T0, { exchange: 'nova', topic: 'compute', server: 'node-1.example.org', method: 'get_console' }));
    r.add(sample(T0 + 1000, { exchange: 'neutron', topic: 'q-agent-notifier', server: null, method: 'port_update' }));
    r.add(sample(T0 + 2000, { kind: 'reply', exchange: '', topic: null, server: null, method: null }));
    r.add(sample(T0 + 3000, { exchange: 'nova', topic: 'conductor', server: null, method: 'object_action' }));
    const k = r.knownTargets(10);
    // the default exchange (replies) is not a target anyone fires at
    expect(k.exchanges).toEqual(['nova', 'neutron']);
    expect(k.topics).toEqual(['conductor', 'q-agent-notifier', 'compute']);
    expect(k.servers).toEqual([{ topic: 'compute', server: 'node-1.example.org' }]);
    expect(k.methods).toEqual([
      { topic: 'conductor', method: 'object_action' },
      { topic: 'q-agent-notifier', method: 'port_update' },
      { topic: 'compute', method: 'get_console' },
    ]);
    expect(r.knownTargets(1).topics).toEqual(['conductor']);
  });

  it('suggests only topics that carried RPC requests: notification topics are listed apart, and the fanout exchange is no target', () => {
    const r = new RateModel();
    r.add(sample(T0, { kind: 'cast', exchange: 'nova', topic: 'compute', server: 'host-1', method: 'reboot' }));
    r.add(sample(T0 + 1000, { kind: 'fanout', exchange: 'scheduler_fanout', topic: 'scheduler', server: null, method: 'update_aggregates' }));
    // nova's notifier: `notifications.info` and `versioned_notifications.info` on the control exchange, topic = the part before the priority
    r.add(sample(T0 + 2000, { kind: 'notification', exchange: 'nova', topic: 'notifications', server: null, method: null }));
    r.add(sample(T0 + 3000, { kind: 'notification', exchange: 'nova', topic: 'versioned_notifications', server: null, method: null }));
    r.add(sample(T0 + 4000, { kind: 'unknown', exchange: 'odd', topic: 'garbage', server: null, method: null }));
    r.add(sample(T0 + 5000, { kind: 'reply', exchange: '', topic: null, server: null, method: null }));
    // a topic that carried both still has an RPC server behind its requests
    r.add(sample(T0 + 6000, { kind: 'notification', exchange: 'nova', topic: 'both', server: null, method: null }));
    r.add(sample(T0 + 7000, { kind: 'call', exchange: 'nova', topic: 'both', server: null, method: 'ping' }));
    const k = r.knownTargets(10);
    expect(k.topics).toEqual(['both', 'scheduler', 'compute']);
    expect(k.notificationTopics).toEqual(['versioned_notifications', 'notifications']);
    expect(k.exchanges).toEqual(['nova']);
    // the notifications still count in the rates
    expect(r.snapshot(T0 + 8000).series.topic.map((s) => s.key)).toContain('notifications');
    // the limit bounds what is kept, not what is scanned: RPC topics behind many notification topics are still found
    const busy = new RateModel();
    busy.add(sample(T0, { kind: 'call', topic: 'conductor' }));
    for (let i = 0; i < 50; i++) busy.add(sample(T0 + 1000 + i, { kind: 'notification', topic: `n${i}`, server: null, method: null }));
    expect(busy.knownTargets(5).topics).toEqual(['conductor']);
    expect(busy.knownTargets(5).notificationTopics).toHaveLength(5);
  });
});
