import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallRecord, DecodedMessage } from '../../lib/tap-contracts.ts';
import { decodedMessage } from '../tap/test-support.ts';
import { HistoryStore, StoreUnavailableError } from './store.ts';
import { HistoryWriter } from './writer.ts';
import { createTestDb, postgresAvailable, type TestDb } from './test-db.ts';
import { describeTarget, historyOptions, parseBytes, parseDuration } from './options.ts';

const HAVE_PG = await postgresAvailable();
if (!HAVE_PG && process.env.CI) throw new Error('PostgreSQL at 127.0.0.1:5432 is required under CI');
if (!HAVE_PG) console.warn('SKIPPING the PostgreSQL half of the store tests: no PostgreSQL at 127.0.0.1:5432');

const quiet = { warn: () => undefined, info: () => undefined };
const HOUR = 3_600_000;

function call(over: Partial<CallRecord> & { msgId: string }): CallRecord {
  return {
    method: 'get_console',
    target: { exchange: 'nova', topic: 'compute', server: 'compute-1', namespace: null, version: '5.0', routingKey: 'compute.compute-1' },
    caller: { replyQ: 'reply_aaa', process: null, connectionName: null, queueManager: null },
    serverProcess: null,
    requestId: 'req-11111111-2222-4333-8444-555555555555',
    publishedAt: 1000,
    timeoutMs: 60_000,
    timeoutSource: 'expiration',
    deadline: 61_000,
    callMonitorTimeout: null,
    monitorDeadline: null,
    state: 'inflight',
    outcome: null,
    cause: null,
    causeDetail: null,
    causeCertain: true,
    indistinguishable: [],
    heartbeats: 0,
    lastHeartbeatAt: null,
    failure: null,
    timeline: [{ ts: 1000, event: 'published', detail: 'to nova' }],
    latencyMs: null,
    updatedAt: 1000,
    ...over,
  };
}

