import { describe, expect, it } from 'vitest';
import { brokerViewSchema } from '../../lib/tap-contracts.ts';
import { buildBrokerView, queueKind } from './broker-view.ts';

const HEX = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';

describe('queueKind (oslo queue naming)', () => {
  const topics = new Set(['compute', 'conductor']);
  it.each([
    ['compute', 'topic', 'compute', null],
    ['compute.host-1.example.org', 'server', 'compute', 'host-1.example.org'],
    [`compute_fanout_${HEX}`, 'fanout', 'compute', null],
    ['compute_fanout_node1:nova-compute:1', 'fanout', 'compute', null],
    [`reply_${HEX}`, 'reply', null, null],
    ['reply_node1:nova-api:2', 'reply', null, null],
    ['notifications.info', 'notification', 'notifications', null],
    ['versioned_notifications.error', 'notification', 'versioned_notifications', null],
    ['scheduler', 'other', null, null],
    ['mypool', 'other', null, null],
  ] as const)('%s → %s', (name, kind, topic, server) => {
    expect(queueKind(name, topics)).toEqual({ kind, topic, server });
  });
});

describe('buildBrokerView', () => {
  it('classifies queues, lists reply queues without consumers, groups connections per process against the pool size', () => {
    const conn = (port: number) => `10.0.0.2:${port} -> 10.0.0.1:5672`;
    const uuid = (n: number) => `6f0bca1d-1e2f-4a5b-8c9d-0e1f2a3b4c${String(n).padStart(2, '0')}`;
    const connections = [
      { name: conn(1), connectionName: `nova-compute:10:${uuid(1)}` },
      { name: conn(2), connectionName: `nova-compute:10:${uuid(2)}` },
      ...Array.from({ length: 4 }, (_, i) => ({ name: conn(10 + i), connectionName: `nova-api:20:${uuid(10 + i)}` })),
      { name: conn(30), connectionName: null },
    ];
    const view = buildBrokerView({
      source: 'management',
      vhost: '/',
      at: 123,
      poolSize: 2,
      topics: ['conductor'],
      exchanges: [
        { name: 'compute_fanout', type: 'fanout', internal: false },
        { name: 'nova', type: 'topic', internal: false },
      ],
      queues: [
        { name: 'compute', messages: 5, consumers: 1, exclusive: false },
        { name: 'compute.host1', messages: 0, consumers: 1, exclusive: false },
        { name: 'conductor', messages: 0, consumers: 0, exclusive: false },
        { name: `reply_${HEX}`, messages: 2, consumers: 0, exclusive: false },
        { name: `reply_${HEX.replace('0', 'a')}`, messages: 0, consumers: 1, exclusive: false },
        { name: 'osloscope-tap-1', messages: 0, consumers: 1, exclusive: true },
      ],
      consumers: [
        { queue: 'compute', connection: conn(1), connectionName: null },
        { queue: 'compute.host1', connection: conn(1), connectionName: null },
        { queue: `reply_${HEX.replace('0', 'a')}`, connection: conn(10), connectionName: null },
      ],
      connections,
      ownQueues: new Set(['osloscope-tap-1']),
    });
    brokerViewSchema.parse(view);
    expect(view.complete).toBe(true);
    expect(view.queues.map((q) => [q.name, q.kind])).toEqual([
      ['compute', 'topic'],
      ['conductor', 'topic'],
      ['compute.host1', 'server'],
      [`reply_${HEX}`, 'reply'],
      [`reply_${HEX.replace('0', 'a')}`, 'reply'],
    ]);
    expect(view.queues[0]).toMatchObject({ depth: 5, consumers: 1, consumerProcesses: ['nova-compute:10'] });
    expect(view.replyQueuesWithoutConsumers).toEqual([{ name: `reply_${HEX}`, depth: 2 }]);
    expect(view.connections.poolSize).toBe(2);
    expect(view.connections.unnamed).toBe(1);
    expect(view.connections.processes).toEqual([
      { process: 'nova-api:20', connections: 4, listen: 1, send: 3, overPoolLimit: true },
      { process: 'nova-compute:10', connections: 2, listen: 1, send: 1, overPoolLimit: false },
    ]);
  });

  it('says when it is incomplete (passive mode knows no connections)', () => {
    const view = buildBrokerView({ source: 'passive', vhost: '/', at: 1, poolSize: 30, topics: ['compute'], exchanges: null, queues: [{ name: 'compute', messages: 1, consumers: 0, exclusive: false }], consumers: null, connections: null });
    expect(view.complete).toBe(false);
    expect(view.queues).toEqual([{ name: 'compute', kind: 'topic', topic: 'compute', server: null, depth: 1, consumers: 0, consumerProcesses: [] }]);
  });
});
