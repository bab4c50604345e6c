/**
 * The HTTP API end to end in one process: the real composition root
 * (without Next pages) on the memory transport, a real RpcServer answering,
 * the real tap watching.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExpectedFailure, MemoryBroker, RpcServer, Transport } from '../messaging/index.ts';
import { loadConfig } from '../config.ts';
import { startOsloscope, type RunningServer } from '../index.ts';
import { hashPassword } from '../auth/users.ts';
import { brokerHealthReportSchema, type BrokerHealthReport } from '../../lib/broker-contracts.ts';
import type { Health } from '../../lib/api-contracts.ts';
import { knownTargetsSchema } from '../../lib/tap-contracts.ts';
import { tempHistoryDatabase } from '../store/test-db.ts';

const silent = pino({ level: 'silent' });

async function eventually<T>(fn: () => Promise<T | undefined | null | false>, what: string, ms = 8000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function tmpAudit(): string {
  return join(mkdtempSync(join(tmpdir(), 'osloscope-api-')), 'audit.log');
}

async function echoServer(topic: string): Promise<{ stop(): Promise<void> }> {
  const t = new Transport('memory://', { memoryBroker: MemoryBroker.shared('/'), conf: { control_exchange: 'openstack' }, programName: 'test-service' });
  const s = new RpcServer(t, { topic, server: 'host-1' }, [
    {
      target: { version: '1.0' },
      echo: (_c: unknown, a: Record<string, unknown>) => a.value,
      echo_ctxt: (c: unknown) => c,
      fail: (_c: unknown, a: Record<string, unknown>) => {
        throw new ExpectedFailure('ValueError', 'builtins', String(a.message));
      },
    },
  ]);
  await s.start(0);
  return {
    async stop() {
      await s.stop();
      await t.close();
    },
  };
}

describe('HTTP API (access control off)', () => {
  let srv: RunningServer;
  let audit: string;
  let service: { stop(): Promise<void> };
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(srv.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  beforeAll(async () => {
    audit = tmpAudit();
    srv = await startOsloscope(loadConfig({ PORT: '0', DEMO_FLEET: 'off', AUDIT_LOG: audit, RPC_RESPONSE_TIMEOUT: '5', HISTORY_DATABASE: tempHistoryDatabase() }), { withoutPages: true, log: silent });
    service = await echoServer('api-test');
    await eventually(async () => ((await (await fetch(`${srv.url}/api/health`)).json()) as { data: { tap: { state: string } } }).data.tap?.state === 'running', 'the tap');
  });
  afterAll(async () => {
    await service?.stop();
    await srv?.close();
  });

  it('reports health: driver, connection state, tap mode', async () => {
    const res = await fetch(`${srv.url}/api/health`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ ok: true, data: { transport: { driver: 'memory', url: 'memory:///' }, tap: { mode: 'firehose', state: 'running', canSeeReplies: true } } });
  });

  it('reads the layout of the vhost and summarises it in /api/health', async () => {
    const res = await fetch(`${srv.url}/api/broker/health?refresh=1`);
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as { data: BrokerHealthReport };
    expect(brokerHealthReportSchema.parse(data).layout).toMatchObject({ source: 'memory', name: 'oslo-defaults', vhost: '/' });
    // the echo server's topic and server queues; osloscope's own exclusive reply queue is not a service's
    expect(data.layout?.counts.topic.total).toBeGreaterThanOrEqual(1);
    expect(data.health).toBeNull();
    const health = await eventually(async () => {
      const h = ((await (await fetch(`${srv.url}/api/health`)).json()) as { data: Health }).data;
      return h.broker ? h : null;
    }, 'a broker summary in /api/health');
    expect(health.broker?.layout).toMatchObject({ name: 'oslo-defaults', drift: 0 });
  });

  it('fires a call and returns the result with timing, and audits it', async () => {
    const res = await post('/api/rpc', { type: 'call', target: { topic: 'api-test', version: '1.0' }, method: 'echo', args: { value: { n: 1, s: 'é' } }, context: { user_id: 'u1', auth_token: 'tok-SECRET' } });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.ok).toBe(true);
    expect(body.result).toEqual({ n: 1, s: 'é' });
    expect(body.data).toMatchObject({ type: 'call', exchange: 'openstack', routingKey: 'api-test', result: { n: 1, s: 'é' } });
    expect(body.data.msgId).toMatch(/^[0-9a-f]{32}$/);
    expect(body.data.elapsedMs).toBeGreaterThanOrEqual(0);
    const lines = readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const entry = lines.find((l) => l.msgId === body.data.msgId);
    expect(entry).toMatchObject({ user: 'local', role: 'operator', action: 'fire', type: 'call', method: 'echo', outcome: 'ok', target: { exchange: 'openstack', topic: 'api-test' } });
    expect(JSON.stringify(lines)).not.toContain('tok-SECRET');
    // the history keeps the context, with the token redacted
    const history = (await (await fetch(`${srv.url}/api/rpc/history`)).json()).data;
    expect(history[0].context).toEqual({ user_id: 'u1', auth_token: '***' });
  });

  it('audits a replay as a replay', async () => {
    const body = await (await post('/api/rpc', { type: 'cast', target: { topic: 'api-test' }, method: 'echo', args: { value: 'again' }, replayOf: '1234' })).json();
    expect(body.ok).toBe(true);
    const last = JSON.parse(readFileSync(audit, 'utf8').trim().split('\n').at(-1) as string);
    expect(last).toMatchObject({ action: 'replay', replayOf: '1234', type: 'cast', method: 'echo', outcome: 'ok' });
    expect(typeof last.at).toBe('string');
  });

  it('returns a remote exception with class, module and traceback', async () => {
    const res = await post('/api/rpc', { target: { topic: 'api-test', version: '1.0' }, method: 'fail', args: { message: 'boom' } });
    expect(res.status).toBe(502);
    const body = await res.json();
    expect(body).toMatchObject({ ok: false, error: { code: 'remote_error', class: 'ValueError', module: 'builtins', message: 'ValueError: boom' } });
    expect(body.error.traceback[0]).toBe('Traceback (most recent call last):\n');
    expect(body.error.traceback.join('')).toContain('boom');
  });

  it('times out with oslo text and a 504', async () => {
    const res = await post('/api/rpc', { target: { topic: 'api-test-nobody' }, method: 'echo', timeout: 0.3 });
    expect(res.status).toBe(504);
    const body = await res.json();
    expect(body.error.code).toBe('timeout');
    expect(body.error.message).toMatch(/^Timed out waiting for a reply to message ID [0-9a-f]{32}$/);
  });

  it('answers a broker refusal with 422 and the broker text, not a 500', async () => {
    const res = await post('/api/rpc', { type: 'call', target: { topic: 'x', exchange: 'amq.rabbitmq.trace' }, method: 'echo', timeout: 2 });
    expect(res.status).toBe(422);
    const body = await res.json();
    expect(body.error).toMatchObject({ code: 'refused', class: 'BrokerRefusal' });
    expect(body.error.message).toMatch(/^The broker refused it \(403\): ACCESS_REFUSED - cannot publish to internal exchange 'amq\.rabbitmq\.trace'/);
  });

  it('casts and fanouts return once the broker took them', async () => {
    const cast = await (await post('/api/rpc', { type: 'cast', target: { topic: 'api-test' }, method: 'echo', args: { value: 1 } })).json();
    expect(cast).toMatchObject({ ok: true, result: null, data: { type: 'cast', msgId: null, routingKey: 'api-test' } });
    const fan = await (await post('/api/rpc', { type: 'fanout', target: { topic: 'api-test' }, method: 'echo', args: { value: 2 } })).json();
    expect(fan).toMatchObject({ ok: true, data: { type: 'fanout', exchange: 'api-test_fanout' } });
  });

  it('names the problem for bad requests', async () => {
    let res = await post('/api/rpc', { target: {}, method: '', args: 'x' });
    expect(res.status).toBe(400);
    let body = await res.json();
    expect(body.error.code).toBe('validation_failed');
    expect(body.error.fields).toEqual({ 'target.topic': 'a topic is required', method: 'a method is required', args: 'args must be a JSON object ({...})' });

    res = await post('/api/rpc', '{"target": {"topic": "x"},');
    expect(res.status).toBe(400);
    body = await res.json();
    expect(body.error.code).toBe('bad_json');
    expect(body.error.message).toMatch(/not valid JSON/);

    res = await fetch(`${srv.url}/api/rpc`, { method: 'POST', body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.status).toBe(415);

    res = await fetch(`${srv.url}/api/rpc`);
    expect(res.status).toBe(405);
    expect((await res.json()).error.code).toBe('method_not_allowed');

    res = await fetch(`${srv.url}/api/does-not-exist`);
    expect(res.status).toBe(404);
    body = await res.json();
    expect(body).toMatchObject({ ok: false, error: { code: 'not_found' } });
    expect(body.error.message).toContain('/api/does-not-exist');

    res = await fetch(`${srv.url}/api/calls?state=zombie`);
    expect(res.status).toBe(400);
    expect((await res.json()).error.fields.state).toMatch(/inflight, stuck or done/);

    res = await fetch(`${srv.url}/api/messages?filter=${encodeURIComponent('kind:teapot')}`);
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toMatch(/Bad filter/);
  });

  it('fanout history: validates its query and names why a topic has none', async () => {
    let res = await fetch(`${srv.url}/api/fanout-history?topic=api-test&since=30m&limit=50`);
    // the embedded memory broker keeps no streams: per-server fanout queues only
    expect(res.status).toBe(404);
    let body = await res.json();
    expect(body).toMatchObject({ ok: false, error: { code: 'no_stream' } });
    expect(body.error.message).toMatch(/no queue named api-test_fanout.*rabbit_stream_fanout/);

    res = await fetch(`${srv.url}/api/fanout-history?since=soon&limit=0`);
    expect(res.status).toBe(400);
    body = await res.json();
    expect(Object.keys(body.error.fields).sort()).toEqual(['limit', 'since', 'topic']);
    expect(body.error.fields.since).toMatch(/first, last, an offset/);

    res = await fetch(`${srv.url}/api/fanout-history?topic=x&offset=3`);
    expect(res.status).toBe(400);
  });

  it('refuses cross-origin state changes and foreign Host names', async () => {
    let res = await post('/api/rpc', { target: { topic: 'api-test' }, method: 'echo' }, { origin: 'http://evil.example' });
    expect(res.status).toBe(403);
    expect((await res.json()).error.code).toBe('cross_origin');
    // fetch cannot set Host: use node:http (a DNS-rebinding page would send its own name)
    const status = await new Promise<number>((resolve, reject) => {
      const r = request(`${srv.url}/api/health`, { headers: { host: 'rebind.attacker.example' } }, (m) => {
        m.resume();
        resolve(m.statusCode ?? 0);
      });
      r.on('error', reject);
      r.end();
    });
    expect(status).toBe(421);
  });

  it('serves the tapped messages, with NDJSON export, and the calls', async () => {
    const fired = await (await post('/api/rpc', { target: { topic: 'api-test', version: '1.0' }, method: 'echo', args: { value: 'find-me' } })).json();
    const msgs = await eventually(async () => {
      const b = await (await fetch(`${srv.url}/api/messages?filter=${encodeURIComponent('topic:api-test method:echo')}&limit=50`)).json();
      return b.data.messages.some((m: { args: { value: string } }) => m.args?.value === 'find-me') ? b.data.messages : null;
    }, 'the tapped call');
    expect(msgs.every((m: { topic: string }) => m.topic === 'api-test')).toBe(true);

    const nd = await fetch(`${srv.url}/api/messages?format=ndjson&filter=${encodeURIComponent(`msg_id:${fired.data.msgId}`)}`);
    expect(nd.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    expect(nd.headers.get('content-disposition')).toMatch(/attachment; filename="osloscope-messages-.*\.ndjson"/);
    const lines = (await nd.text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.kind).sort()).toEqual(['call', 'reply']);

    const done = await eventually(async () => {
      const b = await (await fetch(`${srv.url}/api/calls?state=done`)).json();
      return b.data.find((c: { msgId: string }) => c.msgId === fired.data.msgId);
    }, 'the finished call');
    expect(done).toMatchObject({ method: 'echo', state: 'done', outcome: 'result' });
    const one = await (await fetch(`${srv.url}/api/calls?msgId=${fired.data.msgId}`)).json();
    expect(one.data.timeline.map((e: { event: string }) => e.event)).toContain('published');
    expect((await fetch(`${srv.url}/api/calls?msgId=${'0'.repeat(32)}`)).status).toBe(404);
    expect((await fetch(`${srv.url}/api/calls?msgId=nothex`)).status).toBe(400);
  });

  it('suggests the targets the traffic named (/api/targets)', async () => {
    expect((await post('/api/rpc', { type: 'cast', target: { topic: 'api-targets', server: 'host-7', version: '1.0' }, method: 'echo', args: { value: 1 } })).status).toBe(200);
    const t = await eventually(async () => {
      const b = await (await fetch(`${srv.url}/api/targets`)).json();
      return b.data.topics.includes('api-targets') ? knownTargetsSchema.parse(b.data) : null;
    }, 'the topic among the suggestions');
    expect(t.topics[0]).toBe('api-targets');
    expect(t.servers).toContainEqual({ topic: 'api-targets', server: 'host-7' });
    expect(t.methods).toContainEqual({ topic: 'api-targets', method: 'echo' });
    expect(t.exchanges).not.toContain('(default)');
  });

  it('suggests the topics and servers an RPC server consumes though no traffic named them yet (/api/targets)', async () => {
    const quiet = await echoServer('api-quiet');
    try {
      const t = await eventually(async () => {
        const b = await (await fetch(`${srv.url}/api/targets`)).json();
        return b.data.topics.includes('api-quiet') ? knownTargetsSchema.parse(b.data) : null;
      }, 'the consumed topic among the suggestions');
      expect(t.servers).toContainEqual({ topic: 'api-quiet', server: 'host-1' });
      // no message named it: it comes from the broker's queues
      const seen = await (await fetch(`${srv.url}/api/messages?filter=${encodeURIComponent('topic:api-quiet')}`)).json();
      expect(seen.data.messages).toEqual([]);
    } finally {
      await quiet.stop();
    }
    // once nothing consumes its queues, it is no longer offered
    await eventually(async () => !(await (await fetch(`${srv.url}/api/targets`)).json()).data.topics.includes('api-quiet'), 'the topic gone with its server');
  });

  it('exports Prometheus metrics with oslo.metrics names', async () => {
    const res = await fetch(`${srv.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(/^# TYPE oslo_messaging_rpc_client_invocation_start_total counter$/m);
    expect(text).toMatch(/^oslo_messaging_rpc_client_invocation_start_total\{call_type="call",exchange="openstack",topic="api-test",.*method="echo".*\} \d+$/m);
    expect(text).toMatch(/^oslo_messaging_rpc_client_exception_total\{.*method="fail".*exception="ValueError"\} 1$/m);
    expect(text).toMatch(/^# TYPE oslo_messaging_rpc_client_processing_seconds histogram$/m);
    expect(text).toMatch(/^oslo_messaging_rpc_client_processing_seconds_bucket\{.*le="0\.01"\} \d+$/m);
    // every osloscope_ family names its transport (TRANSPORT_URL alone: default)
    expect(text).toMatch(/^osloscope_tap_up\{transport="default"\} 1$/m);
    expect(text).toMatch(/^osloscope_tap_info\{transport="default",mode="firehose",requested_mode="auto",inspector="memory"\} 1$/m);
    expect(text).toMatch(/^oslo_messaging_rpc_client_processing_seconds_bucket\{.*transport="default".*le="0\.01"\} \d+$/m);
    // no process id label (it starts new series at every restart)
    expect(text).not.toMatch(/process="/);
    expect(text).toMatch(/^osloscope_pool_connections\{transport="default",state="max"\} 30$/m);
    // one HELP/TYPE per family
    const types = text.match(/^# TYPE (\S+)/gm) ?? [];
    expect(new Set(types).size).toBe(types.length);
  });
});

describe('HTTP API (access control on)', () => {
  let srv: RunningServer;
  let readOnly: RunningServer;

  beforeAll(async () => {
    const env = {
      PORT: '0',
      DEMO_FLEET: 'off',
      TAP_MODE: 'off',
      AUDIT_LOG: tmpAudit(),
      HISTORY_DATABASE: tempHistoryDatabase(),
      AUTH_USERS: `ops:operator:${await hashPassword('ops-password')},watcher:viewer:${await hashPassword('watch-password')}`,
      SESSION_SECRET: 'k'.repeat(48),
    };
    srv = await startOsloscope(loadConfig(env), { withoutPages: true, log: silent });
    readOnly = await startOsloscope(loadConfig({ ...env, READ_ONLY: '1', AUDIT_LOG: tmpAudit(), HISTORY_DATABASE: tempHistoryDatabase() }), { withoutPages: true, log: silent });
  });
  afterAll(async () => {
    await srv?.close();
    await readOnly?.close();
  });

  async function login(base: string, username: string, password: string): Promise<string> {
    const res = await fetch(`${base}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
    expect(res.status).toBe(200);
    return (res.headers.get('set-cookie') ?? '').split(';')[0];
  }
  const fire = (base: string, cookie?: string) =>
    fetch(`${base}/api/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
      body: JSON.stringify({ type: 'cast', target: { topic: 'nobody-listens' }, method: 'm' }),
    });

  it('needs a session for everything but health', async () => {
    expect((await fetch(`${srv.url}/api/status`)).status).toBe(401);
    expect((await fire(srv.url)).status).toBe(401);
    const health = await (await fetch(`${srv.url}/api/health`)).json();
    expect(health.data.transport.url).toBe('memory://'); // no detail for strangers
    expect((await fetch(`${srv.url}/metrics`)).status).toBe(401);
  });

  it('rejects wrong passwords', async () => {
    const res = await fetch(`${srv.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'ops', password: 'guess' }) });
    expect(res.status).toBe(401);
    expect((await res.json()).error.code).toBe('bad_credentials');
  });

  it('lets viewers watch but not fire, and operators fire', async () => {
    const viewer = await login(srv.url, 'watcher', 'watch-password');
    expect((await fetch(`${srv.url}/api/status`, { headers: { cookie: viewer } })).status).toBe(200);
    const session = await (await fetch(`${srv.url}/api/session`, { headers: { cookie: viewer } })).json();
    expect(session.data).toEqual({ user: 'watcher', role: 'viewer', authEnabled: true, readOnly: false, canFire: false });
    const refused = await fire(srv.url, viewer);
    expect(refused.status).toBe(403);
    expect((await refused.json()).error.code).toBe('forbidden');

    const operator = await login(srv.url, 'ops', 'ops-password');
    const ok = await fire(srv.url, operator);
    expect(ok.status).toBe(200);
    const history = await (await fetch(`${srv.url}/api/rpc/history`, { headers: { cookie: operator } })).json();
    expect(history.data[0]).toMatchObject({ user: 'ops', type: 'cast', method: 'm' });

    await fetch(`${srv.url}/api/session`, { method: 'DELETE', headers: { cookie: operator } });
  });

  it('READ_ONLY=1 stops firing for everyone', async () => {
    const operator = await login(readOnly.url, 'ops', 'ops-password');
    const res = await fire(readOnly.url, operator);
    expect(res.status).toBe(403);
    expect((await res.json()).error).toMatchObject({ code: 'read_only', message: expect.stringMatching(/READ_ONLY=1/) });
  });
});
