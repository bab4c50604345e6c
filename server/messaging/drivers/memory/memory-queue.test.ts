import { describe, expect, it } from 'vitest';
import type { Delivery } from '../../driver.ts';
import { ManualClock } from './clock.ts';
import { bodies, closed, collect, connect, newBroker, settle, transient } from './test-helpers.ts';

function queueNames(broker: ReturnType<typeof newBroker>): string[] {
  return broker.listQueues().map((q) => q.name);
}

describe('exclusive queues', () => {
  it('belong to the declaring link: others get 405, publishing is still allowed', async () => {
    const broker = newBroker();
    const owner = connect(broker, 'owner');
    await owner.assertQueue('mine', { durable: false, autoDelete: false, exclusive: true });

    const locked = /^RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'mine' in vhost '\/'/;
    const other = connect(broker, 'other');
    await expect(other.checkQueue('mine')).rejects.toMatchObject({ code: 405, message: expect.stringMatching(locked) });
    expect(other.isOpen).toBe(true); // passive
    await other.publish('', 'mine', Buffer.from('from other'), {});
    await expect(other.consume('mine', () => {})).rejects.toMatchObject({ code: 405 });
    expect(other.isOpen).toBe(false);
    for (const op of [
      (l: ReturnType<typeof connect>) => l.assertQueue('mine', { durable: false, autoDelete: false, exclusive: true }),
      (l: ReturnType<typeof connect>) => l.bindQueue('mine', 'amq.topic', '#'),
      (l: ReturnType<typeof connect>) => l.deleteQueue('mine'),
    ]) {
      const l = connect(broker);
      await expect(op(l)).rejects.toMatchObject({ code: 405 });
      expect(l.isOpen).toBe(false);
    }
    // the owner itself may not redeclare it non-exclusive either
    const { got } = await collect(owner, 'mine');
    await settle();
    expect(bodies(got)).toEqual(['from other']);
    await expect(owner.assertQueue('mine', transient)).rejects.toMatchObject({ code: 405 });
    expect(queueNames(broker)).toEqual([]); // the owner died, its exclusive queue went with it
  });

  it('are deleted when the owner closes cleanly', async () => {
    const broker = newBroker();
    const owner = connect(broker);
    await owner.assertQueue('', { durable: false, autoDelete: false, exclusive: true });
    await owner.assertQueue('shared', transient);
    expect(queueNames(broker)).toHaveLength(2);
    const onClose = closed(owner);
    await owner.close();
    expect(await onClose).toBeUndefined();
    expect(queueNames(broker)).toEqual(['shared']);
  });
});

describe('auto-delete', () => {
  it('keeps an auto-delete queue until it has had a consumer, then deletes it with the last one', async () => {
    const broker = newBroker();
    const l = connect(broker);
    await l.assertQueue('ad', { durable: false, autoDelete: true });
    await l.publish('', 'ad', Buffer.from('x'), {});
    expect(queueNames(broker)).toEqual(['ad']);
    const t1 = await l.consume('ad', () => {}, { noAck: true });
    const t2 = await l.consume('ad', () => {}, { noAck: true });
    await l.cancel(t1);
    expect(queueNames(broker)).toEqual(['ad']);
    await l.cancel(t2);
    expect(queueNames(broker)).toEqual([]);
  });

  it('deletes an auto-delete queue when the link of its last consumer ends', async () => {
    const broker = newBroker();
    const declarer = connect(broker);
    await declarer.assertQueue('ad', { durable: false, autoDelete: true });
    const consumer = connect(broker);
    await consumer.consume('ad', () => {});
    consumer.kill(new Error('gone'));
    expect(queueNames(broker)).toEqual([]);
  });

  it('deletes an auto-delete exchange when its last binding goes, not before it had one', async () => {
    const broker = newBroker();
    const l = connect(broker);
    await l.assertExchange('fan', 'fanout', { durable: false, autoDelete: true });
    await l.assertQueue('a', transient);
    await l.assertQueue('b', transient);
    const has = (): boolean => broker.listExchanges().some((x) => x.name === 'fan');
    expect(has()).toBe(true);
    await l.bindQueue('a', 'fan', '');
    await l.bindQueue('b', 'fan', '');
    await l.unbindQueue('a', 'fan', '');
    expect(has()).toBe(true);
    await l.deleteQueue('b'); // the queue's bindings go with it
    expect(has()).toBe(false);
    expect(broker.listBindings().filter((b) => b.source === 'fan')).toEqual([]);
  });
});