describe('store options', () => {
  it('reads durations, sizes and targets, refusing bad values by name', () => {
    expect(parseDuration('7d')).toBe(7 * 24 * HOUR);
    expect(parseDuration('36h')).toBe(36 * HOUR);
    expect(() => parseDuration('forever')).toThrow(/HISTORY_RETENTION/);
    expect(parseBytes('2GB')).toBe(2e9);
    expect(() => parseBytes('12')).toThrow(/under 1 MiB/);
    const o = historyOptions({ DATABASE_URL: 'postgres://nova:s3cret@db.example:5432/osloscope' });
    expect(o.target.backend).toBe('postgres');
    expect(describeTarget(o.target)).toBe('postgres://nova@db.example:5432/osloscope');
    expect(historyOptions({}, '/srv').target).toEqual({ backend: 'sqlite', url: '/srv/data/osloscope-history.sqlite' });
    expect(() => historyOptions({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
    expect(historyOptions({}).queueBytes).toBe(32 * 1024 * 1024);
    expect(historyOptions({ HISTORY_QUEUE_BYTES: '8MiB' }).queueBytes).toBe(8 * 1024 * 1024);
    expect(() => historyOptions({ HISTORY_QUEUE_BYTES: 'lots' })).toThrow(/HISTORY_QUEUE_BYTES/);
  });
});

for (const backend of ['sqlite', 'postgres'] as const) {
  describe.skipIf(backend === 'postgres' && !HAVE_PG)(`history store on ${backend}`, () => {
    let db: TestDb;
    let store: HistoryStore;
    beforeAll(async () => {
      db = await createTestDb(backend);
      store = await HistoryStore.open(db.target);
    });
    afterAll(async () => {
      await store?.close();
      await db?.drop();
    });

    it('stores messages and calls, finds them by msg_id, request id, global request id, method and host', async () => {
      const now = Date.now();
      const msgs: DecodedMessage[] = [
        decodedMessage({ id: 'r1.1', ts: now, msgId: 'aa'.repeat(16), method: 'get_console', server: 'compute-1', requestId: 'req-11111111-2222-4333-8444-555555555555', context: { global_request_id: 'req-99999999-2222-4333-8444-555555555555', auth_token: '***' } }),
        decodedMessage({ id: 'r1.2', ts: now + 5, kind: 'reply', msgId: 'aa'.repeat(16), method: null, result: { ok: 1 } }),
        decodedMessage({ id: 'r1.3', ts: now + 9, msgId: 'bb'.repeat(16), method: 'build_instance' }),
      ];
      await store.write(
        msgs.map((message) => ({ message, transport: 'default', process: 'nova-api:42:abc' })),
        [
          { call: call({ msgId: 'aa'.repeat(16), publishedAt: now, updatedAt: now, globalRequestId: 'req-99999999-2222-4333-8444-555555555555' }), transport: 'default' },
          { call: call({ msgId: 'aa'.repeat(16), publishedAt: now, updatedAt: now + 5, state: 'done', outcome: 'result', latencyMs: 5, globalRequestId: 'req-99999999-2222-4333-8444-555555555555' }), transport: 'default' },
          { call: call({ msgId: 'bb'.repeat(16), publishedAt: now + 9, updatedAt: now + 9, method: 'build_instance', requestId: null }), transport: 'default' },
        ],
      );
      const c = await store.call('aa'.repeat(16));
      expect(c?.state).toBe('done');
      expect(c?.latencyMs).toBe(5);
      expect(c?.globalRequestId).toBe('req-99999999-2222-4333-8444-555555555555');
      expect((await store.messagesOfCalls(['aa'.repeat(16)])).map((m) => m.kind)).toEqual(['call', 'reply']);
      expect((await store.message('r1.3'))?.method).toBe('build_instance');
      expect(await store.message('nope')).toBeNull();
      const byGlobal = await store.findCalls({ kind: 'global_request_id', value: 'req-99999999-2222-4333-8444-555555555555', limit: 10 });
      expect(byGlobal.calls.map((x) => x.msgId)).toEqual(['aa'.repeat(16)]);
      expect((await store.findMessages({ kind: 'request_id', value: 'req-11111111-2222-4333-8444-555555555555', limit: 10 })).messages.map((m) => m.id)).toEqual(['r1.1']);
      expect((await store.findCalls({ kind: 'method', value: 'build_instance', limit: 10 })).calls).toHaveLength(1);
      expect((await store.findCalls({ kind: 'host', value: 'compute-1', limit: 1 })).truncated).toBe(true);
      expect((await store.findCalls({ kind: 'text', value: 'uild_inst', limit: 10 })).calls).toHaveLength(1);
      expect((await store.findCalls({ kind: 'msg_id', value: 'aa'.repeat(16), from: now + 1, limit: 10 })).calls).toHaveLength(0);
      expect((await store.relatedCalls(['req-11111111-2222-4333-8444-555555555555'])).map((x) => x.msgId)).toEqual(['aa'.repeat(16)]);
    });

    it('groups stuck calls by target and cause, newest first, and keeps acknowledgements until the group comes back', async () => {
      const now = Date.now();
      const stuck = (id: string, t: number, method = 'reboot', cause: CallRecord['cause'] = 'no_consumer') =>
        ({ call: call({ msgId: id, method, publishedAt: t, updatedAt: t, state: 'stuck', cause, caller: { replyQ: 'reply_x', process: 'nova-api:7', connectionName: null, queueManager: null } }), transport: 'default' });
      await store.write([], [stuck('c1', now - 3000), stuck('c2', now - 2000), stuck('c3', now - 1000, 'resize', 'no_reply')]);
      let g = await store.stuckGroups({});
      expect(g.groups.map((x) => [x.method, x.cause, x.count])).toEqual([['resize', 'no_reply', 1], ['reboot', 'no_consumer', 2]]);
      expect(g.groups[1].sampleMsgIds).toEqual(['c2', 'c1']);
      expect(g.groups[1].callerProcesses).toEqual(['nova-api:7']);
      const key = g.groups[1].key;
      expect(key).toBe('default|nova|compute|compute-1|reboot|no_consumer');
      await store.ack(key, 'alice', true, now - 500);
      g = await store.stuckGroups({ acked: 'yes' });
      expect(g.groups.map((x) => [x.key, x.ackedBy])).toEqual([[key, 'alice']]);
      await store.write([], [stuck('c4', now)]);
      g = await store.stuckGroups({ q: 'reboot' });
      expect(g.groups[0]).toMatchObject({ key, acked: false, newSinceAck: 1, count: 3 });
    });

    it('filters by transport inside its queries: a busy other transport does not push matches past the limit', async () => {
      const now = Date.now();
      const rid = 'req-77777777-2222-4333-8444-555555555555';
      // the busy transport's rows are the newest; the quiet one's are older than all of them
      const on = (transport: string, i: number, t: number) => ({
        message: decodedMessage({ id: `tf.${transport}.${i}`, ts: t, msgId: `tf-${transport}-${i}`, method: 'tf_method', server: 'tfhost', requestId: rid }),
        transport,
        process: null,
      });
      const callOn = (transport: string, i: number, t: number) => ({ call: call({ msgId: `tf-${transport}-${i}`, method: 'tf_method', requestId: rid, publishedAt: t, updatedAt: t }), transport });
      const busy = Array.from({ length: 20 }, (_, i) => i);
      await store.write(
        [on('quiet', 0, now - 100), on('quiet', 1, now - 99), ...busy.map((i) => on('busy', i, now + i))],
        [callOn('quiet', 0, now - 100), callOn('quiet', 1, now - 99), ...busy.map((i) => callOn('busy', i, now + i))],
      );
      for (const [kind, value] of [['method', 'tf_method'], ['text', 'tf_meth'], ['request_id', rid]] as const) {
        for (const scanChunk of [undefined, 3]) {
          const m = await store.findMessages({ kind, value, limit: 5, transport: 'quiet', scanChunk });
          expect(m.messages.map((x) => x.id), `${kind} ${scanChunk}`).toEqual(['tf.quiet.1', 'tf.quiet.0']);
          expect(m.truncated).toBe(false);
          const c = await store.findCalls({ kind, value, limit: 5, transport: 'quiet', scanChunk });
          expect(c.calls.map((x) => x.msgId), `${kind} ${scanChunk}`).toEqual(['tf-quiet-1', 'tf-quiet-0']);
          expect(c.truncated).toBe(false);
        }
        expect((await store.findMessages({ kind, value, limit: 5, transport: 'busy' })).messages.every((x) => x.id.startsWith('tf.busy.'))).toBe(true);
        // without a transport the busy one's newer rows fill the limit
        expect((await store.findMessages({ kind, value, limit: 5 })).messages.some((x) => x.id.startsWith('tf.quiet.'))).toBe(false);
      }
      expect((await store.findCalls({ kind: 'msg_id', value: 'tf-quiet-0', limit: 5, transport: 'busy' })).calls).toEqual([]);

      // stuck groups: five of the busy transport's, newer, and one of the quiet one's
      const stuck = (transport: string, id: string, t: number, method: string) =>
        ({ call: call({ msgId: id, method, publishedAt: t, updatedAt: t, state: 'stuck', cause: 'no_consumer' }), transport });
      await store.write([], [stuck('quiet', 'tfs-q1', now - 50, 'tf_quiet_stuck'), stuck('quiet', 'tfs-q2', now - 40, 'tf_quiet_stuck'), ...[0, 1, 2, 3, 4].map((i) => stuck('busy', `tfs-b${i}`, now + i, `tf_busy_${i}`))]);
      const g = await store.stuckGroups({ limit: 2, transport: 'quiet' });
      expect(g.groups.map((x) => [x.transport, x.method, x.count, x.sampleMsgIds])).toEqual([['quiet', 'tf_quiet_stuck', 2, ['tfs-q2', 'tfs-q1']]]);
      expect(g.totalCalls).toBe(2);
      expect(g.truncated).toBe(false);
      const b = await store.stuckGroups({ limit: 2, transport: 'busy' });
      expect(b.groups.map((x) => x.method)).toEqual(['tf_busy_4', 'tf_busy_3']);
      expect(b).toMatchObject({ totalCalls: 5, truncated: true });
      expect((await store.stuckGroups({ limit: 2 })).groups.some((x) => x.transport === 'quiet')).toBe(false);
    });

    it('fills a caller process late for calls through the same reply queue', async () => {
      const t = Date.now();
      await store.write([], [{ call: call({ msgId: 'late1', publishedAt: t, updatedAt: t, caller: { replyQ: 'reply_late', process: null, connectionName: null, queueManager: null } }), transport: 'default' }]);
      expect(await store.fillCaller('reply_late', 'nova-conductor:99', t - 1000)).toBe(1);
      expect((await store.call('late1'))?.caller.process).toBe('nova-conductor:99');
    });

    it('scans searches no index answers newest first in steps, the same answer as one query, bounded in time', async () => {
      const now = Date.now();
      const msgs = Array.from({ length: 40 }, (_, i) =>
        decodedMessage({ id: `scan.${i}`, ts: now + Math.floor(i / 3), msgId: `scan${i}`, method: i % 4 === 0 ? 'scan_target_method' : 'scan_other', server: `scanhost-${i}` }),
      );
      await store.write(msgs.map((message) => ({ message, transport: 'default', process: null })), []);
      // newest first; rows of the same ms come in any order (as from one query)
      const ids = (r: { messages: DecodedMessage[] }) => r.messages.map((m) => `${m.ts}|${m.id}`).sort().reverse();
      for (const [kind, value] of [['text', 'scan_target'], ['method', 'scan_target_method'], ['host', 'scanhost-8'], ['text', 'scanhost-']] as const) {
        const whole = await store.findMessages({ kind, value, limit: 100, scanChunk: 1_000_000 });
        expect(whole.messages.length).toBeGreaterThan(0);
        for (const scanChunk of [1, 5, 7]) expect(ids(await store.findMessages({ kind, value, limit: 100, scanChunk }))).toEqual(ids(whole));
        const limited = await store.findMessages({ kind, value, limit: 3, scanChunk: 2 });
        expect(limited.messages.map((m) => m.ts)).toEqual(whole.messages.slice(0, 3).map((m) => m.ts));
        expect(limited.truncated).toBe(whole.messages.length > 3);
      }
      // out of time after the first step: what was found, marked truncated
      const partial = await store.findMessages({ kind: 'text', value: 'scanhost-', limit: 100, scanChunk: 5, scanBudgetMs: 0 });
      expect(partial.truncated).toBe(true);
      expect(partial.messages.length).toBeGreaterThan(0);
      expect(partial.messages.length).toBeLessThan(40);
      expect(partial.messages.every((m) => m.id.startsWith('scan.'))).toBe(true);
      expect(partial.messages.map((m) => m.ts)).toEqual(msgs.map((m) => m.ts).reverse().slice(0, partial.messages.length));
      const calls = await store.findCalls({ kind: 'text', value: 'get_con', limit: 100, scanChunk: 1 });
      expect(calls.calls.map((c) => c.msgId)).toEqual((await store.findCalls({ kind: 'text', value: 'get_con', limit: 100 })).calls.map((c) => c.msgId));
    });

    it('keeps the newest change of a call when an older one lands later (batches written in parallel)', async () => {
      const t = Date.now();
      const c = (state: CallRecord['state'], updatedAt: number) => ({ call: call({ msgId: 'ooo1', publishedAt: t, updatedAt, state, outcome: state === 'done' ? 'result' : null }), transport: 'default' });
      await store.write([], [c('done', t + 50)]);
      await store.write([], [c('inflight', t + 10)]);
      expect((await store.call('ooo1'))?.state).toBe('done');
      await store.write([], [c('stuck', t + 60)]);
      expect((await store.call('ooo1'))?.state).toBe('stuck');
    });

    it('writes many batches through the writer with none lost, the bodies stored exactly', async () => {
      const listeners: ((e: { type: string; message?: DecodedMessage; call?: CallRecord }) => void)[] = [];
      const w = new HistoryWriter(store, { queueCapacity: 50_000, messageBytes: 4096, retentionMs: 24 * HOUR, retention: '1d', maxBytes: 1e12 }, quiet, 'default', 'many');
      w.attach({ on: (l) => (listeners.push(l as never), () => undefined) });
      const now = Date.now();
      for (let i = 0; i < 9000; i++) {
        listeners[0]({ type: 'tap:message', message: decodedMessage({ id: String(i), ts: now + i, msgId: `many${i >> 1}`, args: { q: 'say "hi"\\ \u00e9 \n', i } }) });
        if (i % 2) listeners[0]({ type: 'tap:call', call: call({ msgId: `many${i >> 1}`, publishedAt: now + i, updatedAt: now + i, state: 'done' }) });
      }
      await w.flush();
      expect(await w.status()).toMatchObject({ written: 13_500, dropped: 0, queueDepth: 0 });
      expect((await store.message('many.8999'))?.args).toEqual({ q: 'say "hi"\\ \u00e9 \n', i: 8999 });
      expect((await store.findMessages({ kind: 'msg_id', value: 'many4499', limit: 10 })).messages).toHaveLength(2);
      expect((await store.call('many4499'))?.state).toBe('done');
      await w.stop();
    });

    it('writes through the writer off the tap path, drops and counts past its bound, and keeps retention by age', async () => {
      const listeners: ((e: { type: string; message?: DecodedMessage }) => void)[] = [];
      const w = new HistoryWriter(store, { queueCapacity: 100, messageBytes: 4096, retentionMs: 24 * HOUR, retention: '1d', maxBytes: 1e12 }, quiet, 'default', 'wr1');
      w.attach({ on: (l) => (listeners.push(l as never), () => undefined) });
      const now = Date.now();
      for (let i = 0; i < 150; i++) listeners[0]({ type: 'tap:message', message: decodedMessage({ id: String(i), ts: now, msgId: 'cc'.repeat(16), args: { blob: 'x'.repeat(10_000) }, bytes: 10_100 }) });
      expect(w.droppedCount).toBe(50);
      await w.flush();
      const stored = await store.message('wr1.7');
      expect(stored?.truncatedBytes).toBeGreaterThan(10_000);
      const st = await w.status();
      expect(st).toMatchObject({ backend, dropped: 50, written: 100, queueDepth: 0, state: 'ok' });
      // an old message goes at the next retention pass, today's stay
      await store.write([{ message: decodedMessage({ id: 'old.1', ts: now - 3 * 24 * HOUR, msgId: 'dd'.repeat(16) }), transport: 'default', process: null }], []);
      expect(await store.message('old.1')).not.toBeNull();
      await w.retain(now);
      expect(await store.message('old.1')).toBeNull();
      expect(await store.message('wr1.7')).not.toBeNull();
      await w.stop();
    });

    it('bounds its queue by bytes too: large messages are cut to the stored size before they wait, and a flood past the bytes is dropped and counted', async () => {
      const listeners: ((e: { type: string; message?: DecodedMessage }) => void)[] = [];
      // room for 10 000 by count, 1 MiB by bytes: each 200 KB message waits cut to ~4 KB, so ~250 fit
      const w = new HistoryWriter(store, { queueCapacity: 10_000, queueBytes: 1024 * 1024, messageBytes: 4096, retentionMs: 24 * HOUR, retention: '1d', maxBytes: 1e12 }, quiet, 'default', 'wrb');
      w.attach({ on: (l) => (listeners.push(l as never), () => undefined) });
      const now = Date.now();
      for (let i = 0; i < 1000; i++) listeners[0]({ type: 'tap:message', message: decodedMessage({ id: String(i), ts: now, msgId: 'ee'.repeat(16), args: { blob: 'y'.repeat(200_000) }, bytes: 200_100 }) });
      const st = await w.status();
      expect(st.queueBytes).toBeLessThanOrEqual(1024 * 1024);
      expect(st.queueBytesCapacity).toBe(1024 * 1024);
      // ~2 KB each as stored: about half of the flood waits, the rest is dropped and counted
      expect(w.droppedCount).toBeGreaterThan(300);
      expect(w.droppedCount).toBeLessThan(900);
      await w.flush();
      const after = await w.status();
      expect(after.queueBytes).toBe(0);
      expect(after.written + after.dropped).toBe(1000);
      expect((await store.message('wrb.3'))?.truncatedBytes).toBeGreaterThan(190_000);
      await w.stop();
    });

    it('survives reopening (migrations are idempotent)', async () => {
      const again = await HistoryStore.open(db.target);
      expect((await again.call('aa'.repeat(16)))?.msgId).toBe('aa'.repeat(16));
      await again.close();
    });
  });
}

describe('unreachable store', () => {
  it('says so with StoreUnavailableError', async () => {
    await expect(HistoryStore.open({ backend: 'postgres', url: 'postgres://postgres@127.0.0.1:1/none' })).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(HistoryStore.open({ backend: 'sqlite', url: '/nonexistent-dir/x.sqlite' }, { create: false })).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});
