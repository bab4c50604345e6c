import { describe, expect, it } from 'vitest';
import { Interner } from './intern.ts';

describe('Interner', () => {
  it('hands back the first copy of equal strings', () => {
    const t = new Interner<string>();
    const a = ['comp', 'ute'].join('');
    const b = ['com', 'pute'].join('');
    expect(t.string(a)).toBe(a);
    expect(t.string(b)).toBe(a);
    expect(t.string(null)).toBeNull();
    expect(t.size).toBe(1);
  });

  it('stays within its entries under a flood of distinct values and starts over, counted', () => {
    const t = new Interner<string>(100, 256);
    for (let i = 0; i < 10_000; i++) t.string(`topic-${i}`);
    expect(t.size).toBeLessThanOrEqual(100);
    expect(t.resets).toBe(99);
  });

  it('keeps no string longer than its bound', () => {
    const t = new Interner<string>(100, 16);
    const long = 'x'.repeat(17);
    expect(t.string(long)).toBe(long);
    expect(t.size).toBe(0);
  });

  it('shares values made on a miss', () => {
    const t = new Interner<{ k: string }>();
    let made = 0;
    const one = t.value('k', () => ({ k: String(++made) }));
    expect(t.value('k', () => ({ k: String(++made) }))).toBe(one);
    expect(made).toBe(1);
  });
});
