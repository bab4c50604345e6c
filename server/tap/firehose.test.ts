import { afterEach, describe, expect, it, vi } from 'vitest';
import { firehoseCoverageSchema, type FirehoseNode } from '../../lib/broker-contracts.ts';
import { computeCoverage, coverageSummary, FirehoseControl } from './firehose.ts';
import { loadFixture, replayFetch, type RecordedAnswer, type ReplayRequest } from './fixtures/replay.ts';
import { ManagementInspector } from './inspector.ts';
import { tracingFromCoverage } from './tap.ts';

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

const BROKERS = [
  ['rabbit310', 15672, 5672, 'rabbit@localhost'],
  ['trixie', 15673, 5673, 'trixie@localhost'],
  ['sid', 15674, 5674, 'sid@localhost'],
] as const;

/** guest's recorded GET /api/whoami (administrator) */
const WHOAMI = loadFixture('sid-tracing-on').answers['/whoami'];

function control(fixture: string, port: number, override?: (r: ReplayRequest) => RecordedAnswer | undefined, autoOffMs = 0) {
  const f = loadFixture(fixture);
  const replay = replayFetch({ [`127.0.0.1:${port}`]: f }, (r) => override?.(r) ?? (r.path === '/whoami' ? WHOAMI : undefined));
  vi.stubGlobal('fetch', replay.fetch);
  const m = new ManagementInspector({ url: `http://guest:guest@127.0.0.1:${port}`, vhost: f.vhost });
  return { c: new FirehoseControl({ inspector: m, vhost: f.vhost, autoOffMs }), m, replay };
}

describe('tracing detection on each supported version (answers recorded after rabbitmqctl trace_on)', () => {
  it.each(BROKERS)('%s: tracing on', async (broker, port, _amqp, node) => {
    const { c } = control(`${broker}-tracing-on`, port);
    const cov = firehoseCoverageSchema.parse(await c.check());
    expect(cov.nodes).toEqual([expect.objectContaining({ node, tracing: true, endpoint: `http://127.0.0.1:${port}`, error: null })]);
    expect(cov.summary).toBe('tracing on');
    expect(tracingFromCoverage(cov)).toBe(true);
  });

  it.each(BROKERS)('%s: tracing off', async (broker, port) => {
    const { c } = control(`${broker}-${broker === 'rabbit310' ? 'quorum' : 'kolla'}`, port);
    const cov = await c.check();
    expect(cov.summary).toBe('tracing off');
    expect(tracingFromCoverage(cov)).toBe(false);
  });

  it.each(BROKERS)('%s: the management API knows which AMQP port it serves', async (broker, port, amqp) => {
    const f = loadFixture(`${broker}-tracing-on`);
    vi.stubGlobal('fetch', replayFetch({ [`127.0.0.1:${port}`]: f }).fetch);
    const m = new ManagementInspector({ url: `http://guest:guest@127.0.0.1:${port}`, vhost: f.vhost });
    expect((await m.servesAmqpPort(amqp)).ok).toBe(true);
    // a management URL guessed as <amqp host>:15672 for a broker on 5674 finds the 3.10 broker: not ours
    expect(await m.servesAmqpPort(amqp === 5672 ? 5674 : 5672)).toMatchObject({ ok: false, ports: [amqp] });
  });
});

