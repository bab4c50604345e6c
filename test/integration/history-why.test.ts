/**
 * The history store end to end: a real Python oslo.messaging caller times out
 * against no server on the real RabbitMQ (firehose mode); its own exception
 * text, pasted into `osloscope why` and GET /api/search, finds the call with
 * the right cause — with the dashboard running, after it stopped, and after
 * osloscope restarted on the same store. Once on the SQLite file, once with
 * DATABASE_URL on PostgreSQL.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../lib/tap-contracts.ts';
import type { CallStory, HistoryStatus, SearchResult, StuckGroups } from '../../lib/history-contracts.ts';
import { runWhyCommand } from '../../bin/commands/why.ts';
import { loadConfig } from '../../server/config.ts';
import { startOsloscope, type RunningServer } from '../../server/index.ts';
import { createTestVhost, managementAvailable, TEST_MANAGEMENT_URL, waitFor, type TestVhost } from '../../server/tap/test-support.ts';
import { createTestDb, postgresAvailable, type TestDb } from '../../server/store/test-db.ts';
import { pythonAvailable, startPeer, type PythonPeer } from '../interop/python-peer.ts';
import pino from 'pino';

const ready = (await pythonAvailable()) && (await managementAvailable());
if (!ready && process.env.CI) throw new Error('Python oslo.messaging or the RabbitMQ management API is missing');
const HAVE_PG = await postgresAvailable();
if (!HAVE_PG && process.env.CI) throw new Error('PostgreSQL at 127.0.0.1:5432 is required under CI');

async function why(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void) => new Writable({ write: (c, _e, done) => (f(String(c)), done()) });
  const code = await runWhyCommand(args, { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), env });
  return { code, out, err };
}

async function get<T>(server: RunningServer, path: string): Promise<{ status: number; body: { ok: boolean; data: T; error?: { code: string; message: string } } }> {
  const r = await fetch(`${server.url}${path}`);
  return { status: r.status, body: (await r.json()) as never };
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe.skipIf(!ready || (backend === 'postgres' && !HAVE_PG))(`history on ${backend}: a Python caller's timeout line finds its call`, () => {
    let vh: TestVhost;
    let db: TestDb;
    let client: PythonPeer;
    let server: RunningServer | null = null;
    let env: Record<string, string>;
    let timeoutText = '';
    let msgId = '';

    const start = async () => {
      const config = loadConfig(env);
      server = await startOsloscope(config, { withoutPages: true, log: pino({ level: 'silent' }) });
      await waitFor(async () => (await get<{ tap: { state: string; mode: string } }>(server as RunningServer, '/api/health')).body.data.tap?.mode === 'firehose', 'the tap in firehose mode', 30_000, 200);
    };

    beforeAll(async () => {
      vh = await createTestVhost(`osloscope-history-${backend}`, { tracing: true });
      db = await createTestDb(backend);
      env = {
        TRANSPORT_URL: vh.url,
        TAP_MODE: 'firehose',
        RABBITMQ_MANAGEMENT_URL: TEST_MANAGEMENT_URL,
        HOST: '127.0.0.1',
        PORT: '0',
        AUDIT_LOG: `/tmp/osloscope-history-audit-${process.pid}.log`,
        ...(backend === 'postgres' ? { DATABASE_URL: db.target.url } : { HISTORY_DATABASE: db.target.url }),
      };
      await start();
      client = await startPeer('rpc-client', ['--url', vh.url]);
    }, 120_000);

    afterAll(async () => {
      await client?.stop();
      await server?.close();
      await vh?.remove();
      await db?.drop();
    });

    it('the timeout text Python raised finds the unroutable call, over HTTP and with `osloscope why`', async () => {
      const answer = await client.rpc({ op: 'call', target: { topic: 'nobody-home' }, method: 'reboot_instance', args: { id: 1 }, ctxt: { request_id: 'req-0b7d3c1e-52a4-4d0b-9a52-6f1c2d3e4f50' }, timeout: 2 });
      expect(answer.ok).toBe(false);
      if (answer.ok) return;
      expect(answer.type).toBe('MessagingTimeout');
      timeoutText = `oslo_messaging.exceptions.MessagingTimeout: ${answer.message}`;
      msgId = /[0-9a-f]{32}/.exec(answer.message)?.[0] ?? '';
      expect(msgId).toMatch(/^[0-9a-f]{32}$/);

      const s = server as RunningServer;
      const found = await waitFor(
        async () => {
          const r = await get<SearchResult>(s, `/api/search?q=${encodeURIComponent(timeoutText)}`);
          return r.body.data.calls.find((c) => c.msgId === msgId && c.cause === 'unroutable') ? r.body.data : null;
        },
        'the call classified unroutable in search',
        30_000,
        250,
      );
      expect(found.query.kind).toBe('msg_id');
      expect(found.query.from).toMatch(/^oslo timeout/);

      const story = await get<CallStory>(s, `/api/calls/${msgId}`);
      expect(story.status).toBe(200);
      expect(story.body.data.call).toMatchObject({ msgId, method: 'reboot_instance', cause: 'unroutable', state: 'stuck' });
      expect(story.body.data.messages.some((m) => m.kind === 'call' && m.msgId === msgId)).toBe(true);
      const messageId = story.body.data.messages[0].id;
      expect((await get(s, `/api/messages/${encodeURIComponent(messageId)}`)).status).toBe(200);
      expect((await get(s, '/api/calls/00000000000000000000000000000000')).status).toBe(404);
      expect((await get(s, '/api/search?q=')).status).toBe(400);

      // the call and its request are in the store now, not only in memory
      const st = await waitFor(async () => {
        const r = await get<HistoryStatus>(s, '/api/history');
        return r.body.data.calls > 0 && r.body.data.messages > 0 ? r.body.data : null;
      }, 'rows in the store', 15_000, 200);
      expect(st).toMatchObject({ enabled: true, backend, state: 'ok', dropped: 0 });
      expect(st.location).not.toMatch(/:[^@/]*@/);

      const groups = await get<StuckGroups>(s, '/api/stuck-groups?q=nobody-home');
      const g = groups.body.data.groups.find((x) => x.cause === 'unroutable' && x.method === 'reboot_instance');
      expect(g?.sampleMsgIds).toContain(msgId);
      const ack = await fetch(`${s.url}/api/stuck-groups/ack`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: g?.key }) });
      expect(ack.status).toBe(200);
      expect(((await ack.json()) as { data: { acked: boolean } }).data.acked).toBe(true);

      // the CLI reads the same store while the dashboard runs
      const w = await waitFor(async () => {
        const r = await why([timeoutText, '--json'], env);
        return r.code === 0 && (JSON.parse(r.out.split('\n')[0]) as { cause: string }).cause === 'unroutable' ? r : null;
      }, 'why finds the stored stuck call', 15_000, 250);
      const j = JSON.parse(w.out.trim().split('\n')[0]) as { msgId: string; state: string; cause: string; method: string; target: { exchange: string; topic: string; server: string | null }; timeline: { event: string }[] };
      expect(j).toMatchObject({ msgId, state: 'stuck', cause: 'unroutable', method: 'reboot_instance', target: { topic: 'nobody-home', server: null } });
      expect(j.timeline.map((t) => t.event)).toEqual(['published', 'unroutable', 'timeout', 'classified']);
    }, 90_000);

    it('after osloscope stops `why` still tells the story, and after a restart the API finds the call from the store', async () => {
      await server?.close();
      server = null;
      const down = await why([timeoutText], env);
      expect(down.code).toBe(0);
      expect(down.out).toContain(`call ${msgId}: reboot_instance()`);
      expect(down.out).toContain('STUCK: unroutable');
      const byRequest = await why(['req-0b7d3c1e-52a4-4d0b-9a52-6f1c2d3e4f50', '--json'], env);
      expect(byRequest.code).toBe(0);
      const none = await why(['ffffffffffffffffffffffffffffffff'], env);
      expect(none.code).toBe(1);

      await start();
      const s = server as unknown as RunningServer;
      const story = await get<CallStory>(s, `/api/calls/${msgId}`);
      expect(story.status).toBe(200);
      expect(story.body.data.call as CallRecord).toMatchObject({ msgId, cause: 'unroutable' });
      const groups = await get<StuckGroups>(s, '/api/stuck-groups?acked=yes');
      expect(groups.body.data.groups.some((x) => x.method === 'reboot_instance' && x.acked)).toBe(true);
    }, 90_000);
  });
}
