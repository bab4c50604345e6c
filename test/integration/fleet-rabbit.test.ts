/**
 * A fleet of two brokers in one osloscope (TRANSPORT_URLS, issue #9): two vhosts of their own, each with a
 * real Python oslo.messaging RPC server on the same topic. On bookworm both vhosts live on the local
 * RabbitMQ 3.10; in the matrix cell `sid:kolla:fleet` the second one lives on another broker
 * (TEST_SECOND_MANAGEMENT_URL / TEST_SECOND_AMQP_HOST: trixie's RabbitMQ 4.0 beside sid's 4.3).
 *
 * Proves: GET /api/transports lists both; each transport's traffic shows with its name; `?transport=`
 * filters messages, calls, search and /metrics; an unknown name is a 404 naming the known ones; a call
 * fired on each transport reaches its own Python server (and only it); a Console action without a
 * transport is refused; deleting one vhost broker-side shows that transport degraded, why (the broker's
 * refusal) and its next attempt, while the other stays ok and keeps answering.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import SQLite from 'better-sqlite3';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Health, TransportsList } from '../../lib/api-contracts.ts';
import type { BrokerHealthReport } from '../../lib/broker-contracts.ts';
import type { SearchResult } from '../../lib/history-contracts.ts';
import type { CallRecord, DecodedMessage } from '../../lib/tap-contracts.ts';
import { eventually } from '../../lib/eventually.ts';
import { loadConfig } from '../../server/config.ts';
import { startOsloscope, type RunningServer } from '../../server/index.ts';
import { osloscopeLayoutOptions, PEER_LAYOUT, pythonAvailable, startPeer, stopAllPeers, type PythonPeer } from '../interop/python-peer.ts';
import { brokerVersion, createBrokerVhost, PRIMARY_BROKER, SECOND_BROKER, TWO_BROKERS, type BrokerVhost } from '../support/vhosts.ts';

const PRIMARY = PRIMARY_BROKER;
const SECOND = SECOND_BROKER;

const haveBrokers = (await brokerVersion(PRIMARY)) !== null && (await brokerVersion(SECOND)) !== null;
const havePython = await pythonAvailable();
if (process.env.CI && (!haveBrokers || !havePython)) throw new Error(`fleet test: brokers reachable ${haveBrokers} (${PRIMARY.mgmt}, ${SECOND.mgmt}), Python peer ${havePython}`);

type Envelope<T> = { ok: true; data: T } | { ok: false; error: { code: string; message: string } };

describe.skipIf(!haveBrokers || !havePython)(`a fleet of two transports (${TWO_BROKERS ? 'two brokers' : 'two vhosts'}, layout ${PEER_LAYOUT})`, () => {
  let a: BrokerVhost;
  let b: BrokerVhost;
  let pyA: PythonPeer;
  let pyB: PythonPeer;
  let srv: RunningServer;
  let historyFile = '';
  const exchange = `fleet-ex-${randomBytes(3).toString('hex')}`;
  const topic = `fleet-topic-${randomBytes(3).toString('hex')}`;

  const get = async <T>(path: string): Promise<{ status: number; body: Envelope<T> }> => {
    const res = await fetch(`${srv.url}${path}`);
    return { status: res.status, body: (await res.json()) as Envelope<T> };
  };
  const data = async <T>(path: string): Promise<T> => {
    const r = await get<T>(path);
    if (!r.body.ok) throw new Error(`${path}: HTTP ${r.status} ${r.body.error.message}`);
    return r.body.data;
  };
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', origin: srv.url }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { ok: boolean; result?: unknown; data?: { msgId: string | null }; error?: { code: string; message: string } } };
  };

  beforeAll(async () => {
    [a, b] = await Promise.all([createBrokerVhost(PRIMARY, 'osloscope-fleet-a'), createBrokerVhost(SECOND, 'osloscope-fleet-b')]);
    // osloscope configured like the services (the layout's [oslo_messaging_rabbit] options) through a file
    const dir = mkdtempSync(join(tmpdir(), 'osloscope-fleet-'));
    const conf = join(dir, 'osloscope.conf');
    writeFileSync(conf, `[oslo_messaging_rabbit]\n${Object.entries(osloscopeLayoutOptions()).map(([k, v]) => `${k} = ${String(v)}`).join('\n')}\n`);
    [pyA, pyB] = await Promise.all([
      startPeer('rpc-server', ['--url', a.url, '--topic', topic, '--server', 'py-a', '--exchange', exchange]),
      startPeer('rpc-server', ['--url', b.url, '--topic', topic, '--server', 'py-b', '--exchange', exchange]),
    ]);
    srv = await startOsloscope(
      loadConfig({
        PORT: '0',
        DEMO_FLEET: 'off',
        TRANSPORT_URLS: `cella=${a.url},cellb=${b.url}`,
        RABBITMQ_MANAGEMENT_URLS: `cella=${PRIMARY.mgmt},cellb=${SECOND.mgmt}`,
        OSLO_CONFIG_FILES: conf,
        CONTROL_EXCHANGE: exchange,
        TAP_MODE: 'bindings',
        HISTORY_DATABASE: (historyFile = join(dir, 'history.sqlite')),
        AUDIT_LOG: join(dir, 'audit.log'),
        LOG_LEVEL: 'warn',
      }),
      { withoutPages: true, log: pino({ level: 'warn' }) },
    );
    await eventually(
      async () => {
        const h = await data<Health>('/api/health');
        return h.status === 'ok' && h.transports?.length === 2 && h.transports.every((t) => t.tap?.state === 'running');
      },
      'both taps running',
      60_000,
      250,
    );
  }, 120_000);

  afterAll(async () => {
    await srv?.close();
    await stopAllPeers();
    await Promise.all([a?.remove(), b?.remove()]);
  });

  it('lists both transports, passwords redacted, the first the default', async () => {
    const list = await data<TransportsList>('/api/transports');
    expect(list.default).toBe('cella');
    expect(list.transports.map((t) => t.name)).toEqual(['cella', 'cellb']);
    for (const t of list.transports) {
      expect(t.driver).toBe('rabbit');
      expect(t.state).toBe('connected');
      expect(t.tap?.state).toBe('running');
      expect(t.url).not.toMatch(/:guest@/);
    }
    expect(list.transports[0].url).toContain(a.name);
    expect(list.transports[1].url).toContain(b.name);
  });

  it("reports one broker's health per transport, and asks which under All instead of answering with the first", async () => {
    const all = await get<unknown>('/api/broker/health');
    expect(all.status).toBe(400);
    expect(all.body.ok ? null : all.body.error.message).toMatch(/transport: name the transport whose broker to report \(one of cella, cellb\)/);
    for (const [name, vhost] of [
      ['cella', a.name],
      ['cellb', b.name],
    ] as const) {
      const one = await data<BrokerHealthReport>(`/api/broker/health?transport=${name}&refresh=1`);
      expect(one.layout?.vhost).toBe(vhost);
    }
  });

  it('fires a call on each transport that reaches its own Python server only, and refuses one without a transport', async () => {
    const missing = await post('/api/rpc', { type: 'call', target: { topic }, method: 'echo', args: { value: 'x' } });
    expect(missing.status).toBe(400);
    expect(missing.body.error?.message).toMatch(/transport: name the transport to use \(one of cella, cellb\)/);
    const unknown = await post('/api/rpc', { type: 'call', target: { topic }, method: 'echo', args: { value: 'x' }, transport: 'cellz' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error?.message).toBe("unknown transport 'cellz' (known: cella, cellb)");

    for (const [name, peer, other] of [
      ['cella', pyA, pyB],
      ['cellb', pyB, pyA],
    ] as const) {
      const value = `hello-${name}`;
      const r = await post('/api/rpc', { type: 'call', target: { topic }, method: 'echo', args: { value }, transport: name, timeout: 30 });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.result).toBe(value);
      await peer.waitFor((e) => e.event === 'invoked' && (e.args as { value?: string }).value === value, 10_000);
      expect(other.events.some((e) => e.event === 'invoked' && (e.args as { value?: string }).value === value)).toBe(false);
    }
  });

  it("shows each transport's traffic with its name; ?transport= filters messages, calls, search and metrics", async () => {
    const requests = (list: DecodedMessage[]) => list.filter((m) => m.method === 'echo' && m.topic === topic);
    const all = await eventually(
      async () => {
        const m = requests((await data<{ messages: DecodedMessage[] }>('/api/messages?limit=1000')).messages);
        return m.some((x) => x.transport === 'cella') && m.some((x) => x.transport === 'cellb') ? m : null;
      },
      'both calls in the merged listing',
      20_000,
      250,
    );
    for (const m of all) {
      expect(m.id.startsWith(`${m.transport}:`)).toBe(true);
      expect((m.args as { value?: string }).value).toBe(`hello-${m.transport}`);
    }
    // merged by time
    const ts = all.map((m) => m.ts);
    expect([...ts].sort((x, y) => x - y)).toEqual(ts);

    for (const name of ['cella', 'cellb']) {
      const only = (await data<{ messages: DecodedMessage[] }>(`/api/messages?limit=1000&transport=${name}`)).messages;
      expect(only.length).toBeGreaterThan(0);
      expect(only.every((m) => m.transport === name)).toBe(true);
      expect(requests(only).map((m) => (m.args as { value?: string }).value)).toEqual([`hello-${name}`]);
      const calls = await data<CallRecord[]>(`/api/calls?transport=${name}`);
      expect(calls.filter((c) => c.target.topic === topic).every((c) => c.transport === name)).toBe(true);
      expect(calls.some((c) => c.target.topic === topic)).toBe(true);
    }
    // the NDJSON export too
    const nd = await (await fetch(`${srv.url}/api/messages?format=ndjson&transport=cellb`)).text();
    const lines = nd.trim().split('\n').map((l) => JSON.parse(l) as DecodedMessage);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((m) => m.transport === 'cellb')).toBe(true);

    // search: the store keeps each message with its transport
    const msgIdB = requests(all).find((m) => m.transport === 'cellb')!.msgId!;
    const found = await data<SearchResult>(`/api/search?q=${msgIdB}`);
    expect(found.messages.length).toBeGreaterThan(0);
    expect(found.messages.every((m) => m.transport === 'cellb')).toBe(true);
    expect((await data<SearchResult>(`/api/search?q=${msgIdB}&transport=cella`)).messages).toEqual([]);
    // and the rows themselves: each echo request stored under its transport's name
    const db = new SQLite(historyFile, { readonly: true, fileMustExist: true });
    try {
      const rows = await eventually(
        () => {
          const r = db.prepare(`SELECT transport, msg_id FROM messages WHERE method = 'echo' AND topic = ? AND kind = 'call'`).all(topic) as { transport: string; msg_id: string }[];
          return r.length >= 2 ? r : null;
        },
        'both echo requests in the store',
        15_000,
        250,
      );
      expect(rows.find((r) => r.msg_id === msgIdB)?.transport).toBe('cellb');
      expect(new Set(rows.map((r) => r.transport))).toEqual(new Set(['cella', 'cellb']));
    } finally {
      db.close();
    }

    // unknown names
    const bad = await get('/api/messages?transport=nope');
    expect(bad.status).toBe(404);
    expect(bad.body.ok ? '' : bad.body.error.message).toBe("unknown transport 'nope' (known: cella, cellb)");
    expect((await get('/api/status?transport=nope')).status).toBe(404);

    // metrics carry the transport label; ?transport= keeps one
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    expect(metrics).toMatch(/^osloscope_tap_up\{transport="cella"\} 1$/m);
    expect(metrics).toMatch(/^osloscope_tap_up\{transport="cellb"\} 1$/m);
    const onlyB = await (await fetch(`${srv.url}/metrics?transport=cellb`)).text();
    expect(onlyB).not.toMatch(/transport="cella"/);

    // the broker of each, and the whole fleet's status
    const broker = await data<{ transports?: { name: string; view: { queues: { name: string }[] } | null }[] }>('/api/broker');
    expect(broker.transports?.map((t) => t.name)).toEqual(['cella', 'cellb']);
    const status = await data<{ selection: string; transports: { name: string; state: string }[] }>('/api/status');
    expect(status.selection).toBe('all');
    expect(status.transports.map((t) => t.name)).toEqual(['cella', 'cellb']);
  });

  it('shows a transport whose vhost is gone as degraded while the other stays ok and keeps answering', async () => {
    await b.remove();
    const health = await eventually(
      async () => {
        const h = await data<Health>('/api/health');
        const tb = h.transports?.find((t) => t.name === 'cellb');
        return h.status === 'degraded' && tb?.status === 'degraded' ? h : null;
      },
      'cellb degraded in /api/health',
      30_000,
      250,
    );
    expect(health.transports?.find((t) => t.name === 'cella')).toMatchObject({ status: 'ok', state: 'connected' });
    // why and when: the refusal itself (not a connection's name), the attempts so far and the next one, on the server's clock
    const list = await eventually(
      async () => {
        const l = await data<TransportsList>('/api/transports');
        const tb = l.transports.find((t) => t.name === 'cellb');
        // (right after the deletion the broker closes connections with 320 CONNECTION_FORCED; then it refuses the vhost)
        return tb?.reason && /NOT_ALLOWED/.test(tb.reason) && tb.attempt !== null && tb.nextRetryAt !== null ? l : null;
      },
      "cellb's reason and next attempt in /api/transports",
      20_000,
      250,
    );
    const tb = list.transports.find((t) => t.name === 'cellb')!;
    expect(tb.state).not.toBe('connected');
    expect(tb.reason).toMatch(/530 NOT_ALLOWED.*vhost/);
    expect(tb.reason).not.toMatch(/^osloscope:\d+:[0-9a-f-]+ is /);
    expect(tb.reason).not.toMatch(/:guest@/);
    expect(tb.attempt).toBeGreaterThanOrEqual(1);
    expect(typeof list.at).toBe('number');
    expect(Math.abs(list.at! - Date.now())).toBeLessThan(5_000);
    expect(tb.nextRetryAt! - list.at!).toBeLessThan(60_000);
    // attempts go on
    await eventually(
      async () => ((await data<TransportsList>('/api/transports')).transports.find((t) => t.name === 'cellb')?.attempt ?? 0) > tb.attempt!,
      'a later attempt on cellb',
      20_000,
      250,
    );
    const ta = list.transports.find((t) => t.name === 'cella')!;
    expect(ta).toMatchObject({ state: 'connected', reason: null, attempt: null, nextRetryAt: null });
    // the healthy transport still serves its calls
    const r = await post('/api/rpc', { type: 'call', target: { topic }, method: 'echo', args: { value: 'still-a' }, transport: 'cella', timeout: 30 });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.result).toBe('still-a');
  }, 90_000);
});
