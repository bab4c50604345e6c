import { describe, expect, it } from 'vitest';
import { encodeBody } from '../messaging/index.ts';
import { decodeObservation } from './decoder.ts';
import { Ring, TrafficModel } from './model.ts';

const T0 = 1_700_000_000_000;
let id = 0;

function observe(model: TrafficModel, message: Record<string, unknown>, over: { ts?: number; exchange?: string; routingKey?: string; body?: Buffer } = {}) {
  const m = decodeObservation({
    id: String(++id),
    ts: over.ts ?? T0,
    body: over.body ?? encodeBody(message).body,
    exchange: over.exchange ?? 'openstack',
    routingKey: over.routingKey ?? 'compute',
    properties: { expiration: '5000' },
    trace: null,
  });
  return { m, r: model.ingest(m) };
}

describe('Ring', () => {
  it('keeps the newest `capacity` items and counts overwrites', () => {
    const r = new Ring<number>(3);
    for (let i = 1; i <= 5; i++) r.push(i);
    const seen: number[] = [];
    r.scanNewest((x) => {
      seen.push(x);
      return true;
    });
    expect(seen).toEqual([5, 4, 3]);
    expect(r.size).toBe(3);
    expect(r.overwritten).toBe(2);
    expect(() => new Ring(0)).toThrow(RangeError);
  });
});

describe('TrafficModel', () => {
  it('counts received / decoded / undecodable and streams every publish', () => {
    const model = new TrafficModel();
    observe(model, { method: 'echo', args: {}, _unique_id: 'u' });
    const bad = observe(model, {}, { body: Buffer.from('{{{') });
    expect(bad.r.stream).toBe(true);
    expect(model.tapCounters()).toMatchObject({ received: 2, decoded: 1, undecodable: 1 });
    expect(model.recent().map((m) => m.kind)).toEqual(['cast', 'unknown']);
  });

  it('recent() filters with the grammar, limits, and pages with afterId (oldest first)', () => {
    const model = new TrafficModel();
    for (let i = 0; i < 10; i++) observe(model, { method: i % 2 ? 'get_a' : 'put_b', args: { n: i }, _unique_id: `u${i}`, _context_request_id: `req-${i}` });
    const all = model.recent({ limit: 100 });
    expect(all).toHaveLength(10);
    expect(model.recent({ filter: 'method:get_*' }).map((m) => m.args)).toEqual([1, 3, 5, 7, 9].map((n) => ({ n })));
    expect(model.recent({ filter: 'request_id:req-4' })).toHaveLength(1);
    expect(model.recent({ limit: 3 }).map((m) => m.id)).toEqual(all.slice(-3).map((m) => m.id));
    expect(model.recent({ afterId: all[7].id }).map((m) => m.id)).toEqual([all[8].id, all[9].id]);
    expect(model.recent({ filter: (m) => m.args !== null && (m.args as { n: number }).n === 2 })).toHaveLength(1);
    expect(() => model.recent({ filter: 'bogus:1' })).toThrow(/Unknown field/);
  });

  it('feeds rates and calls; tick classifies with the given clock', () => {
    const model = new TrafficModel();
    const { r } = observe(model, { method: 'get', args: {}, _msg_id: 'abc', _reply_q: 'reply_1', _timeout: null }, { ts: T0 + 10 });
    expect(r.call?.reason).toBe('new');
    expect(model.snapshotRates(T0 + 500).totalsByKind.call).toBe(1);
    expect(model.tick(T0 + 1000)).toEqual([]);
    const changes = model.tick(T0 + 5010, () => ({ exists: true, consumers: 1, depth: 0 }));
    expect(changes).toHaveLength(1);
    expect(model.callList({ state: 'done' })[0]).toMatchObject({ msgId: 'abc', outcome: 'unobserved' });
  });

  it('stays bounded under a flood of distinct calls, topics and methods (counted evictions)', () => {
    const model = new TrafficModel({ recentLimit: 500, calls: { maxCalls: 1000 }, rates: { keysPerDimension: 100 } });
    const bodies = Array.from({ length: 50 }, (_, i) => encodeBody({ method: `m${i}`, args: { pad: 'x'.repeat(200) }, _msg_id: `id${i}`, _reply_q: 'reply_1' }).body);
    for (let i = 0; i < 20_000; i++) {
      const body = Buffer.from(bodies[i % 50].toString('latin1').replace(/id\d+/, `id${i}`), 'latin1');
      observe(model, {}, { body, ts: T0 + i, routingKey: `topic${i % 300}`, exchange: `x${i % 150}` });
    }
    expect(model.recentSize).toBe(500);
    expect(model.calls.size).toBe(1000);
    expect(model.rates.keyCount).toBeLessThanOrEqual(100 * 3 + 200);
    const c = model.tapCounters();
    expect(c.received).toBe(20_000);
    expect(c.evictedMessages).toBe(19_500);
    expect(c.evictedCalls).toBe(19_000);
    expect(c.evictedRateKeys).toBeGreaterThan(0);
  });
});

