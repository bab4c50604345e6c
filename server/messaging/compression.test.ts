import { execFileSync } from 'node:child_process';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { bunzip2Sync, decompressAsync, decompressSync, MessageTooLarge } from './compression.ts';
import { encodeBody, type Dict } from './envelope.ts';
import type { Delivery } from './driver.ts';
import { MalformedMessage } from './errors.ts';
import { OrderedDecoder } from './ordered-decoder.ts';

const GZIP = { compression: 'application/x-gzip' };
const BZ2 = { compression: 'application/x-bz2' };

/** bz2 made by Python's bz2 module, which kombu's bz2 compressor calls. */
function pyBz2(data: string): Buffer {
  return execFileSync('/usr/bin/python3', ['-c', 'import sys, bz2; sys.stdout.buffer.write(bz2.compress(sys.stdin.buffer.read()))'], { input: data });
}

function delivery(body: Buffer, headers: Dict): Delivery {
  return { body, properties: { headers }, exchange: 'x', routingKey: 'k', redelivered: false, deliveryTag: 1 } as unknown as Delivery;
}

describe('capped decompression', () => {
  const plain = Buffer.from('{"a": "' + 'x'.repeat(1000) + '"}');

  it('round-trips gzip (zlib) and bz2 bodies, sync and async', async () => {
    const z = deflateSync(plain);
    const b = pyBz2(plain.toString());
    expect(decompressSync(z, GZIP).equals(plain)).toBe(true);
    expect((await decompressAsync(z, GZIP)).equals(plain)).toBe(true);
    expect(bunzip2Sync(b).equals(plain)).toBe(true);
    expect((await decompressAsync(b, BZ2)).equals(plain)).toBe(true);
  });

  it('refuses output beyond the cap with MessageTooLarge, for both codecs and both forms', async () => {
    const big = Buffer.alloc(4096, 0x41);
    const z = deflateSync(big);
    const b = pyBz2(big.toString());
    expect(() => decompressSync(z, GZIP, 1000)).toThrow(MessageTooLarge);
    expect(() => decompressSync(b, BZ2, 1000)).toThrow(MessageTooLarge);
    await expect(decompressAsync(z, GZIP, 1000)).rejects.toThrow(/inflates beyond 1000 bytes/);
    await expect(decompressAsync(b, BZ2, 1000)).rejects.toBeInstanceOf(MessageTooLarge);
    // exactly at the cap is fine
    expect((await decompressAsync(z, GZIP, 4096)).length).toBe(4096);
    expect((await decompressAsync(b, BZ2, 4096)).length).toBe(4096);
  });

  it('bad data is a MalformedMessage, not a crash, and the bz2 worker keeps serving after it', async () => {
    await expect(decompressAsync(Buffer.from('not zlib'), GZIP)).rejects.toBeInstanceOf(MalformedMessage);
    await expect(decompressAsync(Buffer.from('BZh9 not bz2 at all'), BZ2)).rejects.toThrow(/Cannot decompress application\/x-bz2 body/);
    await expect(decompressAsync(Buffer.from('x'), { compression: 'application/x-lz4' })).rejects.toThrow('Unsupported compression application/x-lz4');
    expect((await decompressAsync(pyBz2('{}'), BZ2)).toString()).toBe('{}');
  });

  it('a bz2 bomb is decoded off the event loop: timers keep firing', async () => {
    const bomb = execFileSync('/usr/bin/python3', ['-c', "import sys, bz2; sys.stdout.buffer.write(bz2.compress(b'A' * (64 * 1024 * 1024)))"]);
    let last = performance.now();
    let maxGap = 0;
    const t = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 5);
    await expect(decompressAsync(bomb, BZ2)).rejects.toBeInstanceOf(MessageTooLarge);
    clearInterval(t);
    expect(maxGap).toBeLessThan(100);
  });
});

describe('OrderedDecoder', () => {
  it('hands messages on in delivery order even when a compressed one takes longer', async () => {
    const dec = new OrderedDecoder(1 << 20);
    const got: unknown[] = [];
    const bz = encodeBody({ n: 1 });
    const one = delivery(pyBz2(bz.body.toString('latin1')), BZ2);
    const two = delivery(encodeBody({ n: 2 }).body, {});
    const bomb = delivery(deflateSync(Buffer.alloc(2 << 20)), GZIP);
    const three = delivery(encodeBody({ n: 3 }).body, {});
    for (const d of [one, two, bomb, three]) dec.push(d, (m) => got.push(m.n), (err) => got.push((err as Error).name));
    expect(got).toEqual([]);
    expect(dec.backlog).toBe(4);
    await expect.poll(() => got.length).toBe(4);
    expect(got).toEqual([1, 2, 'MessageTooLarge', 3]);
    // with nothing waiting, a plain body is handed on at once
    dec.push(delivery(encodeBody({ n: 4 }).body, {}), (m) => got.push(m.n), () => undefined);
    expect(got.at(-1)).toBe(4);
  });
});