describe('x-expires', () => {
  it('deletes a queue unused for x-expires ms; declares restart the clock, publishes do not', async () => {
    const clock = new ManualClock();
    const broker = newBroker({ clock });
    const l = connect(broker);
    const opts = { ...transient, arguments: { 'x-expires': 1000 } };
    await l.assertQueue('reply_1', opts);
    clock.advance(900);
    await l.assertQueue('reply_1', opts); // redeclare = use
    clock.advance(900);
    await l.checkQueue('reply_1'); // passive declare = use
    clock.advance(900);
    await l.publish('', 'reply_1', Buffer.from('x'), {}); // not use
    expect(queueNames(broker)).toEqual(['reply_1']);
    clock.advance(100);
    expect(queueNames(broker)).toEqual([]);
  });

  it('never expires while a consumer is attached; the clock restarts when the last one leaves', async () => {
    const clock = new ManualClock();
    const broker = newBroker({ clock });
    const l = connect(broker);
    await l.assertQueue('q', { ...transient, arguments: { 'x-expires': 1000 } });
    const tag = await l.consume('q', () => {});
    clock.advance(5000);
    expect(queueNames(broker)).toEqual(['q']);
    await l.cancel(tag);
    clock.advance(999);
    expect(queueNames(broker)).toEqual(['q']);
    clock.advance(1);
    expect(queueNames(broker)).toEqual([]);
  });

  it('expires reply queues of a link that died (oslo reply_<hex> lifecycle)', async () => {
    const clock = new ManualClock();
    const broker = newBroker({ clock });
    const l = connect(broker);
    await l.assertQueue('reply_abc', { ...transient, arguments: { 'x-expires': 1_800_000 } });
    await l.consume('reply_abc', () => {});
    broker.disconnectAll();
    clock.advance(1_799_999);
    expect(queueNames(broker)).toEqual(['reply_abc']);
    clock.advance(1);
    expect(queueNames(broker)).toEqual([]);
    expect(clock.pending).toBe(0);
  });
});

describe('message TTL', () => {
  it('never delivers a message whose expiration passed', async () => {
    const clock = new ManualClock();
    const broker = newBroker({ clock });
    const l = connect(broker);
    await l.assertQueue('q', transient);
    await l.publish('', 'q', Buffer.from('call'), { expiration: '60000' });
    await l.publish('', 'q', Buffer.from('cast'), {});
    clock.advance(60_000);
    const { got } = await collect(l, 'q');
    await settle();
    expect(bodies(got)).toEqual(['cast']);
    expect(broker.listQueues()[0]).toMatchObject({ messagesExpired: 1, messages: 0 });
  });

  it('drops expired heads on a timer, so counts fall without consumers', async () => {
    const clock = new ManualClock();
    const broker = newBroker({ clock });
    const l = connect(broker);
    await l.assertQueue('q', { ...transient, arguments: { 'x-message-ttl': 500 } });
    await l.publish('', 'q', Buffer.from('a'), {});
    clock.advance(200);
    await l.publish('', 'q', Buffer.from('b'), { expiration: '10000' }); // queue TTL is the lower: 500
    expect(broker.listQueues()[0].messagesReady).toBe(2);
    clock.advance(300);
    expect(broker.listQueues()[0]).toMatchObject({ messagesReady: 1, messagesExpired: 1 });
    clock.advance(200);
    expect(broker.listQueues()[0]).toMatchObject({ messagesReady: 0, messagesExpired: 2 });
    expect(clock.pending).toBe(0);
  });

  it('expires only from the head, and drops an expired message when it reaches the head', async () => {
    const clock = new ManualClock();
    const broker = newBroker({ clock });
    const l = connect(broker);
    await l.assertQueue('q', transient);
    await l.publish('', 'q', Buffer.from('long'), { expiration: '10000' });
    await l.publish('', 'q', Buffer.from('short'), { expiration: '10' });
    await l.publish('', 'q', Buffer.from('none'), {});
    clock.advance(100);
    // RabbitMQ keeps 'short' behind the unexpired head
    expect(broker.listQueues()[0].messagesReady).toBe(3);
    const { got } = await collect(l, 'q');
    await settle();
    expect(bodies(got)).toEqual(['long', 'none']);
    expect(broker.listQueues()[0].messagesExpired).toBe(1);
  });

  it('drops a requeued message whose TTL ran out while it was unacked', async () => {
    const clock = new ManualClock();
    const broker = newBroker({ clock });
    const a = connect(broker);
    await a.assertQueue('q', transient);
    const { got } = await collect(a, 'q', { ack: false });
    await a.publish('', 'q', Buffer.from('m'), { expiration: '1000' });
    await settle();
    expect(got).toHaveLength(1);
    clock.advance(1000);
    a.reject(got[0], true);
    await settle();
    expect(got).toHaveLength(1);
    expect(broker.listQueues()[0]).toMatchObject({ messages: 0, messagesExpired: 1 });
  });

  it('delivers a TTL 0 message only if a consumer can take it at once', async () => {
    const broker = newBroker({ clock: new ManualClock() });
    const l = connect(broker);
    await l.assertQueue('q', transient);
    await l.publish('', 'q', Buffer.from('nobody'), { expiration: '0' });
    expect(broker.listQueues()[0]).toMatchObject({ messages: 0, messagesExpired: 1 });
    const { got } = await collect(l, 'q');
    await l.publish('', 'q', Buffer.from('taken'), { expiration: '0' });
    await settle();
    expect(bodies(got)).toEqual(['taken']);
  });
});

