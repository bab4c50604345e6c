import { describe, expect, it, vi } from 'vitest';
import { ConnectionPool, type PoolOptions, type PoolStats } from './pool.ts';

/*
 * The expiry expectations were checked against oslo 14.0.3's
 * _drivers/pool.py Pool run through the same steps with a patched clock.
 */

interface Item {
  id: string;
}

/** A pool of named items on a clock the test moves by hand. */
function makePool(overrides: Partial<PoolOptions<Item>> = {}) {
  let clock = 0;
  let next = 0;
  const destroyed: string[] = [];
  const limits: PoolStats[] = [];
  const pool = new ConnectionPool<Item>({
    maxSize: 4,
    minSize: 1,
    ttlMs: 1000,
    create: async () => ({ id: `c${++next}` }),
    destroy: (item) => {
      destroyed.push(item.id);
    },
    now: () => clock,
    onLimit: (s) => limits.push(s),
    ...overrides,
  });
  return {
    pool,
    destroyed,
    limits,
    setNow: (t: number) => {
      clock = t;
    },
  };
}

/** Let promise callbacks run. */
const flush = () => new Promise<void>((r) => setImmediate(r));

describe('ConnectionPool', () => {
  it('refuses a max size below 1', () => {
    expect(() => new ConnectionPool<Item>({ maxSize: 0, minSize: 0, ttlMs: 1, create: async () => ({ id: 'x' }), destroy: () => {} })).toThrow(
      RangeError,
    );
  });

  it('creates on demand and hands back the most recently returned item first (LIFO)', async () => {
    const { pool } = makePool();
    const a = await pool.get();
    const b = await pool.get();
    const c = await pool.get();
    expect([a.id, b.id, c.id]).toEqual(['c1', 'c2', 'c3']);
    pool.put(a);
    pool.put(c);
    pool.put(b);
    expect((await pool.get()).id).toBe('c2');
    expect((await pool.get()).id).toBe('c3');
    expect((await pool.get()).id).toBe('c1');
    expect(pool.stats()).toMatchObject({ created: 3, idle: 0, inUse: 3, totalCreated: 3 });
  });

  it('expires idle items from the oldest end on get, while more than min_size stay idle (Pool.expire)', async () => {
    const { pool, destroyed, setNow } = makePool({ minSize: 1 });
    const items = [await pool.get(), await pool.get(), await pool.get(), await pool.get()];
    setNow(0);
    pool.put(items[0]);
    setNow(100);
    pool.put(items[1]);
    setNow(200);
    pool.put(items[2]);
    setNow(1500);
    pool.put(items[3]);
    // Nothing expires on put.
    setNow(1250);
    expect(destroyed).toEqual([]);
    expect(pool.stats()).toMatchObject({ created: 4, idle: 4 });

    // get() pops the newest (c4), then expires c1 and c2; c3 is past its TTL too
    // but is the last idle one and oslo keeps min_size idle items.
    expect((await pool.get()).id).toBe('c4');
    await flush();
    expect(destroyed).toEqual(['c1', 'c2']);
    expect(pool.stats()).toMatchObject({ created: 2, idle: 1, inUse: 1, totalExpired: 2 });
    expect((await pool.get()).id).toBe('c3');
  });

  it('keeps min_size idle items even when others are in use', async () => {
    // oslo compares len(_items) with min_size, not the number of items alive.
    const { pool, destroyed, setNow } = makePool({ minSize: 2 });
    const [a, b, c, d] = [await pool.get(), await pool.get(), await pool.get(), await pool.get()];
    setNow(0);
    pool.put(a);
    pool.put(b);
    pool.put(c);
    setNow(5000);
    expect(await pool.get()).toBe(c);
    await flush();
    expect(destroyed).toEqual([]);
    expect(pool.stats()).toMatchObject({ created: 4, idle: 2, inUse: 2 });
    pool.put(d);
    pool.put(c);
    setNow(10_000);
    // idle [a, b, d, c]: pop c, expire a; b is expired too but only two idle remain.
    expect(await pool.get()).toBe(c);
    await flush();
    expect(destroyed).toEqual([a.id]);
    expect(pool.stats()).toMatchObject({ created: 3, idle: 2, inUse: 1 });
  });

  it('stops expiring at the first idle item still within its TTL', async () => {
    const { pool, destroyed, setNow } = makePool({ minSize: 0 });
    const [a, b, c] = [await pool.get(), await pool.get(), await pool.get()];
    setNow(0);
    pool.put(a);
    setNow(900);
    pool.put(b);
    pool.put(c);
    setNow(1500);
    expect(await pool.get()).toBe(c);
    await flush();
    expect(destroyed).toEqual([a.id]);
    expect(pool.stats().idle).toBe(1);
  });

  it('counts an item as expired only once strictly more than ttl has elapsed (StopWatch.expired)', async () => {
    const { pool, destroyed, setNow } = makePool({ minSize: 0 });
    const [a, b] = [await pool.get(), await pool.get()];
    setNow(0);
    pool.put(a);
    pool.put(b);
    setNow(1000);
    expect(await pool.get()).toBe(b);
    expect(destroyed).toEqual([]);
    pool.put(b);
    setNow(1001);
    expect(await pool.get()).toBe(b);
    await flush();
    expect(destroyed).toEqual([a.id]);
  });

  it('at max size blocks the caller, reports the limit, and hands it the next returned item', async () => {
    const { pool, limits } = makePool({ maxSize: 2 });
    const a = await pool.get();
    await pool.get();
    let got: Item | undefined;
    const waiting = pool.get().then((i) => (got = i));
    await flush();
    expect(got).toBeUndefined();
    expect(limits).toHaveLength(1);
    expect(limits[0]).toMatchObject({ created: 2, max: 2, inUse: 2, idle: 0 });
    expect(pool.stats()).toMatchObject({ waiters: 1, created: 2 });
    pool.put(a);
    await waiting;
    expect(got).toBe(a);
    expect(pool.stats()).toMatchObject({ waiters: 0, created: 2, idle: 0, totalCreated: 2 });
  });

  it('serves blocked waiters in arrival order', async () => {
    const { pool } = makePool({ maxSize: 1 });
    const a = await pool.get();
    const order: string[] = [];
    const w1 = pool.get().then((i) => {
      order.push(`w1:${i.id}`);
      pool.put(i);
    });
    const w2 = pool.get().then((i) => order.push(`w2:${i.id}`));
    pool.put(a);
    await Promise.all([w1, w2]);
    expect(order).toEqual(['w1:c1', 'w2:c1']);
  });

  it('discard frees the slot: the item is destroyed and a blocked waiter gets a fresh one', async () => {
    const { pool, destroyed } = makePool({ maxSize: 1 });
    const a = await pool.get();
    const waiting = pool.get();
    pool.discard(a);
    const fresh = await waiting;
    await flush();
    expect(destroyed).toEqual(['c1']);
    expect(fresh.id).toBe('c2');
    expect(pool.stats()).toMatchObject({ created: 1, inUse: 1, totalCreated: 2, totalDiscarded: 1, waiters: 0 });
  });

  it('gives the slot back when create fails, and a waiter woken to create gets the error', async () => {
    let fail = false;
    let n = 0;
    const { pool } = makePool({
      maxSize: 1,
      create: async () => {
        if (fail) throw new Error('broker down');
        return { id: `c${++n}` };
      },
    });
    const a = await pool.get();
    fail = true;
    const waiting = pool.get();
    pool.discard(a);
    await expect(waiting).rejects.toThrow('broker down');
    expect(pool.stats()).toMatchObject({ created: 0, waiters: 0 });
    await expect(pool.get()).rejects.toThrow('broker down');
    expect(pool.stats().created).toBe(0);
    fail = false;
    expect((await pool.get()).id).toBe('c2');
  });

  it('use() puts the item back, or discards it when the failure broke it', async () => {
    const { pool, destroyed } = makePool();
    expect(await pool.use(async (i) => `used ${i.id}`)).toBe('used c1');
    expect(pool.stats()).toMatchObject({ idle: 1, inUse: 0 });
    await expect(
      pool.use(async () => {
        throw new Error('soft');
      }),
    ).rejects.toThrow('soft');
    expect(pool.stats()).toMatchObject({ idle: 1, totalDiscarded: 0 });
    await expect(
      pool.use(
        async () => {
          throw new Error('dead');
        },
        (_item, err) => (err as Error).message === 'dead',
      ),
    ).rejects.toThrow('dead');
    await flush();
    expect(destroyed).toEqual(['c1']);
    expect(pool.stats()).toMatchObject({ created: 0, idle: 0, totalDiscarded: 1 });
  });

  it('close() rejects blocked and later gets, and destroys items returned afterwards', async () => {
    const { pool, destroyed } = makePool({ maxSize: 2 });
    const a = await pool.get();
    const b = await pool.get();
    const blocked = pool.get();
    await pool.close();
    await expect(blocked).rejects.toThrow('Connection pool is closed');
    await expect(pool.get()).rejects.toThrow('Connection pool is closed');
    expect(pool.stats()).toMatchObject({ created: 2, inUse: 2, waiters: 0 });
    pool.put(a);
    pool.put(b);
    await flush();
    expect(destroyed).toEqual(['c1', 'c2']);
    expect(pool.stats()).toMatchObject({ created: 0, idle: 0, inUse: 0 });
  });

  it('close() destroys every idle item', async () => {
    const destroy = vi.fn();
    const { pool } = makePool({ destroy });
    const items = [await pool.get(), await pool.get()];
    for (const i of items) pool.put(i);
    await pool.close();
    expect(destroy.mock.calls.map(([i]) => (i as Item).id)).toEqual(['c1', 'c2']);
    expect(pool.stats()).toMatchObject({ created: 0, idle: 0, inUse: 0 });
  });
});
