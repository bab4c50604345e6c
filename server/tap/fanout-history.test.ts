import { describe, expect, it } from 'vitest';
import { fanoutHistorySchema } from '../../lib/tap-contracts.ts';
import { encodeBody, type Delivery } from '../messaging/index.ts';
import { FanoutHistoryError, maxAgeMs, readFanoutHistory, streamOffsetArgument, type StreamLink, type StreamQueueInfo } from './fanout-history.ts';

const NOW = Date.now();
const MIN = 60_000;

interface Stored {
  offset: number;
  ts: number;
  body: Buffer;
}

/**
 * A stream as RabbitMQ serves it to an AMQP 0-9-1 consumer: `x-stream-offset`
 * picks the start (first, last = the last chunk, an offset, a timestamp in
 * seconds, an interval), each delivery carries its offset, nothing is removed.
 * Chunks of `chunk` messages.
 */
class FakeStream implements StreamLink {
  readonly acks: number[] = [];
  readonly cancelled: string[] = [];
  readonly consumers: { queue: string; offsetArg: unknown; noAck: boolean | undefined }[] = [];
  prefetched: number | null = null;
  closed = false;
  /** called when a consumer starts: lets a test append messages mid-read */
  onConsume: (() => void) | null = null;
  /** time between deliveries */
  delayMs = 1;
  private tag = 0;

  constructor(
    readonly messages: Stored[],
    private readonly chunk = 1,
  ) {}

  async prefetch(count: number): Promise<void> {
    this.prefetched = count;
  }

  private startOffset(arg: unknown): number {
    const n = this.messages.length;
    if (arg === 'first') return 0;
    if (arg === 'last') return n === 0 ? 0 : Math.floor((n - 1) / this.chunk) * this.chunk;
    if (typeof arg === 'string') {
      const m = /^(\d+)([smh])$/.exec(arg) as RegExpExecArray;
      const ms = Number(m[1]) * { s: 1000, m: MIN, h: 60 * MIN }[m[2] as 's' | 'm' | 'h'];
      return this.firstAtOrAfter(Date.now() - ms);
    }
    const t = arg as { '!': string; value: number };
    if (t['!'] === 'long') return t.value;
    return this.firstAtOrAfter(t.value * 1000);
  }

  private firstAtOrAfter(ms: number): number {
    const i = this.messages.findIndex((m) => m.ts >= ms);
    if (i < 0) return this.messages.length;
    return Math.floor(i / this.chunk) * this.chunk;
  }

  async consume(queue: string, handler: (d: Delivery) => void, options: { noAck?: boolean; arguments?: Record<string, unknown> } = {}): Promise<string> {
    const offsetArg = options.arguments?.['x-stream-offset'];
    this.consumers.push({ queue, offsetArg, noAck: options.noAck });
    const tag = `ctag-${++this.tag}`;
    const from = this.startOffset(offsetArg);
    this.onConsume?.();
    let next = from;
    let deliveryTag = 0;
    const pump = () => {
      if (this.cancelled.includes(tag) || this.closed) return;
      if (next < this.messages.length) {
        const m = this.messages[next++];
        handler({ body: m.body, exchange: 'compute_fanout', routingKey: '', redelivered: false, deliveryTag: ++deliveryTag, consumerTag: tag, properties: { headers: { 'x-stream-offset': m.offset }, contentType: 'application/json' } });
      }
      setTimeout(pump, this.delayMs);
    };
    setTimeout(pump, this.delayMs);
    return tag;
  }

  async cancel(tag: string): Promise<void> {
    this.cancelled.push(tag);
  }

