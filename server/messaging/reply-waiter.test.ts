import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryBroker, type MemoryLink } from './drivers/memory/index.ts';
import { encodeBody, serializeFailure, type Dict } from './envelope.ts';
import { ConnectionLost, ExpectedFailure, MessagingError, MessagingTimeout, RemoteError } from './errors.ts';
import type { CoreEvent } from './events.ts';
import type { ReplyWaiter } from './reply-waiter.ts';
import { Transport } from './transport.ts';

/**
 * ReplyWaiter against the memory broker, with a raw link playing the RPC
 * server that publishes replies. Timers are fake; deliveries (setImmediate)
 * are real.
 */
describe('ReplyWaiter', () => {
  let broker: MemoryBroker;
  let transport: Transport;
  let waiter: ReplyWaiter;
  let server: MemoryLink;
  let events: CoreEvent[];
  let seq: number;

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    broker = new MemoryBroker();
    transport = new Transport('memory://', { memoryBroker: broker });
    events = [];
    transport.events.on((e) => events.push(e));
    waiter = await transport.getReplyWaiter();
    server = broker.connect('server');
    seq = 0;
  });

  afterEach(async () => {
    await transport.close();
    vi.useRealTimers();
  });

  async function settle(): Promise<void> {
    for (let i = 0; i < 4; i++) await new Promise<void>((r) => setImmediate(r));
  }

  async function advance(ms: number): Promise<void> {
    await vi.advanceTimersByTimeAsync(ms);
    await settle();
  }

  /** Publish a reply the way AMQPIncomingMessage._send_reply does; returns its _unique_id. */
  async function reply(msgId: string, fields: Dict, uniqueId = `u${++seq}`): Promise<string> {
    const msg: Dict = { result: null, failure: null, ending: true, ...fields, _msg_id: msgId, _unique_id: uniqueId };
    const { body, headers } = encodeBody(msg);
    await server.publish('', waiter.replyQ, body, { headers, mandatory: true });
    await settle();
    return uniqueId;
  }

  /** wait() with its outcome captured, so a rejection is never unhandled. */
  function track(msgId: string, timeout = 60, callMonitorTimeout: number | null = null) {
    const outcome: { value?: unknown; error?: unknown; done: boolean } = { done: false };
    waiter.wait(msgId, { timeout, callMonitorTimeout, method: 'm' }).then(
      (v) => Object.assign(outcome, { value: v, done: true }),
      (e: unknown) => Object.assign(outcome, { error: e, done: true }),
    );
    return outcome;
  }

  it('listens on its own exclusive reply_<hex> queue: x-expires, no binding, no-ack consumer "1"', () => {
    expect(waiter.replyQ).toMatch(/^reply_[0-9a-f]{32}$/);
    // exclusive, unlike oslo's (topology.replyQueue): RabbitMQ 4.3 denies non-durable non-exclusive queues
    expect(broker.listQueues()).toEqual([
      expect.objectContaining({ name: waiter.replyQ, durable: false, autoDelete: false, exclusive: true, arguments: { 'x-expires': 1_800_000 } }),
    ]);
    expect(broker.listBindings().filter((b) => b.destination === waiter.replyQ && b.source !== '')).toEqual([]);
    expect(broker.listConsumers()).toEqual([expect.objectContaining({ queue: waiter.replyQ, consumerTag: '1', ackRequired: false })]);
  });

  it('names its queue reply_<host>:<proc>:<n> with use_queue_manager, skipping names other processes hold', async () => {
    const b = new MemoryBroker();
    // another osloscope on this host holds n=1 exclusively, a service left a durable n=2
    await b.connect('other').assertQueue('reply_node1:osloscope:1', { durable: false, autoDelete: false, exclusive: true });
    await b.connect('svc').assertQueue('reply_node1:osloscope:2', { durable: true, autoDelete: false, arguments: { 'x-queue-type': 'quorum' } });
    const t = new Transport('memory://', { memoryBroker: b, rabbit: { use_queue_manager: true, hostname: 'node1', processname: 'osloscope' } });
    try {
      const w = await t.getReplyWaiter(0);
      expect(w.replyQ).toBe('reply_node1:osloscope:3');
      expect(b.listQueues().find((q) => q.name === w.replyQ)).toMatchObject({ exclusive: true, durable: false });
    } finally {
      await t.close();
    }
  });

  it('resolves a call with its final result', async () => {
    const call = track('m1');
    expect(waiter.stats().pending).toBe(1);
    await reply('m1', { result: { got: [1, 'é', null] } });
    expect(call).toEqual({ done: true, value: { got: [1, 'é', null] } });
    expect(waiter.stats()).toMatchObject({ pending: 0, replies: 1 });
    expect(events).toContainEqual(expect.objectContaining({ type: 'rpc:reply', msgId: 'm1', ok: true }));
  });

  it('resolves null for a null result', async () => {
    const call = track('m1');
    await reply('m1', {});
    expect(call).toEqual({ done: true, value: null });
  });

  it('rejects with the RemoteError a failure reply carries', async () => {
    const call = track('m1');
    const failure = serializeFailure(new ExpectedFailure('InstanceNotFound', 'nova.exception', 'Instance vm1 could not be found.', { kwargs: { code: 404 } }));
    await reply('m1', { failure });
    expect(call.error).toBeInstanceOf(RemoteError);
    expect(call.error).toMatchObject({ excType: 'InstanceNotFound', module: 'nova.exception', value: 'Instance vm1 could not be found.', kwargs: { code: 404 } });
    expect(events).toContainEqual(expect.objectContaining({ type: 'rpc:reply', msgId: 'm1', ok: false }));
  });

  it('treats a falsy failure ("" or null) as no failure, like `if data["failure"]`', async () => {
    const call = track('m1');
    await reply('m1', { result: 7, failure: '' });
    expect(call).toEqual({ done: true, value: 7 });
  });

  it('accepts the old two-message scheme: result with ending=false, then a bare ending', async () => {
    const call = track('m1');
    await reply('m1', { result: 'payload', ending: false });
    expect(call.done).toBe(false);
    await reply('m1', { result: null, ending: true });
    expect(call).toEqual({ done: true, value: 'payload' });
    expect(waiter.stats().heartbeats).toBe(0);
  });

  it('keeps waiting for a reply without an ending key (ending defaults to False)', async () => {
    const call = track('m1');
    const { body } = encodeBody({ result: 'r', failure: null, _msg_id: 'm1', _unique_id: 'x1' });
    await server.publish('', waiter.replyQ, body, {});
    await settle();
    expect(call.done).toBe(false);
    await reply('m1', { result: null });
    expect(call).toEqual({ done: true, value: 'r' });
  });

  it('times out after the overall timeout with oslo’s text', async () => {
    const call = track('m1', 2);
    await advance(1999);
    expect(call.done).toBe(false);
    await advance(1);
    expect(call.error).toBeInstanceOf(MessagingTimeout);
    expect((call.error as MessagingTimeout).message).toBe('Timed out waiting for a reply to message ID m1');
    expect((call.error as MessagingTimeout).msgId).toBe('m1');
    expect(waiter.stats()).toMatchObject({ pending: 0, timeouts: 1 });
    expect(events).toContainEqual(expect.objectContaining({ type: 'rpc:timeout', msgId: 'm1', method: 'm', elapsedMs: 2000 }));
  });

  it('times out each call at its own deadline when calls of one timeout overlap and settle out of order', async () => {
    const a = track('a', 2);
    await advance(500);
    const b = track('b', 2);
    const c = track('c', 3);
    await advance(500);
    const d = track('d', 2);
    await reply('b', { result: 'rb' });
    await advance(999); // t = 1999: a is due at 2000
    expect(a.done).toBe(false);
    await advance(1);
    expect(a.error).toBeInstanceOf(MessagingTimeout);
    expect(d.done).toBe(false);
    await advance(999); // t = 2999: d is due at 3000, c at 3500
    expect(d.done).toBe(false);
    await advance(1);
    expect(d.error).toBeInstanceOf(MessagingTimeout);
    expect(c.done).toBe(false);
    await advance(500);
    expect(c.error).toBeInstanceOf(MessagingTimeout);
    expect(b).toEqual({ done: true, value: 'rb' });
    expect(waiter.stats()).toMatchObject({ pending: 0, timeouts: 3, replies: 1 });
    // a later call of the same timeout gets its full time
    const e = track('e', 2);
    await advance(1999);
    expect(e.done).toBe(false);
    await advance(1);
    expect(e.error).toBeInstanceOf(MessagingTimeout);
  });

  it('fails a call whose call-monitor timer runs out before any message comes', async () => {
    const call = track('m1', 60, 2);
    await advance(2000);
    expect(call.error).toBeInstanceOf(MessagingTimeout);
  });

  it('renews only the call-monitor timer on heartbeats; the overall timeout still applies', async () => {
    const call = track('m1', 5, 2);
    for (let t = 0; t < 4; t++) {
      await advance(1500);
      await reply('m1', { ending: false }); // heartbeat: result null, failure null, ending false
    }
    // 6 s have passed in 1.5 s steps: without the renewals the 2 s monitor would have fired
    // at 2 s; the 5 s overall timer fired regardless of the heartbeats.
    expect(call.error).toBeInstanceOf(MessagingTimeout);
    expect(waiter.stats().heartbeats).toBe(3);
    expect(waiter.stats().late).toBe(1);
  });

  it('lets heartbeats keep a slow call alive past its call-monitor timeout', async () => {
    const call = track('m1', 60, 2);
    for (let t = 0; t < 5; t++) {
      await advance(1500);
      await reply('m1', { ending: false });
    }
    expect(call.done).toBe(false);
    await reply('m1', { result: 'slow but fine' });
    expect(call).toEqual({ done: true, value: 'slow but fine' });
    expect(waiter.stats().heartbeats).toBe(5);
  });

  it('does not count a result with ending=false as a heartbeat (no renewal)', async () => {
    const call = track('m1', 60, 2);
    await advance(1500);
    await reply('m1', { result: 'partial', ending: false });
    await advance(500);
    expect(call.error).toBeInstanceOf(MessagingTimeout);
  });

  it('ignores heartbeats for a call made without a call monitor', async () => {
    const call = track('m1', 3);
    await advance(1000);
    await reply('m1', { ending: false });
    expect(call.done).toBe(false);
    expect(waiter.stats().heartbeats).toBe(1);
    await advance(2000);
    expect(call.error).toBeInstanceOf(MessagingTimeout);
  });

  it('counts a reply after the timeout as late and drops it', async () => {
    const call = track('m1', 1);
    await advance(1000);
    expect(call.error).toBeInstanceOf(MessagingTimeout);
    await reply('m1', { result: 'too late' });
    expect(waiter.stats()).toMatchObject({ late: 1, replies: 0, unknown: 0 });
    expect(events).toContainEqual({ type: 'reply:late', msgId: 'm1' });
  });

  it('counts a reply for a msg_id it never waited for as unknown', async () => {
    await reply('never-sent', { result: 1 });
    expect(waiter.stats()).toMatchObject({ unknown: 1, late: 0 });
  });

  it('drops a reply repeating a _unique_id it has seen', async () => {
    const first = track('m1', 60, 2);
    const second = track('m2');
    await reply('m1', { ending: false }, 'same');
    await reply('m2', { result: 'for m2' }, 'same');
    expect(second.done).toBe(false);
    expect(waiter.stats()).toMatchObject({ duplicates: 1, heartbeats: 1 });
    expect(events).toContainEqual({ type: 'reply:duplicate', msgId: 'm2' });
    await reply('m2', { result: 'for m2' }, 'fresh');
    expect(second).toEqual({ done: true, value: 'for m2' });
    expect(first.done).toBe(false);
  });

  it('cancel() rejects with the given error, and a later reply counts as late', async () => {
    const call = track('m1');
    const err = new MessagingError('publish failed');
    waiter.cancel('m1', err);
    await settle();
    expect(call.error).toBe(err);
    expect(waiter.stats().pending).toBe(0);
    await reply('m1', { result: 1 });
    expect(waiter.stats().late).toBe(1);
    waiter.cancel('m1', err); // no-op
  });

  it('drops malformed replies without disturbing pending calls', async () => {
    const call = track('m1');
    await server.publish('', waiter.replyQ, Buffer.from('{not json'), {});
    await settle();
    expect(waiter.stats().malformed).toBe(1);
    expect(events).toContainEqual(expect.objectContaining({ type: 'message:malformed', where: waiter.replyQ }));
    await reply('m1', { result: 'ok' });
    expect(call).toEqual({ done: true, value: 'ok' });
  });

  it('fails every pending call with ConnectionLost when its connection drops', async () => {
    const a = track('a');
    const b = track('b');
    broker.disconnectAll((name) => name !== 'server');
    await settle();
    expect(a.error).toBeInstanceOf(ConnectionLost);
    expect(b.error).toBeInstanceOf(ConnectionLost);
    expect((a.error as Error).message).toContain(waiter.replyQ);
    expect(waiter.stats()).toMatchObject({ pending: 0, connectionLosses: 1 });
    // the link comes back by itself and new calls work
    await advance(0);
    const c = track('c');
    await reply('c', { result: 'back' });
    expect(c).toEqual({ done: true, value: 'back' });
  });

  it('rejects pending and new calls once stopped', async () => {
    const call = track('m1');
    await waiter.stop();
    await settle();
    expect(call.error).toMatchObject({ message: 'Transport closed while waiting for a reply' });
    await expect(waiter.wait('m2', { timeout: 1 })).rejects.toThrow('Reply waiter is stopped');
  });

  it('lists pending calls with their age', async () => {
    track('m1');
    await advance(250);
    track('m2');
    expect(waiter.pendingCalls()).toEqual([
      { msgId: 'm1', method: 'm', ageMs: 250 },
      { msgId: 'm2', method: 'm', ageMs: 0 },
    ]);
  });
});
