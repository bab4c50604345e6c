import { describe, expect, it } from 'vitest';
import {
  parseFanoutExchange,
  parseFanoutQueue,
  parseNotificationQueue,
  parseQueueName,
  parseReplyQueue,
  poolsFromRoutedQueues,
  processOf,
  queueManagerLabel,
  splitTopicServer,
} from './queue-names.ts';

const HEX = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';

describe('oslo queue-name grammar (docs/wire.md#queue-names)', () => {
  it('reply queues: reply_<hex32> and queue-manager reply_<host>:<proc>:<n>', () => {
    expect(parseReplyQueue(`reply_${HEX}`)).toEqual({ hex: HEX, queueManager: null });
    expect(parseReplyQueue('reply_ctl-1.cloud.example.org:nova-api:12')).toEqual({ hex: null, queueManager: { host: 'ctl-1.cloud.example.org', process: 'nova-api', n: 12 } });
    // counters start at 1; upper-case hex, short hex, extra colons and other prefixes are not oslo's
    for (const bad of ['reply_h:p:0', `reply_${HEX.toUpperCase()}`, 'reply_abc', 'reply_a:b:c:1', 'reply_a:b:', 'replyq_h:p:1', 'reply_']) expect(parseReplyQueue(bad)).toBeNull();
    expect(queueManagerLabel({ host: 'h', process: 'p', n: 3 })).toBe('h:p:3');
  });

  it('fanout exchanges and queues in their three forms', () => {
    expect(parseFanoutExchange('compute_fanout')).toBe('compute');
    expect(parseFanoutExchange('compute')).toBeNull();
    expect(parseFanoutQueue(`compute_fanout_${HEX}`)).toEqual({ topic: 'compute', stream: false, hex: HEX, queueManager: null });
    expect(parseFanoutQueue('compute_fanout_node1:nova-compute:0')).toEqual({ topic: 'compute', stream: false, hex: null, queueManager: { host: 'node1', process: 'nova-compute', n: 0 } });
    expect(parseFanoutQueue('compute_fanout')).toEqual({ topic: 'compute', stream: true, hex: null, queueManager: null });
    // a topic that itself ends in _fanout still parses on the last suffix
    expect(parseFanoutQueue('q_fanout_fanout')).toMatchObject({ topic: 'q_fanout', stream: true });
    expect(parseFanoutQueue('compute')).toBeNull();
  });

  it('topic/server: split right after a known topic, so FQDN servers keep their dots', () => {
    expect(splitTopicServer('compute.node-1.cloud.example.org')).toEqual({ topic: 'compute', server: 'node-1.cloud.example.org' });
    expect(splitTopicServer('compute')).toEqual({ topic: 'compute', server: null });
    const topics = new Set(['q-agent-notifier-port-update', 'neutron.agent', 'neutron']);
    expect(splitTopicServer('neutron.agent.net-1.example.org', topics)).toEqual({ topic: 'neutron.agent', server: 'net-1.example.org' });
    expect(splitTopicServer('neutron.host-9', topics)).toEqual({ topic: 'neutron', server: 'host-9' });
    expect(splitTopicServer('unknown.host', topics)).toEqual({ topic: 'unknown', server: 'host' });
  });

  it('notification queues: <topic>.<priority>, and pools learnt from where notifications were routed', () => {
    expect(parseNotificationQueue('versioned_notifications.info')).toEqual({ topic: 'versioned_notifications', priority: 'info' });
    expect(parseNotificationQueue('notifications.sample')).toEqual({ topic: 'notifications', priority: 'sample' });
    expect(parseNotificationQueue('compute.host1')).toBeNull();
    expect(poolsFromRoutedQueues('notifications.info', ['notifications.info', 'ceilometer-pool', `reply_${HEX}`])).toEqual([{ pool: 'ceilometer-pool', topic: 'notifications' }]);
    expect(poolsFromRoutedQueues('compute.host1', ['x'])).toEqual([]);
  });

  it('parseQueueName puts it together', () => {
    const ctx = { topics: new Set(['compute', 'conductor']), pools: new Map([['my-pool', 'notifications']]) };
    expect(parseQueueName('reply_h1:nova-api:2', ctx)).toMatchObject({ kind: 'reply', queueManager: { host: 'h1', process: 'nova-api', n: 2 } });
    expect(parseQueueName('compute_fanout', ctx)).toMatchObject({ kind: 'fanout', topic: 'compute', stream: true });
    expect(parseQueueName('compute.node1.example.org', ctx)).toMatchObject({ kind: 'server', topic: 'compute', server: 'node1.example.org' });
    expect(parseQueueName('conductor', ctx)).toMatchObject({ kind: 'topic', topic: 'conductor' });
    expect(parseQueueName('my-pool', ctx)).toMatchObject({ kind: 'notification', topic: 'notifications', pool: 'my-pool' });
    expect(parseQueueName('compute.info', ctx)).toMatchObject({ kind: 'notification', topic: 'compute', priority: 'info' });
    expect(parseQueueName('scheduler', ctx)).toMatchObject({ kind: 'other' });
  });

  it('processOf reads <argv0>:<pid>:<uuid> connection names', () => {
    expect(processOf('nova-conductor:1234:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0')).toBe('nova-conductor:1234');
    expect(processOf('uwsgi:7:0f1e2d3c4b5a69788796a5b4c3d2e1f0')).toBe('uwsgi:7');
    expect(processOf('10.0.0.1:5672 -> 10.0.0.2:1')).toBeNull();
    expect(processOf(null)).toBeNull();
  });
});