  ack(d: Delivery): void {
    this.acks.push(d.deliveryTag);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

function broadcasts(times: number[], secret = 'gAAAAAB-token'): Stored[] {
  return times.map((ts, i) => ({
    offset: i,
    ts,
    body: encodeBody({ method: 'refresh', args: { n: i }, _unique_id: `u${i}`, _context_auth_token: secret, _context_request_id: `req-${i}` }).body,
  }));
}

const STREAM: StreamQueueInfo = { exists: true, type: 'stream', maxAge: '1800s', messages: null };
const FAST = { idleMs: 40, firstDeliveryMs: 150 };

function deps(link: FakeStream, info: StreamQueueInfo | null = STREAM) {
  let opened = 0;
  return {
    get opened() {
      return opened;
    },
    describeQueue: async () => info,
    openLink: async () => {
      opened++;
      return link;
    },
  };
}

describe('readFanoutHistory', () => {
  it('reads the window asked for, in order, decoded and redacted, acking every delivery and cancelling every consumer', async () => {
    const times = [NOW - 50 * MIN, NOW - 40 * MIN, NOW - 20 * MIN, NOW - 10 * MIN, NOW - 1 * MIN];
    const link = new FakeStream(broadcasts(times));
    const h = await readFanoutHistory({ topic: 'compute', since: '30m', ...FAST }, deps(link));
    fanoutHistorySchema.parse(h);
    expect(h).toMatchObject({ topic: 'compute', queue: 'compute_fanout', since: '30m', stoppedBy: 'tail', read: 3, firstOffset: 2, lastOffset: 4, retention: '1800s', note: null });
    expect(h.entries.map((e) => e.message.args)).toEqual([{ n: 2 }, { n: 3 }, { n: 4 }]);
    for (const e of h.entries) {
      expect(e.message).toMatchObject({ kind: 'fanout', topic: 'compute', method: 'refresh' });
      expect(e.message.context.auth_token).toBe('***');
      // publish times: a grid of timestamp probes, then halving, down to a couple of seconds
      const real = times[e.offset as number];
      expect(e.before).not.toBeNull();
      expect(e.before as number).toBeGreaterThanOrEqual(real - 1000);
      expect(e.after as number).toBeLessThanOrEqual(real);
      expect((e.before as number) - (e.after as number)).toBeLessThanOrEqual(3000);
      expect(e.message.ts).toBe(Math.round(((e.after as number) + (e.before as number)) / 2));
    }
    // the tail probe, the read, the time probes: all on the stream, all with acks, all cancelled
    expect(link.prefetched).toBeGreaterThan(0);
    expect(link.consumers.every((c) => c.queue === 'compute_fanout' && c.noAck === false)).toBe(true);
    expect(link.consumers.map((c) => c.offsetArg).slice(0, 2)).toEqual(['last', '30m']);
    expect(link.cancelled).toHaveLength(link.consumers.length);
    expect(link.acks.length).toBeGreaterThan(0);
    expect(link.closed).toBe(true);
  });

  it('stops at the tail it saw at the start, even while broadcasts keep coming', async () => {
    const link = new FakeStream(broadcasts([NOW - 5 * MIN, NOW - 4 * MIN]));
    let consumers = 0;
    link.onConsume = () => {
      if (++consumers === 2) for (let i = 0; i < 50; i++) link.messages.push({ ...broadcasts([NOW])[0], offset: link.messages.length });
    };
    const h = await readFanoutHistory({ topic: 'compute', since: 'first', timeProbes: 0, ...FAST }, deps(link));
    expect(h.entries.map((e) => e.offset)).toEqual([0, 1]);
    expect(h.stoppedBy).toBe('tail');
  });

  it('is bounded: count, bytes and wall time, saying which bound stopped it', async () => {
    const many = broadcasts(Array.from({ length: 40 }, (_, i) => NOW - (40 - i) * 1000));
    const byLimit = await readFanoutHistory({ topic: 'compute', since: 'first', limit: 5, timeProbes: 0, ...FAST }, deps(new FakeStream(many)));
    expect(byLimit).toMatchObject({ read: 5, stoppedBy: 'limit' });
    expect(byLimit.note).toMatch(/Stopped by the limit bound/);
    const byBytes = await readFanoutHistory({ topic: 'compute', since: 'first', maxBytes: many[0].body.length * 3, timeProbes: 0, ...FAST }, deps(new FakeStream(many)));
    expect(byBytes).toMatchObject({ read: 3, stoppedBy: 'bytes' });
    const slow = new FakeStream(many);
    slow.delayMs = 30;
    const t1 = Date.now();
    const byTime = await readFanoutHistory({ topic: 'compute', since: 'first', maxTimeMs: 400, idleMs: 1000, firstDeliveryMs: 1000, timeProbes: 0 }, deps(slow));
    expect(byTime.stoppedBy).toBe('time');
    expect(byTime.read).toBeLessThan(40);
    expect(Date.now() - t1).toBeLessThan(1500);
    // a consumer that never gets anything is given up after firstDeliveryMs
    const t0 = Date.now();
    const empty = await readFanoutHistory({ topic: 'compute', since: '30m', ...FAST }, deps(new FakeStream([])));
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(empty).toMatchObject({ read: 0, entries: [], stoppedBy: 'tail', firstOffset: null });
    expect(empty.note).toMatch(/is empty/);
  });

  it('starts at an offset or a time, and filters after decoding', async () => {
    const times = [NOW - 9 * MIN, NOW - 8 * MIN, NOW - 7 * MIN, NOW - 6 * MIN];
    const fromOffset = await readFanoutHistory({ topic: 'compute', since: '2', timeProbes: 0, ...FAST }, deps(new FakeStream(broadcasts(times))));
    expect(fromOffset.entries.map((e) => e.offset)).toEqual([2, 3]);
    const at = new Date(NOW - 7.5 * MIN).toISOString();
    const fromTime = await readFanoutHistory({ topic: 'compute', since: at, timeProbes: 0, ...FAST }, deps(new FakeStream(broadcasts(times))));
    expect(fromTime.entries.map((e) => e.offset)).toEqual([2, 3]);
    const filtered = await readFanoutHistory({ topic: 'compute', since: 'first', timeProbes: 0, filter: (m) => m.requestId === 'req-1', ...FAST }, deps(new FakeStream(broadcasts(times))));
    expect(filtered.entries.map((e) => e.offset)).toEqual([1]);
    expect(filtered.read).toBe(4);
  });

  it('refuses, before connecting, a bad start, a missing stream, a queue that is not a stream, and an unknown type', async () => {
    const link = new FakeStream([]);
    const d = deps(link);
    await expect(readFanoutHistory({ topic: 'compute', since: 'yesterday' }, d)).rejects.toMatchObject({ status: 400, code: 'validation_failed' });
    await expect(readFanoutHistory({ topic: 'bad topic' }, d)).rejects.toMatchObject({ status: 400 });
    await expect(readFanoutHistory({ topic: 'compute' }, deps(link, { exists: false, type: null, maxAge: null, messages: null }))).rejects.toMatchObject({
      status: 404,
      code: 'no_stream',
      message: expect.stringMatching(/no queue named compute_fanout/),
    });
    const classic = deps(link, { exists: true, type: 'quorum', maxAge: null, messages: 3 });
    const err = await readFanoutHistory({ topic: 'compute' }, classic).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FanoutHistoryError);
    expect(err).toMatchObject({ status: 409, code: 'not_a_stream', message: expect.stringMatching(/quorum queue, not a stream: reading it would take broadcasts/) });
    await expect(readFanoutHistory({ topic: 'compute' }, deps(link, null))).rejects.toMatchObject({ status: 501, message: expect.stringMatching(/management API/) });
    expect(d.opened + classic.opened).toBe(0);
    expect(link.consumers).toEqual([]);
  });

  it('a broker failure mid-read is a 502 and the link is still closed', async () => {
    const link = new FakeStream(broadcasts([NOW]));
    link.consume = async () => {
      throw new Error('NOT_FOUND - no queue');
    };
    await expect(readFanoutHistory({ topic: 'compute' }, deps(link))).rejects.toMatchObject({ status: 502, code: 'broker_error', message: expect.stringMatching(/NOT_FOUND/) });
    expect(link.closed).toBe(true);
  });
});

describe('stream offsets and ages', () => {
  it('x-stream-offset arguments in the AMQP types RabbitMQ reads', () => {
    expect(streamOffsetArgument({ kind: 'first' })).toBe('first');
    expect(streamOffsetArgument({ kind: 'offset', offset: 12 })).toEqual({ '!': 'long', value: 12 });
    expect(streamOffsetArgument({ kind: 'timestamp', ms: 1_764_487_200_999 })).toEqual({ '!': 'timestamp', value: 1_764_487_200 });
    expect(streamOffsetArgument({ kind: 'interval', text: '30m', ms: 1_800_000 })).toBe('30m');
  });

  it('x-max-age texts', () => {
    expect(maxAgeMs('1800s')).toBe(1_800_000);
    expect(maxAgeMs('7D')).toBe(7 * 86_400_000);
    expect(maxAgeMs('soon')).toBeNull();
    expect(maxAgeMs(null)).toBeNull();
  });
});
