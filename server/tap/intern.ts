/**
 * A bounded string table: equal strings the tap keeps for a long time
 * (methods, topics, reply queues, call timeline texts) share one copy
 * instead of one per message or call. Bounded by entries and by string
 * length; when full it starts over, so a flood of distinct values costs at
 * most `maxEntries` strings and never grows memory.
 */
export class Interner<T = string> {
  private readonly table = new Map<string, T>();
  /** times the table started over because it was full */
  resets = 0;

  constructor(
    readonly maxEntries = 8192,
    readonly maxLength = 256,
  ) {}

  /** The shared copy of `s` (the first one seen); strings longer than `maxLength` are returned as they are. */
  string(this: Interner<string>, s: string): string;
  string(this: Interner<string>, s: string | null): string | null;
  string(this: Interner<string>, s: string | null): string | null {
    if (s === null || s.length > this.maxLength) return s;
    const hit = this.table.get(s);
    if (hit !== undefined) return hit;
    this.put(s, s);
    return s;
  }

  /** The shared value for `key`, made by `make` on a miss. */
  value(key: string, make: () => T): T {
    const hit = this.table.get(key);
    if (hit !== undefined) return hit;
    const v = make();
    if (key.length <= this.maxLength) this.put(key, v);
    return v;
  }

  private put(key: string, v: T): void {
    if (this.table.size >= this.maxEntries) {
      this.table.clear();
      this.resets++;
    }
    this.table.set(key, v);
  }

  get size(): number {
    return this.table.size;
  }
}
