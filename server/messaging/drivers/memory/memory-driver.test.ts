import { describe, expect, it } from 'vitest';
import type { Driver } from '../../driver.ts';
import { MessageDeliveryFailure } from '../../errors.ts';
import { MemoryBroker, MemoryDriver } from './index.ts';
import { collect, settle, transient } from './test-helpers.ts';

describe('MemoryDriver', () => {
  it('implements the driver seam on a given broker', async () => {
    const broker = new MemoryBroker({ vhost: '/nova' });
    const driver: Driver = new MemoryDriver({ broker });
    expect(driver.name).toBe('memory');
    expect(driver.describe()).toBe('memory:///nova');
    const link = await driver.connect({ connectionName: 'osloscope:1:abc', attempt: 3 });
    expect(link.connectionName).toBe('osloscope:1:abc');
    expect(link.isOpen).toBe(true);
    expect(link.endpoint).toBe('memory:///nova');
    await expect(link.checkQueue('nope')).rejects.toMatchObject({ message: "NOT_FOUND - no queue 'nope' in vhost '/nova'" });
  });

  it('rejects connect with MessageDeliveryFailure while the broker is stopped', async () => {
    const broker = new MemoryBroker();
    const driver = new MemoryDriver(broker); // a broker can be passed directly
    expect(driver.broker).toBe(broker);
    broker.stop();
    await expect(driver.connect({ connectionName: 'x' })).rejects.toBeInstanceOf(MessageDeliveryFailure);
    broker.start();
    await expect(driver.connect({ connectionName: 'x' })).resolves.toMatchObject({ isOpen: true });
  });

  it('lets memory transports created in one process meet through the shared broker', async () => {
    const vhost = `/shared-${Math.random().toString(16).slice(2)}`;
    expect(MemoryBroker.shared(vhost)).toBe(MemoryBroker.shared(vhost));
    expect(MemoryBroker.shared(vhost)).not.toBe(new MemoryBroker({ vhost }));
    const server = await new MemoryDriver({ vhost }).connect({ connectionName: 'server' });
    const client = await new MemoryDriver({ vhost }).connect({ connectionName: 'client' });
    await server.assertQueue('compute', transient);
    const { got } = await collect(server, 'compute');
    await client.publish('', 'compute', Buffer.from('cast'), {});
    await settle();
    expect(got.map((d) => d.body.toString())).toEqual(['cast']);
    // an isolated broker does not see it
    const isolated = new MemoryBroker({ vhost });
    expect(isolated.listQueues()).toEqual([]);
  });
});

describe('MemoryBroker introspection', () => {
  it('lists queues, exchanges, bindings, connections and consumers like the management API', async () => {
    const broker = new MemoryBroker();
    const driver = new MemoryDriver({ broker });
    const server = await driver.connect({ connectionName: 'nova-compute:7:aaa' });
    const client = await driver.connect({ connectionName: 'osloscope:9:bbb' });
    await server.assertExchange('nova', 'topic', { durable: false, autoDelete: false });
    await server.assertQueue('compute', { durable: false, autoDelete: false, arguments: { 'x-ha-policy': 'all' } });
    await server.bindQueue('compute', 'nova', 'compute');
    await server.prefetch(5);
    await server.consume('compute', () => {}, { consumerTag: '1' });
    await client.assertQueue('reply_x', { durable: false, autoDelete: false, arguments: { 'x-expires': 1_800_000 } });
    await client.publish('', 'reply_x', Buffer.from('r'), {});
    for (let i = 0; i < 3; i++) await client.publish('nova', 'compute', Buffer.from('c'), {});
    await settle();

    expect(broker.listQueues()).toEqual([
      {
        name: 'compute',
        messages: 3,
        messagesReady: 0,
        messagesUnacknowledged: 3,
        consumers: 1,
        durable: false,
        autoDelete: false,
        exclusive: false,
        arguments: { 'x-ha-policy': 'all' },
        messagesExpired: 0,
        messagesDropped: 0,
      },
      {
        name: 'reply_x',
        messages: 1,
        messagesReady: 1,
        messagesUnacknowledged: 0,
        consumers: 0,
        durable: false,
        autoDelete: false,
        exclusive: false,
        arguments: { 'x-expires': 1_800_000 },
        messagesExpired: 0,
        messagesDropped: 0,
      },
    ]);
    expect(broker.listExchanges().find((x) => x.name === 'nova')).toEqual({
      name: 'nova',
      type: 'topic',
      durable: false,
      autoDelete: false,
      internal: false,
      arguments: {},
    });
    expect(broker.listBindings().map(({ source, destination, routingKey }) => ({ source, destination, routingKey }))).toEqual([
      { source: '', destination: 'compute', routingKey: 'compute' },
      { source: '', destination: 'reply_x', routingKey: 'reply_x' },
      { source: 'nova', destination: 'compute', routingKey: 'compute' },
    ]);
    const conns = broker.listConnections();
    expect(conns.map((c) => [c.name, c.channels, c.consumers])).toEqual([
      ['nova-compute:7:aaa', 1, 1],
      ['osloscope:9:bbb', 1, 0],
    ]);
    expect(new Set(conns.map((c) => c.address)).size).toBe(2);
    expect(broker.listConsumers()).toEqual([
      { queue: 'compute', consumerTag: '1', connectionName: 'nova-compute:7:aaa', ackRequired: true, exclusive: false, prefetchCount: 5 },
    ]);
    await server.close();
    expect(broker.listConnections().map((c) => c.name)).toEqual(['osloscope:9:bbb']);
    expect(broker.listQueues()[0]).toMatchObject({ messagesReady: 3, messagesUnacknowledged: 0, consumers: 0 });
  });
});
