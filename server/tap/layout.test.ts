import { describe, expect, it } from 'vitest';
import { layoutReportSchema } from '../../lib/broker-contracts.ts';
import { toLayoutQueues, type ManagementQueue } from './broker-health.ts';
import { answer, loadFixture } from './fixtures/replay.ts';
import { detectLayout, type LayoutExchange, type LayoutQueue } from './layout.ts';

/** Layout of a vhost recorded from a real broker with real oslo.messaging peers. */
function fromFixture(name: string) {
  const f = loadFixture(name);
  const queues = toLayoutQueues(answer(f, '/queues/') as ManagementQueue[]);
  const exchanges = (answer(f, '/exchanges/') as { name: string; type: string; durable: boolean }[]).map((x) => ({ name: x.name, type: x.type, durable: x.durable }));
  const vhost = answer(f, `/vhosts/${encodeURIComponent(f.vhost)}?`) as { default_queue_type?: string };
  const report = detectLayout({ vhost: f.vhost, at: 1, source: 'management', queues, exchanges, controlExchanges: ['openstack', 'nova'], defaultQueueType: vhost.default_queue_type ?? null });
  return layoutReportSchema.parse(report);
}

describe('detectLayout on layouts recorded from real brokers', () => {
  it.each(['rabbit310-default', 'trixie-default', 'sid-default'])('%s: oslo defaults', (name) => {
    const r = fromFixture(name);
    expect(r.name).toBe('oslo-defaults');
    expect(r.letters).toBe('');
    expect(r.counts.fanout.classic).toBe(3);
    expect(r.counts.reply).toMatchObject({ total: 1, classic: 1, queueManager: 0 });
    expect(r.exchanges.control).toEqual([{ name: 'nova', durable: false }]);
    expect(r.drift).toEqual([]);
  });

  it('rabbit310-quorum: rabbit_quorum_queue alone (kolla-ansible 2024.1)', () => {
    const r = fromFixture('rabbit310-quorum');
    expect(r.name).toBe('kolla-2024.1');
    expect(r.letters).toBe('Q');
    expect(r.exchanges.control).toEqual([{ name: 'nova', durable: true }]);
    expect(r.counts.notification.quorum).toBe(2);
  });

  it.each(['trixie-kolla', 'sid-kolla'])('%s: kolla-ansible Q+T+S+M', (name) => {
    const r = fromFixture(name);
    expect(r.name).toBe('kolla');
    expect(r.label).toContain('kolla-ansible');
    expect(r.flags).toEqual({ quorum: true, transientQuorum: true, streamFanout: true, queueManager: true, durable: false });
    // one shared `<topic>_fanout` stream per topic, not one queue per server
    expect(r.counts.fanout).toMatchObject({ total: 2, stream: 2 });
    expect(r.topics.find((t) => t.topic === 'fixture_compute')).toMatchObject({ letters: 'Q+T+S', topicType: 'quorum', serverTypes: ['quorum'], fanout: 'stream', fanoutExchangeDurable: true });
    expect(r.queueManagerProcesses).toEqual(['vm:oslo_peer.py']);
    expect(r.drift).toEqual([]);
  });

  it.each(['trixie-helm', 'sid-helm'])('%s: openstack-helm D+T+M, with quorum expected but classic found', (name) => {
    const r = fromFixture(name);
    expect(r.name).toBe('openstack-helm');
    expect(r.letters).toBe('D+T+M');
    expect(r.counts.topic).toMatchObject({ classic: 2, classicDurable: 2, quorum: 0 });
    expect(r.counts.fanout).toMatchObject({ quorum: 3, queueManager: 3 });
    expect(r.drift.map((d) => d.code)).toEqual(['quorum-expected-classic-found']);
    expect(r.drift[0].message).toContain('rabbit_quorum_queues');
  });

  it.each(['trixie-mixed', 'sid-mixed'])('%s: kolla compute and helm scheduler in one vhost', (name) => {
    const r = fromFixture(name);
    expect(r.name).toBe('mixed');
    const services = r.drift.find((d) => d.code === 'services-differ');
    expect(services?.message).toMatch(/Quorum topic queues for fixture_compute but classic for fixture_scheduler/);
    expect(r.topics.find((t) => t.topic === 'fixture_compute')?.letters).toBe('Q+T+S');
    expect(r.topics.find((t) => t.topic === 'fixture_scheduler')?.letters).toBe('D+T+M');
  });
});

