import { describe, expect, it } from 'vitest';
import type { Delivery } from '../../driver.ts';
import { ConnectionLost, MessagingError } from '../../errors.ts';
import { bodies, closed, collect, connect, newBroker, settle, transient } from './test-helpers.ts';

describe('consuming', () => {
  it('dispatches asynchronously, never inside publish()', async () => {
    const broker = newBroker();
    const l = connect(broker);
    await l.assertQueue('q', transient);
    let inPublish = false;
    const seenDuringPublish: boolean[] = [];
    await l.consume('q', (d) => {
      seenDuringPublish.push(inPublish);
      l.ack(d);
    });
    inPublish = true;
    const p = l.publish('', 'q', Buffer.from('x'), {});
    inPublish = false;
    await p;
    expect(seenDuringPublish).toEqual([]);
    await settle();
    expect(seenDuringPublish).toEqual([false]);
  });

  it('shares a queue round-robin between competing consumers', async () => {
    const broker = newBroker();
    const a = connect(broker, 'a');
    const b = connect(broker, 'b');
    await a.assertQueue('compute', transient);
    const ca = await collect(a, 'compute');
    const cb = await collect(b, 'compute');
    const cb2 = await collect(b, 'compute');
    for (let i = 0; i < 9; i++) await a.publish('', 'compute', Buffer.from(String(i)), {});
    await settle();
    expect(bodies(ca.got)).toEqual(['0', '3', '6']);
    expect(bodies(cb.got)).toEqual(['1', '4', '7']);
    expect(bodies(cb2.got)).toEqual(['2', '5', '8']);
  });

  it('keeps per-consumer order over many messages', async () => {
    const broker = newBroker();
    const l = connect(broker);
    await l.assertQueue('q', transient);
    await l.prefetch(7);
    const { got } = await collect(l, 'q');
    for (let i = 0; i < 2000; i++) await l.publish('', 'q', Buffer.from(String(i)), {});
    while (got.length < 2000) await settle(1);
    expect(bodies(got)).toEqual(Array.from({ length: 2000 }, (_, i) => String(i)));
    expect(got.map((d) => d.deliveryTag)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
  });

  it('limits unacked deliveries with prefetch, per consumer as RabbitMQ applies basic.qos(global=false)', async () => {
    const broker = newBroker();
    const l = connect(broker);
    await l.assertQueue('q1', transient);
    await l.assertQueue('q2', transient);
    await l.prefetch(2);
    const c1 = await collect(l, 'q1', { ack: false });
    const c2 = await collect(l, 'q2', { ack: false });
    for (let i = 0; i < 5; i++) {
      await l.publish('', 'q1', Buffer.from(`a${i}`), {});
      await l.publish('', 'q2', Buffer.from(`b${i}`), {});
    }
    await settle();
    expect(bodies(c1.got)).toEqual(['a0', 'a1']);
    expect(bodies(c2.got)).toEqual(['b0', 'b1']);
    expect(broker.listQueues().map((q) => [q.messagesReady, q.messagesUnacknowledged])).toEqual([
      [3, 2],
      [3, 2],
    ]);
    l.ack(c1.got[0]);
    await settle();
    expect(bodies(c1.got)).toEqual(['a0', 'a1', 'a2']);
    expect(c2.got).toHaveLength(2);
  });

  it('prefetch 0 means unlimited', async () => {
    const broker = newBroker();
    const l = connect(broker);
    await l.assertQueue('q', transient);
    await l.prefetch(0);
    const { got } = await collect(l, 'q', { ack: false });
    for (let i = 0; i < 50; i++) await l.publish('', 'q', Buffer.from('x'), {});
    await settle();
    expect(got).toHaveLength(50);
    expect(broker.listQueues()[0].messagesUnacknowledged).toBe(50);
  });

  it('noAck consumers are not limited or tracked, and acking their deliveries is a 406', async () => {
    const broker = newBroker();
    const l = connect(broker);
    await l.assertQueue('q', transient);
    await l.prefetch(1);
    const { got } = await collect(l, 'q', { noAck: true });
    for (let i = 0; i < 5; i++) await l.publish('', 'q', Buffer.from('x'), {});
    await settle();
    expect(got).toHaveLength(5);
    expect(broker.listQueues()[0]).toMatchObject({ messages: 0, messagesUnacknowledged: 0 });
    const onClose = closed(l);
    l.ack(got[0]);
    const err = await onClose;
    expect(err).toBeInstanceOf(MessagingError);
    expect(err).toMatchObject({ code: 406, message: `PRECONDITION_FAILED - unknown delivery tag ${got[0].deliveryTag}` });
  });

  it('requeues rejected messages at the head marked redelivered; reject without requeue drops', async () => {
    const broker = newBroker();
    const l = connect(broker);
    await l.assertQueue('q', transient);
    await l.prefetch(1);
    const seen: Delivery[] = [];
    let rejectedOnce = false;
    await l.consume('q', (d) => {
      seen.push(d);
      if (d.body.toString() === 'a' && !rejectedOnce) {
        rejectedOnce = true;
        l.reject(d, true);
      } else if (d.body.toString() === 'b') l.reject(d, false);
      else l.ack(d);
    });
    for (const m of ['a', 'b', 'c']) await l.publish('', 'q', Buffer.from(m), {});
    await settle(5);
    expect(seen.map((d) => `${d.body}:${d.redelivered}`)).toEqual(['a:false', 'a:true', 'b:false', 'c:false']);
    expect(broker.listQueues()[0].messages).toBe(0);
  });

  it('requeues a closed link’s unacked messages, in order and redelivered, to the other consumers', async () => {
    for (const end of ['close', 'kill'] as const) {
      const broker = newBroker();
      const a = connect(broker, 'a');
      await a.assertQueue('q', transient);
      await a.prefetch(3);
      const ca = await collect(a, 'q', { ack: false });
      for (let i = 0; i < 5; i++) await a.publish('', 'q', Buffer.from(String(i)), {});
      await settle();
      expect(bodies(ca.got)).toEqual(['0', '1', '2']);
      a.ack(ca.got[1]);
      await settle();
      expect(bodies(ca.got)).toEqual(['0', '1', '2', '3']);
      if (end === 'close') await a.close();
      else a.kill(new Error('socket gone'));
      expect(broker.listQueues()[0]).toMatchObject({ messagesReady: 4, messagesUnacknowledged: 0 });
      const b = connect(broker, 'b');
      const cb = await collect(b, 'q');
      await settle();
      expect(cb.got.map((d) => `${d.body}:${d.redelivered}`)).toEqual(['0:true', '2:true', '3:true', '4:false']);
    }
  });

  it('hands nothing to a consumer after cancel and returns its unseen deliveries to the queue', async () => {
    const broker = newBroker();
    const l = connect(broker);
    await l.assertQueue('q', transient);
    const { tag, got } = await collect(l, 'q', { ack: false });
    await l.publish('', 'q', Buffer.from('1'), {});
    await settle();
    await l.publish('', 'q', Buffer.from('2'), {}); // assigned, handler not yet run
    await l.cancel(tag);
    await l.cancel('unknown-tag'); // cancel-ok, like RabbitMQ
    await settle();
    expect(bodies(got)).toEqual(['1']);
    expect(broker.listQueues()[0]).toMatchObject({ messagesReady: 1, messagesUnacknowledged: 1, consumers: 0 });
    l.ack(got[0]); // still ackable after cancel
    expect(l.isOpen).toBe(true);
    expect(broker.listQueues()[0].messagesUnacknowledged).toBe(0);
  });

  it('refuses a consumer tag reused on the link with 530, killing it', async () => {
    const broker = newBroker();
    const l = connect(broker);
    await l.assertQueue('q', transient);
    await l.consume('q', () => {}, { consumerTag: '1' });
    const err = await l.consume('q', () => {}, { consumerTag: '1' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 530, message: "NOT_ALLOWED - attempt to reuse consumer tag '1'" });
    expect(l.isOpen).toBe(false);
    // the same tag on another link is fine (oslo uses "1", "2"... per connection)
    const other = connect(broker);
    await expect(other.consume('q', () => {}, { consumerTag: '1' })).resolves.toBe('1');
  });

  it('enforces exclusive consumers with 403', async () => {
    const broker = newBroker();
    const a = connect(broker);
    await a.assertQueue('q', transient);
    await a.consume('q', () => {}, { exclusive: true });
    const b = connect(broker);
    await expect(b.consume('q', () => {})).rejects.toMatchObject({
      code: 403,
      message: "ACCESS_REFUSED - queue 'q' in vhost '/' in exclusive use",
    });
  });

  it('moves tens of thousands of messages per second through one queue', async () => {
    const broker = newBroker();
    const producer = connect(broker, 'producer');
    const consumer = connect(broker, 'consumer');
    await producer.assertQueue('perf', transient);
    await consumer.prefetch(100);
    const n = 50_000;
    let count = 0;
    const done = new Promise<void>((resolve) => {
      void consumer.consume('perf', (d) => {
        consumer.ack(d);
        if (++count === n) resolve();
      });
    });
    const body = Buffer.from('{"oslo.version": "2.0", "oslo.message": "{}"}');
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await producer.publish('', 'perf', body, { expiration: '60000', headers: {} });
    await done;
    const rate = n / ((performance.now() - t0) / 1000);
    expect(count).toBe(n);
    expect(rate).toBeGreaterThan(20_000);
  });
});

describe('broker controls', () => {
  it('stop() kills every link with ConnectionLost 320 and refuses connections until start()', async () => {
    const broker = newBroker();
    const a = connect(broker, 'a');
    const b = connect(broker, 'b');
    await a.assertQueue('durable-ish', transient);
    await a.assertQueue('', { durable: false, autoDelete: false, exclusive: true });
    await a.assertQueue('ad', { durable: false, autoDelete: true });
    await b.consume('ad', () => {});
    const closes = [closed(a), closed(b)];
    broker.stop();
    const [ea, eb] = await Promise.all(closes);
    for (const e of [ea, eb]) {
      expect(e).toBeInstanceOf(ConnectionLost);
      expect(e).toMatchObject({ code: 320, message: "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'" });
    }
    expect(broker.isRunning).toBe(false);
    expect(() => broker.connect('c')).toThrow(/stopped/);
    await expect(a.checkQueue('durable-ish')).rejects.toMatchObject({ name: 'ConnectionLost', code: 320 });
    // exclusive and auto-delete queues went with their links; the rest survive
    expect(broker.listQueues().map((q) => q.name)).toEqual(['durable-ish']);
    broker.start();
    const c = connect(broker, 'c');
    await expect(c.checkQueue('durable-ish')).resolves.toMatchObject({ queue: 'durable-ish' });
  });

  it('disconnectAll() kills links but keeps the broker running', async () => {
    const broker = newBroker();
    const a = connect(broker);
    const onClose = closed(a);
    expect(broker.disconnectAll()).toBe(1);
    expect(await onClose).toMatchObject({ code: 320, message: 'CONNECTION_FORCED - Closed via management plugin' });
    expect(broker.isRunning).toBe(true);
    expect(connect(broker).isOpen).toBe(true);
  });

  it('disconnectAll(filter) kills only the links whose connection name matches', async () => {
    const broker = newBroker();
    const nova = connect(broker, 'nova-compute:1:a');
    const tap = connect(broker, 'osloscope:2:b');
    expect(broker.disconnectAll((name) => name.startsWith('nova-'), 'test kill')).toBe(1);
    expect(await closed(nova)).toMatchObject({ code: 320, message: 'CONNECTION_FORCED - test kill' });
    expect(tap.isOpen).toBe(true);
    expect(broker.listConnections().map((c) => c.name)).toEqual(['osloscope:2:b']);
  });

  it('calls close listeners once, even ones added after the end', async () => {
    const broker = newBroker();
    const a = connect(broker);
    const calls: (Error | undefined)[] = [];
    a.onClose((e) => calls.push(e));
    broker.disconnectAll();
    broker.disconnectAll();
    await a.close();
    await settle();
    expect(calls).toHaveLength(1);
    const late = await closed(a);
    expect(late).toBe(calls[0]);
  });
});

describe('stream queues (rabbit_stream_fanout), as RabbitMQ 4.3.6 answered the same steps', () => {
  const streamArgs = { durable: true, autoDelete: false, arguments: { 'x-queue-type': 'stream', 'x-max-age': '1800s' } };

  async function streamWith(n: number) {
    const broker = newBroker();
    const pub = connect(broker, 'pub');
    await pub.assertExchange('t_fanout', 'fanout', { durable: true, autoDelete: true });
    await pub.assertQueue('t_fanout', streamArgs);
    await pub.bindQueue('t_fanout', 't_fanout', 't');
    for (let i = 0; i < n; i++) await pub.publish('t_fanout', 't', Buffer.from(`m${i}`), {});
    return { broker, pub };
  }

  async function reader(broker: ReturnType<typeof newBroker>, offset: unknown, prefetch = 10) {
    const l = connect(broker, `reader-${String(offset)}`);
    await l.prefetch(prefetch);
    const got: Delivery[] = [];
    await l.consume('t_fanout', (d) => {
      got.push(d);
      l.ack(d);
    }, { arguments: { 'x-stream-offset': offset } });
    return { l, got };
  }

  it('gives every consumer its own copy from its offset, with the x-stream-offset header, and keeps the log', async () => {
    const { broker, pub } = await streamWith(3);
    const first = await reader(broker, 'first');
    const last = await reader(broker, 'last');
    const next = await reader(broker, 'next');
    const at1 = await reader(broker, 1);
    await settle();
    expect(bodies(first.got)).toEqual(['m0', 'm1', 'm2']);
    expect(first.got.map((d) => d.properties.headers?.['x-stream-offset'])).toEqual([0, 1, 2]);
    // RabbitMQ keeps the exchange and routing key of the publish on stream deliveries
    expect(first.got[0]).toMatchObject({ exchange: 't_fanout', routingKey: 't' });
    expect(bodies(last.got)).toEqual(['m2']);
    expect(bodies(next.got)).toEqual([]);
    expect(bodies(at1.got)).toEqual(['m1', 'm2']);
    await pub.publish('t_fanout', 't', Buffer.from('m3'), {});
    await settle();
    for (const r of [first, last, next, at1]) expect(bodies(r.got).at(-1)).toBe('m3');
    expect(broker.listQueues()[0]).toMatchObject({ name: 't_fanout', messages: 4 });
  });

  it('holds deliveries to the consumer prefetch until acked', async () => {
    const { broker, pub } = await streamWith(5);
    const l = connect(broker, 'slow');
    await l.prefetch(2);
    const got: Delivery[] = [];
    await l.consume('t_fanout', (d) => got.push(d), { arguments: { 'x-stream-offset': 'first' } });
    await settle();
    expect(bodies(got)).toEqual(['m0', 'm1']);
    l.ack(got[0]);
    await settle();
    expect(bodies(got)).toEqual(['m0', 'm1', 'm2']);
    expect(pub.isOpen).toBe(true);
  });

  it('refuses a consumer without prefetch (406) and an auto-ack one (540)', async () => {
    const { broker } = await streamWith(1);
    const a = connect(broker, 'no-prefetch');
    const err = (await a.consume('t_fanout', () => undefined).catch((e: unknown) => e)) as MessagingError;
    expect([err.code, err.message]).toEqual([406, "PRECONDITION_FAILED - consumer prefetch count is not set for stream queue 't_fanout' in vhost '/'"]);
    const b = connect(broker, 'no-ack');
    await b.prefetch(1);
    const err2 = (await b.consume('t_fanout', () => undefined, { noAck: true }).catch((e: unknown) => e)) as MessagingError;
    expect([err2.code, err2.message]).toEqual([540, "NOT_IMPLEMENTED - automatic acknowledgement not supported by stream queue 't_fanout' in vhost '/'"]);
  });
});
