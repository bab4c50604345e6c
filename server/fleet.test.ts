import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TransportsList } from '../lib/api-contracts.ts';
import { CLIENT_EVENTS, SERVER_EVENTS, type TrafficBatch } from '../lib/socket-contracts.ts';
import type { CallRecord, DecodedMessage, RateSnapshot, TapEvent, TapStatus } from '../lib/tap-contracts.ts';
import { loadConfig } from './config.ts';
import type { BrokerHealthSummary } from '../lib/broker-contracts.ts';
import { Fleet, lastFailure, mergeBrokerSummaries, mergeCalls, mergeMessages, mergeRates, mergeStatus, StampedTap } from './fleet.ts';
import type { TapFace } from './dashboard.ts';
import type { TransportStatus } from './messaging/transport.ts';
import { startOsloscope, type RunningServer } from './index.ts';
import { ExpectedFailure, MemoryBroker, RpcServer, Transport } from './messaging/index.ts';

function rates(over: Partial<RateSnapshot> & { topic?: [string, number[]][] }): RateSnapshot {
  const topic = (over.topic ?? []).map(([key, buckets]) => ({ key, topic: key, method: null, total: buckets.reduce((a, b) => a + b, 0), buckets }));
  return {
    nowMs: 3000,
    bucketMs: 1000,
    windowMs: 3000,
    startMs: 0,
    total: [0, 0, 0],
    byKind: { call: [0, 0, 0] } as RateSnapshot['byKind'],
    totalsByKind: { call: 0 } as RateSnapshot['totalsByKind'],
    series: { exchange: [], topic, server: [], method: [] },
    topMethods: [],
    ...over,
  };
}

const call = (msgId: string, publishedAt: number, updatedAt = publishedAt): CallRecord => ({ msgId, publishedAt, updatedAt }) as CallRecord;
const msg = (id: string, ts: number): DecodedMessage => ({ id, ts }) as DecodedMessage;

