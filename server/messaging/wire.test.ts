import { describe, expect, it } from 'vitest';
import { uuidHex } from './wire.ts';

describe('uuidHex', () => {
  it('gives uuid4 hex like Python uuid.uuid4().hex, distinct across pool refills', () => {
    const seen = new Set<string>();
    // 256 ids per pooled block: 5000 cross the refill many times
    for (let i = 0; i < 5000; i++) {
      const id = uuidHex();
      expect(id).toMatch(/^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(5000);
  });
});
