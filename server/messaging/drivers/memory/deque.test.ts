import { describe, expect, it } from 'vitest';
import { Deque } from './deque.ts';

describe('Deque', () => {
  it('is FIFO with push/shift and LIFO at the head with unshift', () => {
    const d = new Deque<number>();
    d.push(1);
    d.push(2);
    d.unshift(0);
    d.unshift(-1);
    expect([...d]).toEqual([-1, 0, 1, 2]);
    expect(d.peek()).toBe(-1);
    expect(d.shift()).toBe(-1);
    expect(d.at(0)).toBe(0);
    expect(d.at(2)).toBe(2);
    expect(d.at(3)).toBeUndefined();
    expect(d.length).toBe(3);
  });

  it('returns undefined when empty and can be cleared', () => {
    const d = new Deque<string>();
    expect(d.shift()).toBeUndefined();
    expect(d.peek()).toBeUndefined();
    d.push('a');
    d.clear();
    expect(d.length).toBe(0);
    expect(d.shift()).toBeUndefined();
  });

  it('matches an array model under random operations across many growths', () => {
    let seed = 42;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const d = new Deque<number>(4);
    const model: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const r = rnd();
      if (r < 0.4) {
        d.push(i);
        model.push(i);
      } else if (r < 0.6) {
        d.unshift(i);
        model.unshift(i);
      } else {
        expect(d.shift()).toBe(model.shift());
      }
      expect(d.length).toBe(model.length);
    }
    expect([...d]).toEqual(model);
  });

  it('shifts a large queue in linear time', () => {
    const d = new Deque<number>();
    const n = 1_000_000;
    for (let i = 0; i < n; i++) d.push(i);
    const t0 = performance.now();
    let sum = 0;
    for (let i = 0; i < n; i++) sum += d.shift() as number;
    expect(sum).toBe((n * (n - 1)) / 2);
    // An O(n) shift would take minutes here; a ring buffer takes milliseconds.
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
