/**
 * The tap on the layouts modern clouds run (docs/wire.md#layouts), against
 * real Python oslo.messaging peers using TEST_PEER_LAYOUT's options on the
 * broker of TEST_TRANSPORT_URL / TEST_MANAGEMENT_URL (the matrix runs it per
 * stack and layout):
 * - fanout history: broadcasts read back from the `<topic>_fanout` stream
 *   (rabbit_stream_fanout) without taking anything from the services;
 * - stream fanouts, queue-manager reply queues and call-monitor calls as the
 *   tap sees them through the firehose;
 * - a reply that lands in a restarted service's reused reply queue
 *   (use_queue_manager) is classified late_reply_across_restart.
 * Each suite runs in its own vhost. Parts a layout cannot have are skipped
 * with the reason (streams need oslo.messaging 14.7.0+ with kolla's options).
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallRecord, TapEvent } from '../../lib/tap-contracts.ts';
import { Transport } from '../../server/messaging/index.ts';
import { FanoutHistoryError } from '../../server/tap/fanout-history.ts';
import { Tap } from '../../server/tap/index.ts';
import { createTestVhost, managementAvailable, TEST_MANAGEMENT_URL, waitFor, type TestVhost } from '../../server/tap/test-support.ts';
import { LAYOUT, PEER_LAYOUT, PYTHON, pythonAvailable, startPeer, uniqueName, type PythonPeer } from './python-peer.ts';

const ready = (await pythonAvailable()) && (await managementAvailable());
if (!ready && process.env.CI) throw new Error('Python oslo.messaging or the RabbitMQ management API is missing');

const FAST_RETRY = { intervalStartMs: 50, intervalStepMs: 100, intervalMaxMs: 500, reconnectDelayMs: 0 };
const SECRET = `gAAAAAB-${Math.random().toString(36).slice(2)}-token`;
const STREAMS = LAYOUT.streamFanout;
const QM = LAYOUT.queueManager;
const noStreams = `TEST_PEER_LAYOUT=${PEER_LAYOUT} has no rabbit_stream_fanout: broadcasts are not kept, so there is no fanout history (run with kolla or kolla50 on oslo.messaging >= 14.7.0)`;
const noQm = `TEST_PEER_LAYOUT=${PEER_LAYOUT} has no use_queue_manager: reply queues are reply_<uuid> and never reused after a restart`;
if (!STREAMS) console.warn(`[tap-layouts] fanout history skipped: ${noStreams}`);
if (!QM) console.warn(`[tap-layouts] restart epochs skipped: ${noQm}`);

async function openTap(vh: TestVhost, mode: 'bindings' | 'firehose'): Promise<{ tap: Tap; events: TapEvent[]; transport: Transport }> {
  const transport = new Transport(vh.url, { programName: 'osloscope', retryPolicy: FAST_RETRY });
  const tap = new Tap({ transport, mode, managementUrl: TEST_MANAGEMENT_URL, intervals: { tickMs: 200, discoveryMs: 500, lookupMs: 500 } });
  const events: TapEvent[] = [];
  tap.on((e) => events.push(e));
  await tap.start();
  return { tap, events, transport };
}

const invoked = (peer: PythonPeer, method?: string) => peer.filter((e) => e.event === 'invoked' && (method === undefined || e.method === method)).length;

/** Run a line of Python inside the peers' Python (a stack's chroot): /dev/shm there is the chroot's own. */
function python(code: string): Promise<void> {
  return new Promise((resolve, reject) => execFile(PYTHON, ['-c', code], { timeout: 30_000 }, (err, _o, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve())));
}

