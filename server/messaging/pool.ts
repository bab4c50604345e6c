/**
 * _drivers/pool.py Pool / ConnectionPool: send connections are borrowed for
 * one publish and put back. Oslo's rules: `get()` takes the most recently
 * returned item (LIFO), then expires idle items older than `ttl` from the
 * oldest end while more than `minSize` remain; with none idle and fewer than
 * `maxSize` created it creates one; at the limit it logs a warning and waits.
 */

export interface PoolStats {
  /** items alive (oslo `_current_size`) */
  created: number;
  /** items waiting in the pool (`len(_items)`) */
  idle: number;
  /** created − idle */
  inUse: number;
  /** callers blocked waiting for an item */
  waiters: number;
  /** rpc_conn_pool_size */
  max: number;
  /** items ever created / expired / discarded as broken */
  totalCreated: number;
  totalExpired: number;
  totalDiscarded: number;
}

export interface PoolOptions<T> {
  /** rpc_conn_pool_size (oslo default 30) */
  maxSize: number;
  /** conn_pool_min_size (oslo default 2) */
  minSize: number;
  /** conn_pool_ttl in ms (oslo default 1200 s) */
  ttlMs: number;
  create: () => Promise<T>;
  destroy: (item: T) => Promise<void> | void;
  now?: () => number;
  onLimit?: (stats: PoolStats) => void;
}

interface Idle<T> {
  item: T;
  since: number;
}

export class ConnectionPool<T> {
  private readonly items: Idle<T>[] = [];
  private currentSize = 0;
  private readonly waiters: ((item: T | Error) => void)[] = [];
  private closed = false;
  private totals = { created: 0, expired: 0, discarded: 0 };
  private readonly now: () => number;

  constructor(private readonly options: PoolOptions<T>) {
    if (options.maxSize < 1) throw new RangeError('rpc_conn_pool_size must be >= 1');
    this.now = options.now ?? Date.now;
  }

  stats(): PoolStats {
    return {
      created: this.currentSize,
      idle: this.items.length,
      inUse: this.currentSize - this.items.length,
      waiters: this.waiters.length,
      max: this.options.maxSize,
      totalCreated: this.totals.created,
      totalExpired: this.totals.expired,
      totalDiscarded: this.totals.discarded,
    };
  }

  /** An idle item right now (most recently returned first), or undefined; never creates or waits. */
  tryGet(): T | undefined {
    if (this.closed) return undefined;
    const top = this.items.pop();
    if (!top) return undefined;
    this.expireStale();
    return top.item;
  }

  async get(): Promise<T> {
    if (this.closed) throw new Error('Connection pool is closed');
    const top = this.items.pop();
    if (top) {
      this.expireStale();
      return top.item;
    }
    if (this.currentSize < this.options.maxSize) {
      this.currentSize += 1;
      try {
        const item = await this.options.create();
        this.totals.created += 1;
        return item;
      } catch (err) {
        this.currentSize -= 1;
        this.wakeOneForCreate();
        throw err;
      }
    }
    this.options.onLimit?.(this.stats());
    return new Promise<T>((resolve, reject) => {
      this.waiters.push((item) => (item instanceof Error ? reject(item) : resolve(item)));
    });
  }

  /** Put an item back (oslo Pool.put): hand it to a waiter, or keep it as the newest idle one. */
  put(item: T): void {
    if (this.closed) {
      this.currentSize -= 1;
      void this.options.destroy(item);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter(item);
      return;
    }
    this.items.push({ item, since: this.now() });
  }

  /** Drop a broken item (oslo: reset failed → close and replace). */
  discard(item: T): void {
    this.currentSize -= 1;
    this.totals.discarded += 1;
    void Promise.resolve(this.options.destroy(item)).catch(() => undefined);
    this.wakeOneForCreate();
  }

  /** Borrow for the duration of `fn` (rpc_common.ConnectionContext). */
  async use<R>(fn: (item: T) => Promise<R>, isBroken: (item: T, err: unknown) => boolean = () => false): Promise<R> {
    const item = await this.get();
    try {
      const result = await fn(item);
      this.put(item);
      return result;
    } catch (err) {
      if (isBroken(item, err)) this.discard(item);
      else this.put(item);
      throw err;
    }
  }

  private expireStale(): void {
    const now = this.now();
    // Pool.expire: `while len(self._items) > self._min_size`, and StopWatch.expired() is `elapsed > ttl`.
    while (this.items.length > this.options.minSize) {
      const oldest = this.items[0];
      if (now - oldest.since <= this.options.ttlMs) break;
      this.items.shift();
      this.currentSize -= 1;
      this.totals.expired += 1;
      void Promise.resolve(this.options.destroy(oldest.item)).catch(() => undefined);
    }
  }

  /** A slot freed up while callers wait: let the first one create a fresh item. */
  private wakeOneForCreate(): void {
    const waiter = this.waiters.shift();
    if (!waiter) return;
    this.currentSize += 1;
    this.options.create().then(
      (item) => {
        this.totals.created += 1;
        waiter(item);
      },
      (err: unknown) => {
        this.currentSize -= 1;
        waiter(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    const idle = this.items.splice(0);
    this.currentSize -= idle.length;
    for (const w of this.waiters.splice(0)) w(new Error('Connection pool is closed'));
    await Promise.all(idle.map((i) => Promise.resolve(this.options.destroy(i.item)).catch(() => undefined)));
  }
}