describe('detectLayout on hand-made cases', () => {
  const q = (name: string, type: string | null, durable: boolean | null, extra: Partial<LayoutQueue> = {}): LayoutQueue => ({ name, type, durable, exclusive: false, ...extra });
  const x = (name: string, durable: boolean | null, type = name.endsWith('_fanout') ? 'fanout' : 'topic'): LayoutExchange => ({ name, type, durable });
  const base = { vhost: '/', at: 0, source: 'management' as const, controlExchanges: ['openstack'] };

  it('one topic with classic and quorum servers is drift within the topic', () => {
    const r = detectLayout({ ...base, queues: [q('compute', 'quorum', true), q('compute.a', 'quorum', true), q('compute.b', 'classic', false)], exchanges: [x('compute_fanout', false), x('openstack', true)] });
    expect(r.name).toBe('mixed');
    expect(r.drift.map((d) => d.code)).toContain('topic-types-differ');
    expect(r.topics[0].topic).toBe('compute');
  });

  it('fanout exchanges durable for some topics and transient for others', () => {
    const r = detectLayout({
      ...base,
      queues: [q('a', 'classic', false), q('b', 'classic', false)],
      exchanges: [x('a_fanout', true), x('b_fanout', false), x('openstack', false)],
    });
    expect(r.drift.map((d) => d.code)).toEqual(['fanout-exchange-durability']);
    expect(r.drift[0].examples).toEqual(['a_fanout', 'b_fanout']);
  });

  it('a durable control exchange beside transient classic topic queues', () => {
    const r = detectLayout({ ...base, queues: [q('a', 'classic', false), q('a.h', 'classic', false)], exchanges: [x('a_fanout', false), x('openstack', true)] });
    expect(r.name).toBe('mixed');
    expect(r.drift.map((d) => d.code)).toEqual(['control-exchange-durability']);
  });

  it("ignores exclusive queues (osloscope's own reply and tap queues) and names no layout without oslo queues", () => {
    const r = detectLayout({
      ...base,
      queues: [q('reply_0f1e2d3c4b5a69788796a5b4c3d2e1f0', 'classic', false, { exclusive: true }), q('osloscope-tap-1', 'classic', false), q('unrelated', 'quorum', true)],
      exchanges: [],
    });
    expect(r.name).toBe('empty');
    expect(r.counts.reply.total).toBe(0);
  });

  it('passive: existence only, stream fanout and queue-manager names still tell', () => {
    const r = detectLayout({
      ...base,
      source: 'passive',
      queues: [q('compute', null, null), q('compute_fanout', null, null), q('reply_ctl1:nova-conductor:3', null, null)],
      exchanges: [x('compute_fanout', null), x('openstack', null)],
      complete: false,
    });
    expect(r.complete).toBe(false);
    expect(r.flags.streamFanout).toBe(true);
    expect(r.flags.queueManager).toBe(true);
    expect(r.flags.quorum).toBeNull();
    expect(r.exchanges.control).toEqual([{ name: 'openstack', durable: null }]);
  });

  it('unknown when the queues could not be read', () => {
    const r = detectLayout({ ...base, queues: null, exchanges: null, error: 'HTTP 401' });
    expect(r).toMatchObject({ name: 'unknown', complete: false, error: 'HTTP 401' });
  });

  it('a quorum default queue type is reported, not credited to rabbit_quorum_queue alone', () => {
    const r = detectLayout({ ...base, queues: [q('a', 'quorum', true)], exchanges: [x('a_fanout', false)], defaultQueueType: 'quorum' });
    expect(r.drift.map((d) => d.code)).toEqual(['default-queue-type']);
    expect(r.name).toBe('kolla-2024.1');
  });

  it('bounds the topic list', () => {
    const queues = Array.from({ length: 300 }, (_, i) => q(`t${i}`, 'classic', false));
    const exchanges = Array.from({ length: 300 }, (_, i) => x(`t${i}_fanout`, false));
    const r = detectLayout({ ...base, queues, exchanges });
    expect(r.topics).toHaveLength(200);
    expect(r.counts.topic.total).toBe(300);
  });
});