describe('fleet merging', () => {
  it('sums rates bucket by bucket, the same series key once, busiest first and limited', () => {
    const a = rates({ total: [1, 2, 3], byKind: { call: [1, 2, 3] } as RateSnapshot['byKind'], totalsByKind: { call: 6 } as RateSnapshot['totalsByKind'], topic: [['compute', [1, 2, 3]], ['quiet', [0, 0, 1]]] });
    const b = rates({ total: [10, 0, 1], byKind: { call: [10, 0, 1] } as RateSnapshot['byKind'], totalsByKind: { call: 11 } as RateSnapshot['totalsByKind'], topic: [['compute', [5, 0, 0]], ['network', [4, 4, 4]]] });
    const m = mergeRates([a, b], 2);
    expect(m.total).toEqual([11, 2, 4]);
    expect(m.byKind.call).toEqual([11, 2, 4]);
    expect(m.totalsByKind.call).toBe(17);
    expect(m.series.topic.map((s) => [s.key, s.total, s.buckets])).toEqual([
      ['network', 12, [4, 4, 4]],
      ['compute', 11, [6, 2, 3]],
    ]);
    // the inputs are left as they were
    expect(a.series.topic[0].buckets).toEqual([1, 2, 3]);
    expect(mergeRates([a])).toBe(a);
  });

  it('merges messages by time (newest `limit`) and calls in the tap order', () => {
    expect(mergeMessages([[msg('a:1', 1), msg('a:2', 5)], [msg('b:1', 3), msg('b:2', 7)]], 3).map((m) => m.id)).toEqual(['b:1', 'a:2', 'b:2']);
    expect(mergeCalls([[call('x', 5), call('y', 1)], [call('z', 3)]], 'inflight', 2).map((c) => c.msgId)).toEqual(['y', 'z']);
    expect(mergeCalls([[call('x', 1, 9), call('y', 1, 2)], [call('z', 1, 5)]], 'done', undefined).map((c) => c.msgId)).toEqual(['x', 'z', 'y']);
  });

  it('reads several tap statuses as one: the worst state, counters summed, errors named by transport', () => {
    const base: TapStatus = {
      requestedMode: 'auto', mode: 'firehose', state: 'running', error: null, vhost: '/', canSeeReplies: true, firehose: { on: true, detectedBy: 'management', canEnable: true }, hint: null,
      tappedExchanges: ['nova'], fanoutExchanges: [], tapQueues: ['q1'], inspector: 'management',
      counters: { received: 1, decoded: 1, undecodable: 0, dropped: 0, evictedMessages: 0, evictedCalls: 0, evictedRateKeys: 0 }, startedAt: 5,
    };
    const s = mergeStatus([
      { name: 'a', status: base },
      { name: 'b', status: { ...base, state: 'recovering', error: 'connection lost', canSeeReplies: false, mode: 'bindings', tappedExchanges: ['neutron'], tapQueues: ['q2'], counters: { ...base.counters, received: 4 }, startedAt: 2 } },
    ]);
    expect(s.state).toBe('recovering');
    expect(s.error).toBe('b: connection lost');
    expect(s.canSeeReplies).toBe(false);
    expect(s.mode).toBe('bindings');
    expect(s.counters.received).toBe(5);
    expect(s.tappedExchanges).toEqual(['nova', 'neutron']);
    expect(s.vhost).toBe('a:/, b:/');
    expect(s.startedAt).toBe(2);
  });

  it("shows the least-covered member's firehose and inspector in the merged status, whichever member comes first", () => {
    const base = {
      requestedMode: 'auto', mode: 'firehose', state: 'running', error: null, vhost: '/', canSeeReplies: true, firehose: { on: true, detectedBy: 'management', canEnable: true }, hint: null,
      tappedExchanges: [], fanoutExchanges: [], tapQueues: [], inspector: 'management',
      counters: { received: 0, decoded: 0, undecodable: 0, dropped: 0, evictedMessages: 0, evictedCalls: 0, evictedRateKeys: 0 }, startedAt: 1,
    } satisfies TapStatus;
    const off: TapStatus = { ...base, mode: 'bindings', firehose: { on: false, detectedBy: 'probe', canEnable: false }, inspector: 'passive' };
    const unknown: TapStatus = { ...base, firehose: { on: null, detectedBy: 'none', canEnable: false } };
    for (const order of [[base, off, unknown], [off, unknown, base], [unknown, base, off]]) {
      const s = mergeStatus(order.map((status, i) => ({ name: `t${i}`, status })));
      expect(s.firehose).toEqual({ on: false, detectedBy: 'probe', canEnable: false });
      expect(s.inspector).toBe('passive');
    }
    expect(mergeStatus([{ name: 'a', status: base }, { name: 'b', status: unknown }]).firehose).toEqual({ on: null, detectedBy: 'none', canEnable: false });
    expect(mergeStatus([{ name: 'a', status: base }, { name: 'b', status: base }]).firehose).toEqual({ on: true, detectedBy: 'management', canEnable: false });
  });

  it('shows the fullest tap queue of the fleet, relative to its cap', () => {
    const status = (backlog: TapStatus['backlog']): TapStatus => ({
      requestedMode: 'auto', mode: 'firehose', state: 'running', error: null, vhost: '/', canSeeReplies: true, firehose: { on: true, detectedBy: 'management', canEnable: true }, hint: null,
      tappedExchanges: [], fanoutExchanges: [], tapQueues: [], inspector: 'management',
      counters: { received: 0, decoded: 0, undecodable: 0, dropped: 0, evictedMessages: 0, evictedCalls: 0, evictedRateKeys: 0 }, startedAt: 1, backlog,
    });
    const merged = mergeStatus([
      { name: 'a', status: status({ messages: 900, cap: 1000 }) },
      { name: 'b', status: status({ messages: 50_000, cap: 100_000 }) },
      { name: 'c', status: status(undefined) },
    ]);
    expect(merged.backlog).toEqual({ messages: 900, cap: 1000 });
    expect(mergeStatus([{ name: 'a', status: status(undefined) }, { name: 'b', status: status(null) }]).backlog).toBeNull();
  });

  it('reads several broker health summaries as one: the worst of each part, named by transport', () => {
    const ok: BrokerHealthSummary = {
      at: 2000, layout: { name: 'kolla', label: 'Kolla (quorum queues)', drift: 0, complete: true },
      firehose: { on: 3, known: 3, total: 3, weighted: 1, summary: 'tracing on 3 of 3 nodes' }, version: '4.0.5', nodes: 3, alarms: 0, deprecatedFeaturesUsed: [], warnings: 0,
    };
    const bad: BrokerHealthSummary = {
      at: 1000, layout: { name: 'oslo-defaults', label: 'oslo defaults', drift: 4, complete: false },
      firehose: { on: 0, known: 1, total: 1, weighted: 0, summary: 'tracing off' }, version: '3.10.0', nodes: 1, alarms: 1, deprecatedFeaturesUsed: ['transient_nonexcl_queues'], warnings: 2,
    };
    // the healthy one first: the merged summary is not the first member's
    const m = mergeBrokerSummaries([{ name: 'cella', summary: ok }, { name: 'cellb', summary: bad }]);
    expect(m).toEqual({
      at: 1000,
      layout: { name: 'oslo-defaults', label: 'cellb: oslo defaults', drift: 4, complete: false },
      firehose: { on: 3, known: 4, total: 4, weighted: 0, summary: 'cella: tracing on 3 of 3 nodes; cellb: tracing off' },
      version: 'cella 4.0.5, cellb 3.10.0',
      nodes: 4,
      alarms: 1,
      deprecatedFeaturesUsed: ['cellb: transient_nonexcl_queues'],
      warnings: 2,
    });
    // a member not read yet says so; the same clean layout everywhere stays as it is
    const n = mergeBrokerSummaries([{ name: 'cella', summary: ok }, { name: 'cellb', summary: { ...ok, at: 2500 } }, { name: 'cellc', summary: null }]);
    expect(n?.firehose).toEqual({ on: 6, known: 6, total: 6, weighted: null, summary: 'cella: tracing on 3 of 3 nodes; cellb: tracing on 3 of 3 nodes; cellc: not read yet' });
    expect(n?.layout).toEqual(ok.layout);
    expect(n?.at).toBe(2000);
    expect(n?.version).toBe('4.0.5');
    expect(mergeBrokerSummaries([{ name: 'cella', summary: ok }, { name: 'cellb', summary: { ...ok } }])?.layout).toEqual(ok.layout);
    expect(mergeBrokerSummaries([{ name: 'cella', summary: null }, { name: 'cellb', summary: null }])).toBeNull();
    expect(mergeBrokerSummaries([{ name: 'cella', summary: bad }])).toBe(bad);
  });
});