describe('x-max-length', () => {
  it('drops from the head by default and counts the drops', async () => {
    const broker = newBroker();
    const l = connect(broker);
    await l.assertQueue('tap', { ...transient, arguments: { 'x-max-length': 3 } });
    for (let i = 1; i <= 5; i++) await l.publish('', 'tap', Buffer.from(String(i)), {});
    expect(broker.listQueues()[0]).toMatchObject({ messagesReady: 3, messagesDropped: 2 });
    const { got } = await collect(l, 'tap');
    await settle();
    expect(bodies(got)).toEqual(['3', '4', '5']);
  });

  it('counts ready messages only: unacked ones do not take room', async () => {
    const broker = newBroker();
    const l = connect(broker);
    await l.assertQueue('q', { ...transient, arguments: { 'x-max-length': 1 } });
    await l.prefetch(2);
    const { got } = await collect(l, 'q', { ack: false });
    for (let i = 1; i <= 4; i++) await l.publish('', 'q', Buffer.from(String(i)), {});
    await settle();
    // 1 and 2 went straight to the consumer (prefetch 2), 3 was dropped for 4
    expect(bodies(got)).toEqual(['1', '2']);
    expect(broker.listQueues()[0]).toMatchObject({ messagesReady: 1, messagesUnacknowledged: 2, messagesDropped: 1 });
  });

  it('with x-max-length 0 passes messages to a waiting consumer and drops the rest', async () => {
    const broker = newBroker();
    const l = connect(broker);
    await l.assertQueue('z', { ...transient, arguments: { 'x-max-length': 0 } });
    await l.publish('', 'z', Buffer.from('dropped'), {});
    const { got } = await collect(l, 'z');
    for (let i = 0; i < 3; i++) await l.publish('', 'z', Buffer.from(`m${i}`), {});
    await settle();
    expect(bodies(got)).toEqual(['m0', 'm1', 'm2']);
    expect(broker.listQueues()[0].messagesDropped).toBe(1);
  });
});

describe('deleting a queue', () => {
  it('cancels its consumers without further handler calls and ignores later acks', async () => {
    const broker = newBroker();
    const owner = connect(broker);
    await owner.assertQueue('q', transient);
    const got: Delivery[] = [];
    await owner.consume('q', (d) => got.push(d));
    await owner.publish('', 'q', Buffer.from('1'), {});
    await settle();
    await owner.deleteQueue('q');
    expect(broker.listConsumers()).toEqual([]);
    owner.ack(got[0]);
    expect(owner.isOpen).toBe(true);
    await owner.assertQueue('q', transient);
    await owner.publish('', 'q', Buffer.from('2'), {});
    await settle();
    expect(bodies(got)).toEqual(['1']);
  });
});