describe.skipIf(!ready || !STREAMS)('fanout history: broadcasts kept in the <topic>_fanout stream', () => {
  let vh: TestVhost;
  let server: PythonPeer;
  let client: PythonPeer;
  let tap: Tap;
  let transport: Transport;
  // no 'b' in the topic: the free-text filter "b1" below must match one body only, and free text also
  // searches the topic (a random hex suffix holding "b1" made every broadcast match)
  const topic = uniqueName('hist').replaceAll('b', 'x');
  // each broadcast was published between these two times: asked of the Python client, and its answer back
  // (oslo's cast returns once the broker confirmed it); on a loaded machine the two can be seconds apart
  const sentAt: number[] = [];
  const sentBy: number[] = [];
  let middle = 0;

  beforeAll(async () => {
    vh = await createTestVhost('osloscope-tap-hist');
    server = await startPeer('rpc-server', ['--url', vh.url, '--topic', topic, '--server', 'host1']);
    client = await startPeer('rpc-client', ['--url', vh.url]);
    const ctxt = { auth_token: SECRET, request_id: 'req-hist', user_id: 'u1' };
    // two batches with a whole second between them, all before the tap exists: "before osloscope started".
    // The time between them is what the `since` read below is about, and the clock is the broker's (stream
    // timestamps, and AMQP timestamps in whole seconds), so this waits for the clock: `middle` is the first
    // whole second at least a second after the last "a" (the ISO time the read is given has no fraction),
    // and the "b" batch starts a second after it.
    for (let i = 0; i < 4; i++) {
      sentAt.push(Date.now());
      await client.rpc({ op: 'cast', target: { topic, fanout: true }, method: 'echo', args: { value: `a${i}` }, ctxt });
      sentBy.push(Date.now());
    }
    middle = Math.ceil((Date.now() + 1000) / 1000) * 1000;
    await new Promise((r) => setTimeout(r, Math.max(0, middle + 1000 - Date.now())));
    for (let i = 0; i < 3; i++) {
      sentAt.push(Date.now());
      await client.rpc({ op: 'cast', target: { topic, fanout: true }, method: 'echo', args: { value: `b${i}` }, ctxt });
      sentBy.push(Date.now());
    }
    await waitFor(() => invoked(server) === 7, 'the Python server received the 7 broadcasts', 15_000);
    ({ tap, transport } = await openTap(vh, 'bindings'));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([server?.stop(), client?.stop()]);
    await tap?.stop();
    await transport?.close();
    await vh?.remove();
  });

  it('reads the last 30 minutes in order, decoded and redacted, with offsets and publish-time brackets', async () => {
    const h = await tap.fanoutHistory({ topic, since: '30m' });
    expect(h).toMatchObject({ topic, queue: `${topic}_fanout`, stoppedBy: 'tail', read: 7, retention: '1800s' });
    expect(h.entries.map((e) => e.message.args)).toEqual(['a0', 'a1', 'a2', 'a3', 'b0', 'b1', 'b2'].map((value) => ({ value })));
    for (const e of h.entries) {
      expect(e.message).toMatchObject({ kind: 'fanout', topic, method: 'echo', requestId: 'req-hist' });
      expect(e.message.context.auth_token).toBe('***');
      expect(JSON.stringify(e)).not.toContain(SECRET);
      expect(e.message.broker?.streamOffset).toBe(e.offset);
    }
    const offsets = h.entries.map((e) => e.offset as number);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(new Set(offsets).size).toBe(7);
    // every bracket holds the real send time (AMQP timestamps are whole seconds: a second of slack)
    h.entries.forEach((e, i) => {
      expect(e.before).not.toBeNull();
      expect(e.after).not.toBeNull();
      expect(e.before as number).toBeGreaterThanOrEqual(sentAt[i] - 1000);
      expect(e.after as number).toBeLessThanOrEqual(sentBy[i] + 1000);
      // probed down to a few seconds (stream chunks and AMQP timestamps are coarser than the sends)
      expect((e.before as number) - (e.after as number)).toBeLessThanOrEqual(5000);
    });
  });

  it('takes nothing: the server still has its consumer and gets the next broadcast, the history consumer is gone', async () => {
    await tap.fanoutHistory({ topic, since: 'first' });
    await client.rpc({ op: 'cast', target: { topic, fanout: true }, method: 'echo', args: { value: 'after' } });
    await waitFor(() => invoked(server) === 8, 'the broadcast sent after the reads reached the server', 15_000);
    await waitFor(async () => (await vh.queue(`${topic}_fanout`))?.consumers === 1, 'only the Python server consumes the stream again', 15_000);
  });

  it('starts where asked: first with a limit, an offset, a time between the batches', async () => {
    const two = await tap.fanoutHistory({ topic, since: 'first', limit: 2 });
    expect(two.entries.map((e) => (e.message.args as { value: string }).value)).toEqual(['a0', 'a1']);
    expect(two.stoppedBy).toBe('limit');
    const all = await tap.fanoutHistory({ topic, since: 'first' });
    const b0 = all.entries.find((e) => (e.message.args as { value: string }).value === 'b0');
    const fromB0 = await tap.fanoutHistory({ topic, since: String(b0?.offset) });
    expect(fromB0.entries.map((e) => (e.message.args as { value: string }).value)).toEqual(['b0', 'b1', 'b2', 'after']);
    const since = await tap.fanoutHistory({ topic, since: new Date(middle).toISOString().replace(/\.\d+Z$/, 'Z') });
    const values = since.entries.map((e) => (e.message.args as { value: string }).value);
    expect(values).toEqual(expect.arrayContaining(['b0', 'b1', 'b2', 'after']));
    expect(values).not.toContain('a0');
    const filtered = await tap.fanoutHistory({ topic, since: 'first', filter: '"b1"' });
    expect(filtered.entries.map((e) => (e.message.args as { value: string }).value)).toEqual(['b1']);
    expect(filtered.read).toBeGreaterThan(1);
  });

  it('refuses a topic without a stream, naming why', async () => {
    const err = await tap.fanoutHistory({ topic: 'no-such-topic', since: '30m' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FanoutHistoryError);
    expect(err).toMatchObject({ status: 404, code: 'no_stream' });
    expect((err as Error).message).toMatch(/no queue named no-such-topic_fanout\..*rabbit_stream_fanout/);
    const bad = await tap.fanoutHistory({ topic, since: 'yesterday' }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400, code: 'validation_failed' });
  });
});