describe('a member tap stamped with its transport', () => {
  it('stamps each event once for all its listeners, and a throwing listener does not stop the others', () => {
    const listeners: ((e: TapEvent) => void)[] = [];
    const inner = {
      on(l: (e: TapEvent) => void) {
        listeners.push(l);
        return () => listeners.splice(listeners.indexOf(l), 1);
      },
    } as unknown as TapFace;
    const tap = new StampedTap('cell1', inner, true);
    const seen: TapEvent[][] = [[], []];
    tap.on(() => {
      throw new Error('a broken listener');
    });
    tap.on((e) => seen[0].push(e));
    tap.on((e) => seen[1].push(e));
    const emit = (e: TapEvent) => {
      for (const l of [...listeners]) {
        try {
          l(e);
        } catch {
          // the inner tap isolates each listener (Tap.emit)
        }
      }
    };
    const message = { id: '7', ts: 1 } as DecodedMessage;
    emit({ type: 'tap:message', message });
    emit({ type: 'tap:message', message: { ...message, id: '8' } });
    expect(seen[0].map((e) => (e.type === 'tap:message' ? [e.message.id, e.message.transport] : null))).toEqual([
      ['cell1:7', 'cell1'],
      ['cell1:8', 'cell1'],
    ]);
    expect(seen[1][0]).toBe(seen[0][0]);
    expect(seen[1][1]).toBe(seen[0][1]);
    expect(message.transport).toBeUndefined();
  });
});