describe('turning tracing on and off', () => {
  it('enable: PUT on the node, description and tags sent back; disable turns off only what osloscope turned on', async () => {
    const { c, replay } = control('sid-kolla', 15674);
    const cov = await c.enable();
    const puts = replay.requests.filter((r) => r.method === 'PUT');
    expect(puts[0]).toEqual(expect.objectContaining({ listener: '127.0.0.1:15674', path: '/vhosts/osloscope-fixture-kolla', body: { tracing: true, description: 'osloscope fixture kolla', default_queue_type: 'classic' } }));
    // the replay still answers tracing:false (a recording), so the re-check after enabling turns it on
    // again, as it does for a node that lost its tracing state in a restart
    expect(puts).toHaveLength(2);
    expect(puts[1].body).toMatchObject({ tracing: true });
    expect(cov.nodes[0].enabledByOsloscope).toBe(true);
    expect(c.ownNodes).toEqual(['sid@localhost']);
    expect(await c.disable('stop')).toEqual(['sid@localhost']);
    expect(replay.requests.filter((r) => r.method === 'PUT').at(-1)?.body).toMatchObject({ tracing: false });
    expect(c.ownNodes).toEqual([]);
  });

  it('never turns off tracing the operator had on', async () => {
    const { c, replay } = control('sid-tracing-on', 15674);
    await c.enable();
    expect(replay.requests.filter((r) => r.method === 'PUT')).toEqual([]);
    expect(await c.disable('stop')).toEqual([]);
  });

  it('a user without the administrator tag gets a clear refusal, nothing is sent', async () => {
    const { c, replay } = control('sid-kolla', 15674, (r) => (r.path === '/whoami' ? { status: 200, json: { name: 'nova', tags: ['monitoring'] } } : undefined));
    await expect(c.enable()).rejects.toThrow(/administrator tag.*rabbitmqctl -n rabbit@<node> trace_on -p osloscope-fixture-kolla/);
    expect(replay.requests.filter((r) => r.method === 'PUT')).toEqual([]);
  });

  it('a /whoami that times out (a loaded broker) is no refusal: tracing is turned on, and the user told only if the PUT is refused', async () => {
    const { c, replay } = control('sid-kolla', 15674);
    vi.stubGlobal('fetch', (url: string | URL, init?: RequestInit) =>
      String(url).includes('/api/whoami') ? Promise.reject(new DOMException('The operation was aborted due to timeout', 'TimeoutError')) : replay.fetch(url, init),
    );
    const cov = await c.enable();
    expect(replay.requests.filter((r) => r.method === 'PUT')[0]).toMatchObject({ listener: '127.0.0.1:15674', body: { tracing: true } });
    expect(cov.nodes[0]).toMatchObject({ node: 'sid@localhost', enabledByOsloscope: true });
    expect(c.ownNodes).toEqual(['sid@localhost']);
  });

  it('a 403 on the PUT is reported as a refusal naming the node', async () => {
    const { c } = control('sid-kolla', 15674, (r) => (r.method === 'PUT' ? { status: 403, json: { error: 'not_authorised' } } : undefined));
    await expect(c.enable()).rejects.toThrow(/refused to turn tracing on at sid@localhost \(HTTP 403\)/);
  });

  it('auto-off: turns its own tracing off after the set time', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { c, replay } = control('sid-kolla', 15674, undefined, 60_000);
    const cov = await c.enable();
    expect(cov.autoOffAt).toBe(Date.now() + 60_000);
    expect(replay.requests.filter((r) => r.method === 'PUT' && (r.body as { tracing: boolean }).tracing === false)).toEqual([]);
    await vi.advanceTimersByTimeAsync(60_001);
    expect(replay.requests.filter((r) => r.method === 'PUT').at(-1)?.body).toMatchObject({ tracing: false });
    expect(c.ownNodes).toEqual([]);
    expect(c.autoOffScheduledAt).toBeNull();
  });
});

describe('a management API that does not always answer (a loaded broker)', () => {
  const timeout = () => Promise.reject(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));

  it('enable: a node read and a PUT that time out once are asked again; the node is osloscope\'s', async () => {
    const { replay } = control('sid-kolla', 15674);
    const stalled = new Set<string>();
    vi.stubGlobal('fetch', (url: string | URL, init?: RequestInit) => {
      const key = `${init?.method ?? 'GET'} ${new URL(String(url)).pathname}`;
      if (!stalled.has(key) && (key === 'GET /api/vhosts' || key.startsWith('PUT '))) {
        stalled.add(key);
        return timeout();
      }
      return replay.fetch(url, init);
    });
    const m = new ManagementInspector({ url: 'http://guest:guest@127.0.0.1:15674', vhost: 'osloscope-fixture-kolla' });
    const c = new FirehoseControl({ inspector: m, vhost: 'osloscope-fixture-kolla', retryDelayMs: 1 });
    await c.enable();
    expect(replay.requests.filter((r) => r.method === 'PUT')[0]).toMatchObject({ body: { tracing: true } });
    expect(c.ownNodes).toEqual(['sid@localhost']);
  });

  it('disable: a PUT tracing:false that times out once is sent again; one that never answers is logged and kept', async () => {
    const { c, replay } = control('sid-kolla', 15674);
    await c.enable();
    let stalls = 1;
    vi.stubGlobal('fetch', (url: string | URL, init?: RequestInit) => (init?.method === 'PUT' && stalls-- > 0 ? timeout() : replay.fetch(url, init)));
    expect(await c.disable('stop')).toEqual(['sid@localhost']);
    expect(replay.requests.filter((r) => r.method === 'PUT').at(-1)?.body).toMatchObject({ tracing: false });

    await c.enable();
    vi.stubGlobal('fetch', (url: string | URL, init?: RequestInit) => (init?.method === 'PUT' ? timeout() : replay.fetch(url, init)));
    expect(await c.disable('stop')).toEqual([]);
    expect(c.ownNodes).toEqual(['sid@localhost']);
  });
});

