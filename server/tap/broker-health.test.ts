import { afterEach, describe, expect, it, vi } from 'vitest';
import { brokerHealthReportSchema, brokerHealthSchema } from '../../lib/broker-contracts.ts';
import { BrokerReporter, summarize } from './broker-report.ts';
import { buildHealth, deliveryLimitOf, readHealth, readManagementQueues, type ManagementQueue } from './broker-health.ts';
import { loadFixture, replayFetch } from './fixtures/replay.ts';
import { ManagementInspector } from './inspector.ts';

afterEach(() => {
  vi.unstubAllGlobals();
});

function inspectorFor(name: string, port: number) {
  const f = loadFixture(name);
  const replay = replayFetch({ [`127.0.0.1:${port}`]: f });
  vi.stubGlobal('fetch', replay.fetch);
  return { m: new ManagementInspector({ url: `http://guest:guest@127.0.0.1:${port}`, vhost: f.vhost }), replay, f };
}

describe('broker health from answers recorded on real brokers', () => {
  it('RabbitMQ 3.10.8: no deprecated-features endpoint (404), no default delivery limit', async () => {
    const { m } = inspectorFor('rabbit310-quorum', 15672);
    const queues = await readManagementQueues(m);
    const h = brokerHealthSchema.parse(await readHealth(m, 1, queues));
    expect(h.version).toBe('3.10.8');
    expect(h.error).toBeNull();
    expect(h.deprecatedFeatures).toEqual({ supported: false, used: [] });
    expect(h.nodes).toEqual([expect.objectContaining({ name: 'rabbit@localhost', running: true, version: '3.10.8', memAlarm: false, diskAlarm: false })]);
    expect(h.quorum.queues).toBe(7);
    expect(h.quorum.defaultDeliveryLimit).toBeNull();
    expect(h.warnings.map((w) => w.code)).not.toContain('delivery-limit');
  });

  it.each([
    ['trixie-kolla', 15673, '4.0.5', 'trixie@localhost'],
    ['sid-kolla', 15674, '4.3.6', 'sid@localhost'],
  ])('%s: quorum notification queues without a delivery limit are flagged (4.0+ default 20)', async (name, port, version, node) => {
    const { m } = inspectorFor(name, port);
    const queues = await readManagementQueues(m);
    expect(queues.membership).toBe(true);
    const h = brokerHealthSchema.parse(await readHealth(m, 1, queues));
    expect(h.version).toBe(version);
    expect(h.deprecatedFeatures.supported).toBe(true);
    expect(h.quorum.defaultDeliveryLimit).toBe(20);
    expect(h.quorum.notificationsUnderDefaultLimit).toEqual(['fixture_notifications.error', 'fixture_notifications.info']);
    // topic, server, notification and reply queues are quorum; both fanout queues are streams
    expect(h.quorum.queues).toBe(8);
    expect(h.quorum.leaders).toEqual([{ node, count: 8 }]);
    expect(h.quorum.degraded).toEqual([]);
    const w = h.warnings.find((x) => x.code === 'delivery-limit');
    expect(w?.message).toContain('after 20 deliveries');
    expect(w?.subjects).toEqual(['fixture_notifications.error', 'fixture_notifications.info']);
  });

  it.each([
    ['trixie-default', 15673],
    ['sid-default', 15674],
  ])("%s: oslo's default transient queues use the deprecated transient_nonexcl_queues", async (name, port) => {
    const { m } = inspectorFor(name, port);
    const h = await readHealth(m, 1, await readManagementQueues(m));
    expect(h.deprecatedFeatures.used).toEqual([{ name: 'transient_nonexcl_queues', description: '', phase: 'permitted_by_default' }]);
    expect(h.warnings.find((w) => w.code === 'deprecated-features')).toMatchObject({ level: 'warn', subjects: ['transient_nonexcl_queues'] });
  });

  it('management API unreachable: every part reports the error, nothing throws', async () => {
    vi.stubGlobal('fetch', replayFetch({}).fetch);
    const m = new ManagementInspector({ url: 'http://guest:guest@127.0.0.1:15999', vhost: '/' });
    const h = await readHealth(m, 1, null);
    expect(h.error).toMatch(/unreachable/);
    expect(h.nodes).toEqual([]);
  });

  it('BrokerReporter: layout, health and summary in one bounded read, cached', async () => {
    const { m, replay } = inspectorFor('sid-helm', 15674);
    let now = 1000;
    const r = new BrokerReporter({ inspector: m, vhost: m.vhost, controlExchanges: ['nova'], topics: () => [], clock: () => now, ttlMs: 10_000 });
    expect(r.summary()).toBeNull();
    const report = brokerHealthReportSchema.parse(await r.report());
    expect(report.layout?.name).toBe('openstack-helm');
    expect(report.health?.version).toBe('4.3.6');
    const asked = replay.requests.length;
    await r.report();
    expect(replay.requests.length).toBe(asked);
    now += 10_001;
    await r.report();
    expect(replay.requests.length).toBeGreaterThan(asked);
    expect(summarize(report)).toMatchObject({ layout: { name: 'openstack-helm', drift: 1 }, version: '4.3.6', nodes: 1, alarms: 0 });
    // every list is read in pages of at most 500
    for (const q of replay.requests.filter((x) => x.path.startsWith('/queues') || x.path.startsWith('/exchanges'))) expect(q.query).toContain('page_size=500');
  });
});