describe('transport health', () => {
  const tapStatus = (over: Partial<TapStatus>): TapStatus => ({
    requestedMode: 'bindings', mode: 'bindings', state: 'running', error: null, vhost: '/', canSeeReplies: false, firehose: { on: null, detectedBy: 'none', canEnable: false }, hint: null,
    tappedExchanges: [], fanoutExchanges: [], tapQueues: [], inspector: 'passive',
    counters: { received: 0, decoded: 0, undecodable: 0, dropped: 0, evictedMessages: 0, evictedCalls: 0, evictedRateKeys: 0 }, startedAt: 1,
    ...over,
  });
  const member = (name: string, status: Partial<TransportStatus>, tap: TapStatus | null) => ({
    name,
    transport: { status: () => ({ driver: 'rabbit', url: `rabbit://${name}/`, state: 'connected', links: [], ...status }) } as unknown as Transport,
    tap: tap ? ({ status: () => tap } as unknown as TapFace) : null,
  });
  const link = (name: string, state: string, retry: { error: string; attempt: number; nextAt: number } | null = null) => ({ name, purpose: 'listen', state, reconnects: 0, retry });

  it("says why a transport is down and when it tries again, from the links' or the tap's last failure, passwords redacted", () => {
    const refused = "Unable to connect to AMQP server on rabbit://nova:s3cret@b:5672/: 530 NOT_ALLOWED - the broker refused to open vhost 'cellb'";
    const fleet = new Fleet([
      member('cella', { state: 'connected', links: [link('osloscope:1:a', 'connected')] } as Partial<TransportStatus>, tapStatus({})),
      // a vhost that is gone: the link gave up (no loop runs), the tap rebuilds every few seconds
      member('cellb', { state: 'disconnected', links: [link('osloscope:1:b', 'disconnected')] } as Partial<TransportStatus>, tapStatus({ state: 'recovering', error: refused, recovery: { reconnects: 0, rebuilds: 0, skipped: 0, awaiting: [], lastOutageMs: null, retry: { error: refused, attempt: 3, nextAt: 5000 } } })),
      // a broker that is unreachable: the link's own loop
      member('cellc', { state: 'disconnected', links: [link('osloscope:1:c', 'connecting', { error: 'connect ECONNREFUSED 10.0.0.3:5672', attempt: 7, nextAt: 4200 })] } as Partial<TransportStatus>, null),
      // down with nothing planned (send links reconnect on use): the link's state
      member('celld', { state: 'disconnected', links: [link('osloscope:1:d', 'disconnected')] } as Partial<TransportStatus>, null),
    ]);
    const list = fleet.transports(4000);
    expect(list.at).toBe(4000);
    const [a, b, c, d] = list.transports;
    expect([a.reason, a.attempt, a.nextRetryAt]).toEqual([null, null, null]);
    expect(b.reason).toBe("Unable to connect to AMQP server on rabbit://nova:***@b:5672/: 530 NOT_ALLOWED - the broker refused to open vhost 'cellb'");
    expect([b.attempt, b.nextRetryAt]).toEqual([3, 5000]);
    expect([c.reason, c.attempt, c.nextRetryAt]).toEqual(['connect ECONNREFUSED 10.0.0.3:5672', 7, 4200]);
    expect([d.reason, d.attempt, d.nextRetryAt]).toEqual(['connection osloscope:1:d is disconnected', null, null]);
  });

  it('takes the attempt that comes next of several', () => {
    expect(lastFailure([null, { error: 'x', attempt: 2, nextAt: 9 }, undefined], { error: 'y', attempt: 1, nextAt: 5 })).toEqual({ error: 'y', attempt: 1, nextAt: 5 });
    expect(lastFailure([null], null)).toBeNull();
  });
});

/** A Python-like echo service on one memory vhost. */
async function echoServer(vhost: string, server: string): Promise<{ calls: string[]; stop(): Promise<void> }> {
  const calls: string[] = [];
  const t = new Transport(`memory:///${vhost}`, { memoryBroker: MemoryBroker.shared(vhost), conf: { control_exchange: 'openstack' }, programName: `svc-${server}` });
  const s = new RpcServer(t, { topic: 'fleet-echo', server }, [
    {
      target: { version: '1.0' },
      echo: (_c: unknown, a: Record<string, unknown>) => {
        calls.push(String(a.value));
        return `${server}:${String(a.value)}`;
      },
      fail: () => {
        throw new ExpectedFailure('ValueError', 'builtins', 'no');
      },
    },
  ]);
  await s.start(0);
  return {
    calls,
    async stop() {
      await s.stop();
      await t.close();
    },
  };
}

