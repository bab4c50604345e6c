import { describe, expect, it } from 'vitest';
import type { Delivery } from '../../driver.ts';
import { ManualClock } from './clock.ts';
import { TRACE_EXCHANGE } from './firehose.ts';
import { collect, connect, newBroker, settle, transient } from './test-helpers.ts';

async function tap(broker: ReturnType<typeof newBroker>): Promise<Delivery[]> {
  const l = connect(broker, 'tap');
  const { queue } = await l.assertQueue('', { durable: false, autoDelete: true, exclusive: true });
  await l.bindQueue(queue, TRACE_EXCHANGE, '#');
  return (await collect(l, queue, { noAck: true })).got;
}

const ADDRESS = /^127\.0\.0\.1:\d+ -> 127\.0\.0\.1:5672$/;

describe('firehose emulation (rabbitmqctl trace_on)', () => {
  it('traces a publish with RabbitMQ 3.10 headers, in RabbitMQ order', async () => {
    const broker = newBroker();
    broker.setTracing(true);
    const traces = await tap(broker);
    const pub = connect(broker, 'nova-compute:42:abc');
    await pub.assertQueue('reply_1', transient);
    await pub.publish('', 'reply_1', Buffer.from('{"x": 1}'), {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: {},
      deliveryMode: 2,
      priority: 0,
      expiration: '60000',
    });
    await settle();
    expect(traces).toHaveLength(1);
    const t = traces[0];
    expect(t.exchange).toBe(TRACE_EXCHANGE);
    expect(t.routingKey).toBe('publish.');
    expect(t.body.toString()).toBe('{"x": 1}');
    expect(Object.keys(t.properties)).toEqual(['headers']);
    const h = t.properties.headers as Record<string, unknown>;
    expect(Object.keys(h)).toEqual([
      'exchange_name',
      'routing_keys',
      'properties',
      'node',
      'vhost',
      'connection',
      'channel',
      'user',
      'routed_queues',
    ]);
    expect(h).toEqual({
      exchange_name: '',
      routing_keys: ['reply_1'],
      properties: {
        expiration: '60000',
        priority: 0,
        delivery_mode: 2,
        headers: {},
        content_encoding: 'utf-8',
        content_type: 'application/json',
      },
      node: 'memory@localhost',
      vhost: '/',
      connection: expect.stringMatching(ADDRESS),
      channel: 1,
      user: 'guest',
      routed_queues: ['reply_1'],
    });
    expect(Object.keys(h.properties as object)).toEqual([
      'expiration',
      'priority',
      'delivery_mode',
      'headers',
      'content_encoding',
      'content_type',
    ]);
    const conn = broker.listConnections().find((c) => c.name === 'nova-compute:42:abc');
    expect(h.connection).toBe(conn?.address);
  });

  it('traces unroutable and mandatory-returned publishes with empty routed_queues, sorted names otherwise', async () => {
    const broker = newBroker();
    broker.setTracing(true);
    const traces = await tap(broker);
    const l = connect(broker);
    await l.assertExchange('fx', 'fanout', { durable: false, autoDelete: true });
    await l.assertQueue('q3', transient);
    await l.assertQueue('q2', transient);
    await l.bindQueue('q3', 'fx', '');
    await l.bindQueue('q2', 'fx', '');
    await l.publish('fx', 'ignored', Buffer.from('fan'), {});
    await expect(l.publish('amq.topic', 'nobody', Buffer.from('lost'), { mandatory: true })).rejects.toMatchObject({ code: 312 });
    await settle();
    expect(traces.map((t) => t.routingKey)).toEqual(['publish.fx', 'publish.amq.topic']);
    const headers = traces.map((t) => t.properties.headers as Record<string, unknown>);
    expect(headers[0].routed_queues).toEqual(['q2', 'q3']);
    expect(headers[0].properties).toEqual({ headers: {} }); // amqplib always sends a headers table
    expect(headers[1].routed_queues).toEqual([]);
    expect(headers[1].routing_keys).toEqual(['nobody']);
  });

  it('names the routing key in routed_queues of a default-exchange publish to a missing queue, as RabbitMQ 3.10 does', async () => {
    const broker = newBroker();
    broker.setTracing(true);
    const traces = await tap(broker);
    const l = connect(broker);
    await expect(l.publish('', 'reply_gone', Buffer.from('late'), { mandatory: true })).rejects.toMatchObject({ code: 312 });
    await settle();
    expect(traces.map((t) => t.routingKey)).toEqual(['publish.']);
    expect((traces[0].properties.headers as Record<string, unknown>).routed_queues).toEqual(['reply_gone']);
  });

  it('traces deliveries with the consumer’s connection and redelivered as 0/1, never an expired message', async () => {
    const clock = new ManualClock();
    const broker = newBroker({ clock });
    broker.setTracing(true);
    const traces = await tap(broker);
    const publisher = connect(broker, 'publisher');
    const consumer = connect(broker, 'consumer');
    await publisher.assertQueue('work', transient);
    await publisher.publish('', 'work', Buffer.from('expires'), { expiration: '10' });
    await publisher.publish('', 'work', Buffer.from('job'), { headers: { a: 1 } });
    clock.advance(10);
    let rejected = false;
    await consumer.consume('work', (d) => {
      if (!rejected) {
        rejected = true;
        consumer.reject(d, true);
      } else consumer.ack(d);
    });
    await settle(5);
    expect(traces.map((t) => t.routingKey)).toEqual(['publish.', 'publish.', 'deliver.work', 'deliver.work']);
    const [, , first, second] = traces.map((t) => t.properties.headers as Record<string, unknown>);
    expect(Object.keys(first)).toEqual([
      'exchange_name',
      'routing_keys',
      'properties',
      'node',
      'redelivered',
      'vhost',
      'connection',
      'channel',
      'user',
    ]);
    expect(first).toMatchObject({ exchange_name: '', routing_keys: ['work'], properties: { headers: { a: 1 } }, redelivered: 0 });
    expect(second.redelivered).toBe(1);
    const addr = Object.fromEntries(broker.listConnections().map((c) => [c.name, c.address]));
    expect(first.connection).toBe(addr.consumer);
    expect(traces[1].properties.headers).toMatchObject({ connection: addr.publisher });
    expect(addr.consumer).not.toBe(addr.publisher);
    expect(traces.map((t) => t.body.toString())).toEqual(['expires', 'job', 'job', 'job']);
  });

  it('does not trace trace messages, and stops when tracing is off', async () => {
    const broker = newBroker();
    broker.setTracing(true);
    const traces = await tap(broker);
    const l = connect(broker);
    await l.assertQueue('q', transient);
    await l.publish('', 'q', Buffer.from('1'), {});
    await settle();
    // the tap consumed one trace message: no deliver.<tap queue> trace for it
    expect(traces.map((t) => t.routingKey)).toEqual(['publish.']);
    broker.setTracing(false);
    await l.publish('', 'q', Buffer.from('2'), {});
    await collect(l, 'q');
    await settle();
    expect(traces).toHaveLength(1);
  });

  it('puts every set property in the properties table under its AMQP name', async () => {
    const broker = newBroker();
    broker.setTracing(true);
    const traces = await tap(broker);
    const l = connect(broker);
    await l.publish('amq.topic', 'k', Buffer.from(''), {
      contentType: 'ct',
      contentEncoding: 'ce',
      headers: { h: true },
      deliveryMode: 1,
      priority: 5,
      correlationId: 'corr',
      replyTo: 'rt',
      expiration: '5',
      messageId: 'mid',
      timestamp: 1_700_000_000,
      type: 'typ',
      userId: 'guest',
      appId: 'app',
    });
    await settle();
    const props = (traces[0].properties.headers as Record<string, unknown>).properties as Record<string, unknown>;
    expect(Object.entries(props)).toEqual([
      ['app_id', 'app'],
      ['user_id', 'guest'],
      ['type', 'typ'],
      ['timestamp', 1_700_000_000],
      ['message_id', 'mid'],
      ['expiration', '5'],
      ['reply_to', 'rt'],
      ['correlation_id', 'corr'],
      ['priority', 5],
      ['delivery_mode', 1],
      ['headers', { h: true }],
      ['content_encoding', 'ce'],
      ['content_type', 'ct'],
    ]);
  });
});