describe('buildHealth on hand-made answers', () => {
  const quorum = (name: string, extra: Partial<ManagementQueue> = {}): ManagementQueue => ({
    name,
    type: 'quorum',
    arguments: { 'x-queue-type': 'quorum' },
    leader: 'rabbit@a',
    members: ['rabbit@a', 'rabbit@b', 'rabbit@c'],
    online: ['rabbit@a', 'rabbit@b', 'rabbit@c'],
    ...extra,
  });

  it('alarms per node, nodes down, members offline and queues without a leader', () => {
    const h = buildHealth({
      vhost: '/',
      at: 0,
      version: '4.1.2',
      clusterName: 'c',
      nodes: [
        { name: 'rabbit@a', running: true, mem_alarm: true, disk_free_alarm: false, partitions: [] },
        { name: 'rabbit@b', running: true, mem_alarm: false, disk_free_alarm: true, partitions: [] },
        { name: 'rabbit@c', running: false },
      ],
      deprecated: [],
      queues: {
        membership: true,
        truncated: false,
        queues: [quorum('compute', { online: ['rabbit@a', 'rabbit@b'] }), quorum('conductor', { leader: undefined, online: ['rabbit@c'] }), quorum('scheduler')],
      },
    });
    expect(h.alarms).toEqual([
      { node: 'rabbit@a', resource: 'memory' },
      { node: 'rabbit@b', resource: 'disk' },
    ]);
    expect(h.quorum.degraded.map((d) => [d.name, d.offline])).toEqual([
      ['compute', ['rabbit@c']],
      ['conductor', ['rabbit@a', 'rabbit@b']],
    ]);
    expect(h.warnings.map((w) => w.code)).toEqual(['nodes-down', 'memory-alarm', 'disk-alarm', 'quorum-no-leader', 'quorum-members-offline']);
  });

  it('a delivery limit from the argument or the effective policy counts; -1 (unlimited) too', () => {
    expect(deliveryLimitOf(quorum('n.info', { arguments: { 'x-delivery-limit': 5 } }))).toBe(5);
    expect(deliveryLimitOf(quorum('n.info', { effective_policy_definition: { 'delivery-limit': -1 } }))).toBe(-1);
    expect(deliveryLimitOf(quorum('n.info', { effective_policy_definition: [] }))).toBeNull();
    const h = buildHealth({
      vhost: '/',
      at: 0,
      version: '4.0.5',
      clusterName: null,
      nodes: null,
      deprecated: null,
      queues: { membership: true, truncated: true, queues: [quorum('n.info', { effective_policy_definition: { 'delivery-limit': 100 } }), quorum('n.error')] },
    });
    expect(h.quorum.notificationsUnderDefaultLimit).toEqual(['n.error']);
    expect(h.truncated).toBe(true);
  });
});
