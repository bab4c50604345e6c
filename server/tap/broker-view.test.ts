import { describe, expect, it } from 'vitest';
import { brokerViewSchema } from '../../lib/tap-contracts.ts';
import { STATS_NOT_REPORTED, buildBrokerView, queueKind } from './broker-view.ts';

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
    ['compute_fanout', 'fanout', 'compute', null],
    ['compute.node-1.cloud.example.org', 'server', 'compute', 'node-1.cloud.example.org'],
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
    expect(view.replyQueuesWithoutConsumers).toEqual([{ name: `reply_${HEX}`, depth: 2, health: 'warn', note: expect.stringMatching(/holding 2 replies nobody will read/) }]);
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
    expect(view.queues).toEqual([
      { name: 'compute', kind: 'topic', topic: 'compute', server: null, depth: 1, consumers: 0, consumerProcesses: [], queueType: null, queueManager: null, depthIs: 'backlog', expiresMs: null, idleSince: null, health: 'ok', note: null, rates: null },
    ]);
  });
});

describe('new layouts: streams, orphans until x-expires, queue-manager names', () => {
  const AT = 1_800_000_000_000;
  const view = (queues: Parameters<typeof buildBrokerView>[0]['queues'], consumers: Parameters<typeof buildBrokerView>[0]['consumers'] = []) =>
    buildBrokerView({ source: 'management', vhost: '/', at: AT, poolSize: 30, topics: ['compute'], exchanges: [{ name: 'compute_fanout', type: 'fanout', internal: false }], queues, consumers, connections: [] });
  const q = (name: string, over: Record<string, unknown> = {}) => ({ name, messages: 0, consumers: 0, exclusive: false, ...over });

  it('a <topic>_fanout stream holds retention, not backlog, and needs no consumer', () => {
    const v = view([q('compute_fanout', { messages: 5000, type: 'stream', arguments: { 'x-queue-type': 'stream', 'x-max-age': '1800s' } })]);
    brokerViewSchema.parse(v);
    expect(v.queues[0]).toMatchObject({ kind: 'fanout', topic: 'compute', queueType: 'stream', depthIs: 'retention', health: 'ok', depth: 5000 });
    expect(v.queues[0].note).toMatch(/keeps what it was sent for x-max-age 1800s, so its depth is retention, not a backlog \(5000 messages kept\)/);
  });

  it('orphan reply and fanout queues without consumers are normal until x-expires elapses', () => {
    const v = view([
      q('reply_ctl1:nova-api:3', { type: 'quorum', arguments: { 'x-queue-type': 'quorum', 'x-expires': 1_800_000 }, idleSince: AT - 600_000 }),
      q('compute_fanout_node1:nova-compute:1', { type: 'quorum', arguments: { 'x-expires': 1_800_000 }, idleSince: null }),
    ]);
    const reply = v.queues.find((x) => x.kind === 'reply');
    expect(reply).toMatchObject({ health: 'expiring', expiresMs: 1_800_000, queueManager: { host: 'ctl1', process: 'nova-api', n: 3 } });
    expect(reply?.note).toMatch(/no consumer for 10 min: normal, the broker removes it in about 20 min/);
    expect(v.queues.find((x) => x.kind === 'fanout')).toMatchObject({ health: 'expiring', queueManager: { host: 'node1', process: 'nova-compute', n: 1 } });
    expect(v.replyQueuesWithoutConsumers).toEqual([{ name: 'reply_ctl1:nova-api:3', depth: 0, health: 'expiring', note: reply?.note }]);
  });

  it('warns about orphans that hold messages, outlived x-expires, or never expire and sat idle for long', () => {
    const v = view([
      q('reply_a:p:1', { messages: 3, arguments: { 'x-expires': 1_800_000 } }),
      q('reply_a:p:2', { arguments: { 'x-expires': 1_800_000 }, idleSince: AT - 3_600_000 }),
      q('reply_a:p:3', { arguments: {}, idleSince: AT - 2 * 3_600_000 }),
      q('reply_a:p:4', { arguments: {}, idleSince: AT - 60_000 }),
    ]);
    const by = Object.fromEntries(v.queues.map((x) => [x.name, x]));
    expect(by['reply_a:p:1']).toMatchObject({ health: 'warn' });
    expect(by['reply_a:p:1'].note).toMatch(/holding 3 replies/);
    expect(by['reply_a:p:2'].note).toMatch(/past its x-expires of 30 min/);
    expect(by['reply_a:p:2'].health).toBe('warn');
    expect(by['reply_a:p:3']).toMatchObject({ health: 'warn', expiresMs: null });
    expect(by['reply_a:p:3'].note).toMatch(/without x-expires .* idle for 2 h/);
    expect(by['reply_a:p:4']).toMatchObject({ health: 'ok' });
  });

  it('a consumed reply queue is fine whatever its age', () => {
    const v = view([q('reply_a:p:1', { consumers: 1, arguments: { 'x-expires': 1000 }, idleSince: AT - 3_600_000 })]);
    expect(v.queues[0]).toMatchObject({ health: 'ok', note: null });
  });

  it('flags queue-manager names that multiply instead of being reused (counter drift)', () => {
    const v = view(Array.from({ length: 12 }, (_, i) => q(`reply_h1:nova-api:${i + 1}`, { arguments: { 'x-expires': 1_800_000 } })));
    expect(v.queues.every((x) => x.health === 'warn')).toBe(true);
    expect(v.queues[0].note).toMatch(/12 orphan reply queues named h1:nova-api:<n> \(n up to 12\)/);
  });

  it('counts the broker did not report (statistics disabled) are unknown: no orphan, no drift, no false backlog', () => {
    const unreported = { messages: null, consumers: null };
    const v = view([
      ...Array.from({ length: 12 }, (_, i) => q(`reply_h1:nova-api:${i + 1}`, { ...unreported, arguments: { 'x-expires': 1_800_000 }, idleSince: AT - 3_600_000 })),
      q('compute_fanout_node1:nova-compute:1', unreported),
      q('compute_fanout', { ...unreported, type: 'stream' }),
      q('compute', unreported),
    ]);
    brokerViewSchema.parse(v);
    for (const x of v.queues.filter((y) => y.queueType !== 'stream')) expect(x).toMatchObject({ depth: null, consumers: null, health: 'ok' });
    expect(v.queues.filter((x) => x.kind === 'reply' || (x.kind === 'fanout' && x.queueType !== 'stream')).every((x) => x.note === STATS_NOT_REPORTED)).toBe(true);
    expect(v.queues.find((x) => x.name === 'compute')?.note).toBeNull();
    // a stream's count left out (3.13+ with statistics on, too): retention, no "0 messages kept"
    expect(v.queues.find((x) => x.name === 'compute_fanout')).toMatchObject({ depth: null, depthIs: 'retention', health: 'ok' });
    expect(v.queues.find((x) => x.name === 'compute_fanout')?.note).not.toMatch(/messages? kept/);
    expect(v.replyQueuesWithoutConsumers).toEqual([]);
  });

  it('notification pools known from routing are notification queues', () => {
    const v = buildBrokerView({ source: 'management', vhost: '/', at: AT, poolSize: 30, topics: [], pools: new Map([['ceilometer-pool', 'notifications']]), exchanges: [], queues: [q('ceilometer-pool')], consumers: [], connections: [] });
    expect(v.queues[0]).toMatchObject({ kind: 'notification', topic: 'notifications' });
  });
});