describe('a fleet of two memory transports through the HTTP API and the socket', () => {
  let srv: RunningServer;
  let a: Awaited<ReturnType<typeof echoServer>>;
  let b: Awaited<ReturnType<typeof echoServer>>;
  const post = (path: string, body: unknown) => fetch(srv.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = async <T>(path: string) => ((await (await fetch(srv.url + path)).json()) as { data: T }).data;

  beforeAll(async () => {
    const va = `fleet-a-${process.pid}`;
    const vb = `fleet-b-${process.pid}`;
    srv = await startOsloscope(
      loadConfig({ PORT: '0', TRANSPORT_URLS: `a=memory:///${va},b=memory:///${vb}`, HISTORY: 'off', AUDIT_LOG: join(mkdtempSync(join(tmpdir(), 'osloscope-fleet-')), 'audit.log'), RPC_RESPONSE_TIMEOUT: '5' }),
      { withoutPages: true, log: pino({ level: 'silent' }) },
    );
    [a, b] = await Promise.all([echoServer(va, 'host-a'), echoServer(vb, 'host-b')]);
    for (;;) {
      const list = await json<TransportsList>('/api/transports');
      if (list.transports.every((t) => t.tap?.state === 'running')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await srv?.close();
  });

  it('fires on the named transport only, and asks for one when there are several', async () => {
    const none = await post('/api/rpc', { type: 'call', target: { topic: 'fleet-echo' }, method: 'echo', args: { value: 1 } });
    expect(none.status).toBe(400);
    expect(((await none.json()) as { error: { message: string } }).error.message).toMatch(/one of a, b/);
    const r = await post('/api/rpc', { type: 'call', target: { topic: 'fleet-echo' }, method: 'echo', args: { value: 'x' }, transport: 'b' });
    expect(((await r.json()) as { result: unknown }).result).toBe('host-b:x');
    expect(b.calls).toEqual(['x']);
    expect(a.calls).toEqual([]);
    const bad = await post('/api/ping', { topic: 'fleet-echo', transport: 'c' });
    expect(bad.status).toBe(404);
  });

  it('pushes only the subscribed transport on the socket, and refuses an unknown one', async () => {
    const socket: Socket = connect(srv.url, { transports: ['websocket'], forceNew: true });
    try {
      const ack = await socket.timeout(5000).emitWithAck(CLIENT_EVENTS.trafficSubscribe, { filter: 'method:echo', limit: 0, transport: 'a' });
      expect(ack).toMatchObject({ ok: true, data: { transport: 'a' } });
      const seen: DecodedMessage[] = [];
      socket.on(SERVER_EVENTS.trafficBatch, (batch: TrafficBatch) => seen.push(...batch.messages));
      await post('/api/rpc', { type: 'call', target: { topic: 'fleet-echo' }, method: 'echo', args: { value: 'to-b' }, transport: 'b' });
      await post('/api/rpc', { type: 'call', target: { topic: 'fleet-echo' }, method: 'echo', args: { value: 'to-a' }, transport: 'a' });
      const deadline = Date.now() + 8000;
      while (!seen.some((m) => (m.args as { value?: string }).value === 'to-a') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(seen.map((m) => (m.args as { value?: string }).value)).toContain('to-a');
      expect(seen.every((m) => m.transport === 'a')).toBe(true);
      const refused = await socket.timeout(5000).emitWithAck(CLIENT_EVENTS.statusSubscribe, { transport: 'zz' });
      expect(refused).toEqual({ ok: false, error: { code: 'not_found', message: "unknown transport 'zz' (known: a, b)" } });
      const status = await socket.timeout(5000).emitWithAck(CLIENT_EVENTS.statusSubscribe, { transport: 'b' });
      expect(status).toMatchObject({ ok: true, data: { selection: 'b' } });
    } finally {
      socket.close();
    }
  });

  it('filters reads by ?transport= and merges them for all', async () => {
    const all = await json<{ messages: DecodedMessage[] }>('/api/messages?filter=method:echo');
    expect(new Set(all.messages.map((m) => m.transport))).toEqual(new Set(['a', 'b']));
    const onlyA = await json<{ messages: DecodedMessage[] }>('/api/messages?filter=method:echo&transport=a');
    expect(onlyA.messages.length).toBeGreaterThan(0);
    expect(onlyA.messages.every((m) => m.transport === 'a' && m.id.startsWith('a:'))).toBe(true);
    const res = await fetch(`${srv.url}/api/calls?transport=c`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe("unknown transport 'c' (known: a, b)");
  });
});