describe('size bounds', () => {
  const newest = (r: Ring<number>) => {
    const seen: number[] = [];
    r.scanNewest((x) => {
      seen.push(x);
      return true;
    });
    return seen;
  };

  it('a ring bounded by bytes drops the oldest until the total fits, always keeping the newest', () => {
    const r = new Ring<number>(100, 1000);
    for (let i = 1; i <= 5; i++) r.push(i, 300);
    expect(newest(r)).toEqual([5, 4, 3]);
    expect(r.bytes).toBe(900);
    expect(r.overwritten).toBe(2);
    r.push(6, 5000);
    expect(newest(r)).toEqual([6]);
    expect(r.bytes).toBe(5000);
    r.push(7, 10);
    expect(newest(r)).toEqual([7]);
    expect(r.bytes).toBe(10);
  });

  it('large messages are stored cut, with the marker and their size, and the ring holds them by bytes', () => {
    const model = new TrafficModel({ messageBytes: 64 * 1024, recentBytes: 512 * 1024 });
    const big = 'B'.repeat(2 * 1024 * 1024);
    const many = Array.from({ length: 100_000 }, (_, i) => i);
    for (let i = 0; i < 12; i++) {
      const { m, r } = observe(model, { method: 'store', args: { n: i, blob: big, small: 'kept', list: many, after: 'the budget is spent' } });
      expect(m.args).toMatchObject({ blob: big });
      const stored = r.message;
      expect(stored.truncatedBytes).toBe(m.bytes);
      const args = stored.args as { blob: string; small: string; list: unknown[]; n: number; after?: string; '…'?: string };
      expect(args.blob.length).toBeLessThan(2048);
      expect(args.blob).toMatch(new RegExp(`^B{1024}… \\[truncated, ${big.length} bytes\\]$`));
      expect(args.small).toBe('kept');
      expect(args.n).toBe(i);
      expect(args.list.length).toBeLessThan(20_000);
      expect(args.list.at(-1)).toMatch(/^… \[truncated, \d+ more items\]$/);
      expect(args.after).toBeUndefined();
      expect(args['…']).toBe('[truncated, 1 more keys]');
      expect(JSON.stringify(stored).length).toBeLessThan(80 * 1024);
    }
    expect(model.counters.truncated).toBe(12);
    expect(model.recentBytes).toBeLessThanOrEqual(512 * 1024);
    expect(model.recentSize).toBeGreaterThan(3);
    expect(model.recentSize).toBeLessThan(12);
    expect(model.tapCounters().evictedMessages).toBe(12 - model.recentSize);
  });

  it('small messages are stored as they are', () => {
    const model = new TrafficModel();
    const { m, r } = observe(model, { method: 'm', args: { a: 'x'.repeat(1000) } });
    expect(r.message).toBe(m);
    expect(r.message.truncatedBytes).toBeUndefined();
  });
});

describe('heap growth', () => {
  it('a traffic model bounds V8 heap growth between full collections for its process, unless told not to', async () => {
    const { heapGrowthPercent, DEFAULT_HEAP_GROWTH_PERCENT } = await import('./heap-growth.ts');
    new TrafficModel({ heapGrowthPercent: 0 });
    expect(heapGrowthPercent()).toBe(0);
    new TrafficModel();
    expect(heapGrowthPercent()).toBe(DEFAULT_HEAP_GROWTH_PERCENT);
    expect(() => new TrafficModel({ heapGrowthPercent: -1 })).toThrow(RangeError);
  });
});