describe.skipIf(!ready)(`the tap through the firehose on the ${PEER_LAYOUT} layout`, () => {
  let vh: TestVhost;
  let server: PythonPeer;
  let client: PythonPeer;
  let tap: Tap;
  let transport: Transport;
  let events: TapEvent[];
  const topic = uniqueName('lay');

  beforeAll(async () => {
    vh = await createTestVhost('osloscope-tap-layout', { tracing: true });
    server = await startPeer('rpc-server', ['--url', vh.url, '--topic', topic, '--server', 'node-1.cloud.example.org']);
    // hostname/processname exist with use_queue_manager's release (14.7.0) only
    const names = QM ? ['--conf', 'oslo_messaging_rabbit.hostname=ctl-7', '--conf', 'oslo_messaging_rabbit.processname=nova-api'] : [];
    client = await startPeer('rpc-client', ['--url', vh.url, ...names]);
    ({ tap, events, transport } = await openTap(vh, 'firehose'));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([server?.stop(), client?.stop()]);
    await tap?.stop();
    await transport?.close();
    await vh?.remove();
  });

  it('classifies fanouts (stream or not), server casts to FQDN servers, calls and their replies', async () => {
    expect(tap.status().mode).toBe('firehose');
    await client.rpc({ op: 'cast', target: { topic, fanout: true }, method: 'echo', args: { value: 'f' } });
    await client.rpc({ op: 'cast', target: { topic, server: 'node-1.cloud.example.org' }, method: 'echo', args: { value: 's' } });
    const answer = await client.rpc({ op: 'call', target: { topic }, method: 'echo', args: { value: 'c' }, timeout: 20 });
    expect(answer.ok).toBe(true);
    await waitFor(() => tap.calls({ state: 'done' }).some((c) => c.method === 'echo'), 'the call is done', 15_000);
    const msgs = tap.recent({ limit: 100 });
    expect(msgs.find((m) => m.kind === 'fanout')).toMatchObject({ topic, method: 'echo' });
    expect(msgs.find((m) => m.kind === 'cast')).toMatchObject({ topic, server: 'node-1.cloud.example.org' });
    const call = tap.calls({ state: 'done' }).find((c) => c.method === 'echo') as CallRecord;
    expect(call.outcome).toBe('result');
    if (QM) {
      expect(call.caller.replyQ).toMatch(/^reply_ctl-7:nova-api:\d+$/);
      expect(call.caller.queueManager).toMatchObject({ host: 'ctl-7', process: 'nova-api' });
    } else expect(call.caller.queueManager).toBeNull();
    expect(events.some((e) => e.type === 'tap:call')).toBe(true);
  });

  it("declares its own queues exclusive (never durable:false + exclusive:false, denied on 4.3), with x-expires and a drop-head cap", async () => {
    const bindings = await openTap(vh, 'bindings');
    try {
      const queues = [...tap.status().tapQueues, ...bindings.tap.status().tapQueues];
      expect(queues.length).toBe(2);
      for (const name of queues) {
        const q = await vh.mgmt.request<{ exclusive: boolean; durable: boolean; arguments: Record<string, unknown> }>(`/queues/${encodeURIComponent(vh.name)}/${encodeURIComponent(name)}`);
        expect(q).toMatchObject({ exclusive: true, durable: false, arguments: { 'x-expires': 300_000, 'x-max-length': 100_000, 'x-overflow': 'drop-head' } });
      }
    } finally {
      await bindings.tap.stop();
      await bindings.transport.close();
    }
  });

  it('shows the broker view of this layout: stream retention, no false alarms for idle orphans', async () => {
    const view = await tap.brokerView();
    const fanout = view.queues.find((q) => q.kind === 'fanout' && q.topic === topic);
    if (STREAMS) expect(fanout).toMatchObject({ name: `${topic}_fanout`, queueType: 'stream', depthIs: 'retention', health: 'ok' });
    else expect(fanout).toMatchObject({ depthIs: 'backlog' });
    for (const q of view.queues.filter((x) => x.kind === 'reply' && (x.consumers ?? 0) > 0)) expect(q.health).toBe('ok');
  });

  it('call-monitor calls: heartbeats counted, the monitor deadline moves with them', async () => {
    const answer = await client.rpc({ op: 'call', target: { topic }, method: 'sleep', args: { secs: 3 }, timeout: 30, call_monitor_timeout: 2 });
    expect(answer.ok).toBe(true);
    await waitFor(() => tap.calls({ state: 'done' }).some((c) => c.method === 'sleep'), 'the sleep call is done', 15_000);
    const c = tap.calls({ state: 'done' }).find((x) => x.method === 'sleep') as CallRecord;
    expect(c.callMonitorTimeout).toBe(2);
    expect(c.heartbeats).toBeGreaterThanOrEqual(2);
    expect(c.monitorDeadline).toBe((c.lastHeartbeatAt as number) + 2000);
    expect(c.timeline.find((e) => e.event === 'published')?.detail).toMatch(/gives up after 2 s without a heartbeat/);
  });
});