describe('a 3-node RabbitMQ 4.3.6 cluster with tracing on 2 nodes (recorded from every node)', () => {
  const cluster = () => {
    const replay = replayFetch({
      '127.0.0.1:15681': loadFixture('sid-cluster-15681-tracing-2of3'),
      '127.0.0.1:15682': loadFixture('sid-cluster-15682-tracing-2of3'),
      '127.0.0.1:15683': loadFixture('sid-cluster-15683-tracing-2of3'),
    });
    vi.stubGlobal('fetch', replay.fetch);
    const m = new ManagementInspector({ url: 'http://guest:guest@127.0.0.1:15681', vhost: 'fh-cluster' });
    return { c: new FirehoseControl({ inspector: m, vhost: 'fh-cluster' }), replay, m };
  };

  it("asks each node through its own listener and weighs by the vhost's connections per node", async () => {
    const { c, replay } = cluster();
    const cov = firehoseCoverageSchema.parse(await c.check());
    expect(cov.nodes.map((n) => [n.node, n.tracing, n.connections, n.endpoint])).toEqual([
      ['c1@localhost', true, 1, 'http://127.0.0.1:15681'],
      ['c2@localhost', true, 2, 'http://127.0.0.1:15682'],
      ['c3@localhost', false, 3, 'http://127.0.0.1:15683'],
    ]);
    expect(cov).toMatchObject({ on: 2, known: 3, total: 3, weighted: 0.5, summary: 'tracing on 2 of 3 nodes (50% of connections)' });
    expect(tracingFromCoverage(cov)).toBe(false);
    expect(new Set(replay.requests.filter((r) => r.path === '/vhosts').map((r) => r.listener))).toEqual(new Set(['127.0.0.1:15681', '127.0.0.1:15682', '127.0.0.1:15683']));
  });

  it('a node whose listener does not answer is unknown, not off', async () => {
    const { c } = cluster();
    const replay = replayFetch({ '127.0.0.1:15681': loadFixture('sid-cluster-15681-tracing-2of3'), '127.0.0.1:15682': loadFixture('sid-cluster-15682-tracing-2of3') });
    vi.stubGlobal('fetch', replay.fetch);
    const cov = await c.check();
    expect(cov.nodes.find((n) => n.node === 'c3@localhost')).toMatchObject({ tracing: null, error: expect.stringMatching(/unreachable/) });
    expect(cov.summary).toBe('tracing on 2 of 3 nodes; 1 node did not answer');
  });

  it('enable turns tracing on at the one node that has it off, through that node', async () => {
    const { c, replay } = cluster();
    await c.enable();
    const puts = replay.requests.filter((r) => r.method === 'PUT');
    expect(puts[0]).toMatchObject({ listener: '127.0.0.1:15683', path: '/vhosts/fh-cluster', body: { tracing: true, description: 'osloscope coverage fixture' } });
    expect(c.ownNodes).toEqual(['c3@localhost']);
    await c.disable('stop');
    expect(replay.requests.filter((r) => r.method === 'PUT').at(-1)).toMatchObject({ listener: '127.0.0.1:15683', body: { tracing: false } });
  });
});

describe('coverage across nodes', () => {
  const node = (name: string, tracing: boolean | null, connections: number | null): FirehoseNode => ({
    node: name,
    tracing,
    connections,
    endpoint: null,
    error: tracing === null ? 'unreachable' : null,
    enabledByOsloscope: false,
  });

  it('2 of 3 nodes, weighted by connections per node', () => {
    const c = computeCoverage('/', 0, [node('a', true, 10), node('b', true, 20), node('c', false, 70)], null);
    expect(c).toMatchObject({ on: 2, known: 3, total: 3, weighted: 0.3, summary: 'tracing on 2 of 3 nodes (30% of connections)' });
    expect(tracingFromCoverage(c)).toBe(false);
  });

  it('all, none, and nodes that did not answer', () => {
    expect(computeCoverage('/', 0, [node('a', true, 1), node('b', true, 1)], null).summary).toBe('tracing on all 2 nodes');
    expect(computeCoverage('/', 0, [node('a', false, 1), node('b', false, 1)], null).summary).toBe('tracing off on all 2 nodes');
    const partial = computeCoverage('/', 0, [node('a', true, 1), node('b', null, null), node('c', true, 3)], null);
    expect(partial.weighted).toBeNull();
    expect(partial.summary).toBe('tracing on 2 of 3 nodes; 1 node did not answer');
    expect(tracingFromCoverage(partial)).toBe(true);
    expect(coverageSummary({ on: 0, known: 0, total: 0, weighted: null })).toBe('tracing state unknown');
  });
});