describe.skipIf(!ready || !QM)('late_reply_across_restart: a queue-manager reply queue reused by the restarted caller', () => {
  let vh: TestVhost;
  let server: PythonPeer;
  let first: PythonPeer;
  let second: PythonPeer;
  let tap: Tap;
  let transport: Transport;
  const topic = uniqueName('rst');
  const host = uniqueName('ctl').replace(/-/g, '');
  const proc = 'nova-conductor';
  const conf = ['--conf', `oslo_messaging_rabbit.hostname=${host}`, '--conf', `oslo_messaging_rabbit.processname=${proc}`];
  /** the queue manager's counter file: gone when the service restarts on a new machine or container */
  const removeCounter = () => python(`import os\ntry: os.remove('/dev/shm/${host}_${proc}_qmanager')\nexcept FileNotFoundError: pass`);

  beforeAll(async () => {
    vh = await createTestVhost('osloscope-tap-restart', { tracing: true });
    server = await startPeer('rpc-server', ['--url', vh.url, '--topic', topic, '--server', 'h1']);
    ({ tap, transport } = await openTap(vh, 'firehose'));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([server?.stop(), first?.stop(), second?.stop()]);
    await tap?.stop();
    await transport?.close();
    await removeCounter().catch(() => undefined);
    await vh?.remove();
  });

  it('a reply that waited in the queue goes to the new process, and the call is classified with the restart, caller kept', async () => {
    // a retry starts over: no process of an earlier attempt consumes the reply queue, the counter starts at 1 again,
    // and only this attempt's calls count
    await Promise.all([first?.stop(), second?.stop()]);
    await removeCounter();
    const since = Date.now();
    const calls = (state?: CallRecord['state']) => tap.calls(state ? { state } : {}).filter((c) => c.publishedAt >= since);
    first = await startPeer('rpc-client', ['--url', vh.url, ...conf]);
    // a quick call makes the first process declare and consume reply_<host>:<proc>:1, and the tap learn who consumes it
    expect((await first.rpc({ op: 'call', target: { topic }, method: 'echo', args: { value: 1 }, timeout: 20 })).ok).toBe(true);
    const replyQ = `reply_${host}:${proc}:1`;
    await waitFor(() => calls('done').some((c) => c.caller.replyQ === replyQ && c.caller.connectionName !== null), 'the first caller is known', 15_000);
    const slow = first.rpc({ op: 'call', target: { topic }, method: 'sleep', args: { secs: 6 }, timeout: 30 }).catch(() => null);
    await waitFor(() => calls('inflight').some((c) => c.method === 'sleep'), 'the slow call is in flight', 15_000);
    const msgId = (calls('inflight').find((c) => c.method === 'sleep') as CallRecord).msgId;
    const slowCall = () => tap.calls({}).find((c) => c.msgId === msgId);
    // the service restarts: the process dies, a new one (new process group) reuses the same name
    await first.kill();
    void slow;
    await removeCounter();
    // The server answers while no process consumes the queue; the reply waits in it, and the new process's connection
    // is delivered it the moment it consumes, before the broker lists that connection (the tap must wait for its name).
    await waitFor(() => slowCall()?.timeline.some((e) => e.event === 'reply_published') === true, 'the slow call answered', 20_000);
    second = await startPeer('rpc-client', ['--url', vh.url, ...conf]);
    expect((await second.rpc({ op: 'call', target: { topic }, method: 'echo', args: { value: 2 }, timeout: 20 })).ok).toBe(true);
    await waitFor(
      () => slowCall()?.state === 'stuck' && slowCall()?.cause === 'late_reply_across_restart',
      'the slow call classified late_reply_across_restart',
      45_000,
    ).catch((err: unknown) => {
      const seen = calls().map((c) => ({ method: c.method, state: c.state, cause: c.cause, detail: c.causeDetail, caller: c.caller, timeline: c.timeline }));
      throw new Error(`${(err as Error).message}; calls: ${JSON.stringify(seen, null, 1).slice(0, 6000)}`);
    });
    const c = slowCall() as CallRecord;
    expect(c.caller).toMatchObject({ replyQ, queueManager: { host, process: proc, n: 1 } });
    expect(c.causeCertain).toBe(true);
    expect(c.causeDetail).toMatch(new RegExp(`its service ${proc} on ${host} restarted`));
    expect(c.causeDetail).toMatch(/No calling threads waiting for msg_id/);
    expect(c.timeline.find((e) => e.event === 'reply_delivered')?.detail).toMatch(/not to the caller/);
    // the new process's own calls are fine
    expect(calls('done').filter((x) => x.caller.replyQ === replyQ).length).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
