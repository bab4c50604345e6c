/**
 * The tap watching real Python oslo.messaging 14.0.3 services on the real
 * RabbitMQ: every kind is seen and classified with the right method and
 * target, the services still receive 100% of their messages, secrets never
 * leave the tap, and every stuck-call cause is produced for real in firehose
 * mode and classified right. Each suite runs in its own vhost (tracing is
 * never turned on for `/`).
 */
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallRecord, StuckCause, TapEvent, TapModeSetting } from '../../lib/tap-contracts.ts';
import { Transport } from '../../server/messaging/index.ts';
import { Tap } from '../../server/tap/index.ts';
import { createTestVhost, managementAvailable, TEST_MANAGEMENT_URL, waitFor, type TestVhost } from '../../server/tap/test-support.ts';
import { LAYOUT, pythonAvailable, pythonOsloAtLeast, pythonReplyQueuePattern, startPeer, type PythonPeer } from './python-peer.ts';

const ready = (await pythonAvailable()) && (await managementAvailable());
if (!ready && process.env.CI) throw new Error('Python oslo.messaging or the RabbitMQ management API is missing');

const FAST_RETRY = { intervalStartMs: 50, intervalStepMs: 100, intervalMaxMs: 500, reconnectDelayMs: 0 };
const SECRET = `gAAAAAB-${Math.random().toString(36).slice(2)}-token`;
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}`;

async function openTap(vh: TestVhost, mode: TapModeSetting): Promise<{ tap: Tap; events: TapEvent[]; transport: Transport }> {
  const transport = new Transport(vh.url, { programName: 'osloscope', retryPolicy: FAST_RETRY });
  const tap = new Tap({ transport, mode, managementUrl: TEST_MANAGEMENT_URL, intervals: { tickMs: 200, discoveryMs: 500, lookupMs: 1000 } });
  const events: TapEvent[] = [];
  tap.on((e) => events.push(e));
  await tap.start();
  return { tap, events, transport };
}

const invokedCount = (peer: PythonPeer) => peer.filter((e) => e.event === 'invoked').length;

describe.skipIf(!ready).each(['bindings', 'firehose'] as const)('tap (%s mode) on Python oslo.messaging traffic', (mode) => {
  let vh: TestVhost;
  let tap: Tap;
  let events: TapEvent[];
  let transport: Transport;
  let server: PythonPeer;
  let client: PythonPeer;
  let notifier: PythonPeer;
  const N = 15;

  beforeAll(async () => {
    vh = await createTestVhost(`osloscope-tap-py-${mode}`, { tracing: mode === 'firehose' });
    // the server declares the control exchange and compute_fanout; the tap then finds them
    server = await startPeer('rpc-server', ['--url', vh.url, '--topic', 'compute', '--server', 'host1']);
    client = await startPeer('rpc-client', ['--url', vh.url]);
    notifier = await startPeer('notify', ['--url', vh.url]);
    ({ tap, events, transport } = await openTap(vh, mode));
  }, 90_000);

  afterAll(async () => {
    await Promise.all([server?.stop(), client?.stop(), notifier?.stop()]);
    await tap?.stop();
    await transport?.close();
    await vh?.remove();
  });

  it('sees every kind, classified with method and target, while the server receives every call and cast', async () => {
    expect(tap.status().mode).toBe(mode);
    if (mode === 'bindings') expect(tap.status().fanoutExchanges).toEqual(['compute_fanout']);
    const ctxt = { auth_token: SECRET, request_id: 'req-tap-1', user_id: 'u1', project_id: 'p1' };
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < N; i++) {
      sends.push(client.rpc({ op: 'call', target: { topic: 'compute' }, method: 'echo', args: { value: { n: i, password: PASSWORD } }, ctxt, timeout: 20 }));
      sends.push(client.rpc({ op: 'cast', target: { topic: 'compute', server: 'host1' }, method: 'echo', args: { value: i }, ctxt }));
    }
    for (let i = 0; i < 5; i++) sends.push(client.rpc({ op: 'cast', target: { topic: 'compute', fanout: true }, method: 'echo', args: { value: `f${i}` }, ctxt }));
    sends.push(client.rpc({ op: 'call', target: { topic: 'compute', namespace: 'ns1', version: '2.1' }, method: 'ns_method', args: { x: 7 }, ctxt, timeout: 20 }));
    sends.push(client.rpc({ op: 'call', target: { topic: 'compute', server: 'host1' }, method: 'fail', args: { message: `db rabbit://nova:${PASSWORD}@ctl/ down` }, ctxt, timeout: 20 }));
    const answers = (await Promise.all(sends)) as { ok: boolean; type?: string }[];
    expect(answers.filter((a) => !a.ok).map((a) => a.type)).toEqual(['ValueError']);
    await notifier.notify({ driver: 'messagingv2', publisher_id: 'compute.host1', event_type: 'compute.instance.update', priority: 'info', payload: { state: 'active', admin_password: PASSWORD }, ctxt });
    await notifier.notify({ driver: 'messaging', publisher_id: 'compute.host1', event_type: 'compute.instance.create.error', priority: 'error', payload: { id: 'vm1' }, ctxt });

    const sent = N + N + 5 + 2;
    // 100%: the tap takes copies only; the Python server still got every call, cast and fanout
    await waitFor(() => invokedCount(server) === sent, `${sent} invocations on the Python server`, 20_000);
    const expected = { call: N + 2, cast: N, fanout: 5, notification: 2, reply: mode === 'firehose' ? N + 2 : 0 };
    await waitFor(() => {
      const k = tap.snapshot().rates.totalsByKind;
      return k.call === expected.call && k.cast === expected.cast && k.fanout === expected.fanout && k.notification === expected.notification && k.reply === expected.reply;
    }, `tap totals ${JSON.stringify(expected)}`);
    await new Promise((r) => setTimeout(r, 300));
    expect(invokedCount(server)).toBe(sent);
    expect(tap.snapshot().rates.totalsByKind).toMatchObject({ ...expected, unknown: 0 });
    expect(tap.status().counters.undecodable).toBe(0);

    const recent = tap.recent({ limit: 500 });
    const call = recent.find((m) => m.kind === 'call' && m.method === 'echo');
    expect(call).toMatchObject({ exchange: 'openstack', routingKey: 'compute', topic: 'compute', server: null, timeoutMs: 20_000, requestId: 'req-tap-1', enveloped: true });
    expect(call?.msgId).toMatch(/^[0-9a-f]{32}$/);
    expect(call?.replyQ).toMatch(pythonReplyQueuePattern());
    expect(call?.context).toMatchObject({ user_id: 'u1', project_id: 'p1', auth_token: '***' });
    expect((call?.args as { value: { password: string } }).value.password).toBe('***');
    expect(recent.find((m) => m.kind === 'cast')).toMatchObject({ routingKey: 'compute.host1', topic: 'compute', server: 'host1', method: 'echo', timeoutMs: null });
    expect(recent.find((m) => m.kind === 'fanout')).toMatchObject({ exchange: 'compute_fanout', routingKey: '', topic: 'compute', method: 'echo' });
    expect(recent.find((m) => m.method === 'ns_method')).toMatchObject({ kind: 'call', namespace: 'ns1', version: '2.1', args: { x: 7 } });
    expect(recent.find((m) => m.method === 'fail')).toMatchObject({ kind: 'call', server: 'host1' });
    const notes = recent.filter((m) => m.kind === 'notification');
    expect(notes.map((m) => [m.eventType, m.priority, m.publisherId, m.topic, m.enveloped])).toEqual([
      ['compute.instance.update', 'INFO', 'compute.host1', 'notifications', true],
      ['compute.instance.create.error', 'ERROR', 'compute.host1', 'notifications', false],
    ]);
    expect(notes[0].payload).toEqual({ state: 'active', admin_password: '***' });
    expect(tap.recent({ filter: 'kind:call method:echo request_id:req-tap-1' })).toHaveLength(N);

    if (mode === 'firehose') {
      const failed = recent.find((m) => m.kind === 'reply' && m.failure !== null);
      expect(failed?.failure).toMatchObject({ class: 'ValueError', module: 'builtins' });
      expect(failed?.failure?.message).toContain('rabbit://nova:***@ctl/');
      await tap.tick();
      const calls = tap.calls({ state: 'done' });
      expect(calls).toHaveLength(N + 2);
      expect(calls.filter((c) => c.outcome === 'failure').map((c) => c.method)).toEqual(['fail']);
      expect(calls.every((c) => c.latencyMs !== null && c.timeline.some((t) => t.event === 'reply_delivered'))).toBe(true);
      // callers and servers by process, once the management API lists the Python connections
      await waitFor(async () => {
        await tap.tick();
        const c = tap.calls({ state: 'done' })[0];
        return c.caller.process === `oslo_peer.py:${client.pid}` && c.serverProcess === `oslo_peer.py:${server.pid}`;
      }, 'caller and server processes resolved', 20_000);
      const h = tap.latency();
      expect(h.series.find((s) => s.labels.method === 'echo')?.count).toBe(N);
    } else {
      expect(tap.status().canSeeReplies).toBe(false);
      expect(tap.calls({ state: 'inflight' })).toHaveLength(N + 2);
    }
  }, 90_000);

  it('never lets a secret out: messages, calls, events and the broker view are redacted', async () => {
    const everything = JSON.stringify({ recent: tap.recent({ limit: 5000 }), calls: tap.calls({ limit: 5000 }), events, view: await tap.brokerView(), status: tap.status() });
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain(PASSWORD);
    expect(everything).toContain('***');
  });
});

describe.skipIf(!ready)('stuck-call causes produced for real (firehose mode)', () => {
  let vh: TestVhost;
  let tap: Tap;
  let transport: Transport;
  let client: PythonPeer;
  const peers: PythonPeer[] = [];

  beforeAll(async () => {
    vh = await createTestVhost('osloscope-tap-stuck', { tracing: true });
    client = await startPeer('rpc-client', ['--url', vh.url]);
    peers.push(client);
    ({ tap, transport } = await openTap(vh, 'auto'));
    expect(tap.status().mode).toBe('firehose');
  }, 60_000);

  afterAll(async () => {
    for (const p of peers) {
      if (p.pid && !p.exitStatus) {
        try {
          process.kill(p.pid, 'SIGCONT');
        } catch {
          // already gone
        }
      }
    }
    await Promise.all(peers.map((p) => p.stop()));
    await tap?.stop();
    await transport?.close();
    await vh?.remove();
  });

  async function server(topic: string, extra: string[] = []): Promise<PythonPeer> {
    const p = await startPeer('rpc-server', ['--url', vh.url, '--topic', topic, '--server', `${topic}-host`, ...extra]);
    peers.push(p);
    return p;
  }

  const callsTo = (topic: string) => tap.calls({ limit: 1000 }).filter((c) => c.target.topic === topic);

  async function stuck(topic: string, cause: StuckCause, timeoutMs = 20_000): Promise<CallRecord> {
    try {
      return await waitFor(() => callsTo(topic).find((c) => c.state === 'stuck' && c.cause === cause), `a ${cause} call on ${topic}`, timeoutMs);
    } catch (err) {
      const seen = callsTo(topic).map((c) => ({ state: c.state, cause: c.cause, detail: c.causeDetail, timeline: c.timeline }));
      throw new Error(`${(err as Error).message}; calls seen: ${JSON.stringify(seen)}`);
    }
  }

  it('unroutable: a call to a topic nothing is bound for', async () => {
    const answer = await client.rpc({ op: 'call', target: { topic: 'nobody-home' }, method: 'echo', args: { value: 1 }, timeout: 2 });
    expect(answer).toMatchObject({ ok: false, type: 'MessagingTimeout' });
    const c = await stuck('nobody-home', 'unroutable');
    expect(c.timeline.map((t) => t.event)).toEqual(['published', 'unroutable', 'timeout', 'classified']);
    expect(c.causeCertain).toBe(true);
  }, 60_000);

  it('no_consumer: the server was stopped, its topic queue stays without a consumer', async () => {
    const s = await server('stopped');
    await s.stop();
    const answer = await client.rpc({ op: 'call', target: { topic: 'stopped' }, method: 'echo', args: { value: 1 }, timeout: 2 });
    expect(answer).toMatchObject({ ok: false, type: 'MessagingTimeout' });
    const c = await stuck('stopped', 'no_consumer');
    expect(c.timeline.map((t) => t.event)).toEqual(['published', 'routed', 'timeout', 'classified']);
    expect(c.causeDetail).toMatch(/stopped has no consumer/);
  }, 60_000);

  it('expired_in_queue: a paused server (prefetch 1) holds one call, the next one expires waiting', async () => {
    const s = await server('paused', ['--conf', 'oslo_messaging_rabbit.rabbit_qos_prefetch_count=1']);
    // oslo issues basic.consume from its poll thread, possibly after "ready": pause only once it consumes
    const conn = await amqplib.connect(vh.amqpUrl);
    try {
      await waitFor(async () => {
        const ch = await conn.createChannel();
        try {
          return (await ch.checkQueue('paused')).consumerCount === 1;
        } finally {
          await ch.close().catch(() => undefined);
        }
      }, 'the paused server consuming');
    } finally {
      await conn.close();
    }
    process.kill(s.pid as number, 'SIGSTOP');
    try {
      const answers = await Promise.all([
        client.rpc({ op: 'call', target: { topic: 'paused' }, method: 'echo', args: { value: 1 }, timeout: 3 }),
        client.rpc({ op: 'call', target: { topic: 'paused' }, method: 'echo', args: { value: 2 }, timeout: 3 }),
      ]);
      expect(answers.map((a) => a.ok)).toEqual([false, false]);
      const expired = await stuck('paused', 'expired_in_queue');
      expect(expired.timeline.some((t) => t.event === 'delivered')).toBe(false);
      expect(expired.causeDetail).toMatch(/has 1 consumer/);
      // the other one reached the paused process: delivered, no answer
      const held = callsTo('paused').find((c) => c.msgId !== expired.msgId);
      await waitFor(() => callsTo('paused').find((c) => c.msgId === held?.msgId && c.state === 'stuck'), 'held call classified');
      expect(tap.call(held?.msgId as string)?.cause).toBe('no_reply');
    } finally {
      process.kill(s.pid as number, 'SIGCONT');
    }
    // resumed, the server answers the held call long after its caller gave up
    await stuck('paused', 'late_reply');
  }, 60_000);

  it('no_reply: delivered, heartbeats, then the server dies without answering', async () => {
    const s = await server('dying');
    const pending = client.rpc({ op: 'call', target: { topic: 'dying' }, method: 'sleep', args: { secs: 30 }, timeout: 5, call_monitor_timeout: 2 });
    await waitFor(() => callsTo('dying').find((c) => c.heartbeats >= 2), 'two call-monitor heartbeats');
    await s.kill();
    const answer = await pending;
    expect(answer).toMatchObject({ ok: false, type: 'MessagingTimeout' });
    // the real caller gave up for want of a heartbeat, well before its 5 s timeout: what the tap must say too.
    // From 14.8.0 the caller polls for replies every 0.5 s (ReplyWaiters.get, LP#2035113,
    // docs/wire.md#timeouts-and-reply-polling), so its give-up lands up to 0.5 s later, still short of the 5 s timeout
    expect(answer.elapsed).toBeLessThan(pythonOsloAtLeast('14.8.0') ? 5 : 4.5);
    const c = await stuck('dying', 'no_reply');
    expect(c.monitorDeadline).toBe((c.lastHeartbeatAt as number) + 2000);
    expect(c.heartbeats).toBeGreaterThanOrEqual(2);
    // call_monitor_timeout: the caller gives up _timeout after the last heartbeat, before its 5 s timeout (amqpdriver ReplyWaiter.wait)
    expect(c.causeDetail).toMatch(/^delivered to .+ ms after publish, no reply within \d+ ms; heartbeats stopped after \d+: none within call_monitor_timeout/);
    expect(c.causeDetail).toMatch(/heartbeats stopped/);
  }, 60_000);

  it('late_reply: a slow server answers after the caller timed out', async () => {
    await server('slow');
    const answer = await client.rpc({ op: 'call', target: { topic: 'slow' }, method: 'sleep', args: { secs: 3 }, timeout: 1.5 });
    expect(answer).toMatchObject({ ok: false, type: 'MessagingTimeout' });
    const c = await stuck('slow', 'late_reply');
    expect(c.latencyMs).toBeGreaterThanOrEqual(2900);
    expect(c.timeline.map((t) => t.event)).toContain('reply_published');
  }, 60_000);

  it("reply_queue_gone: the caller dies before the reply and its reply queue expires", async () => {
    await server('orphan', ['--conf', 'oslo_messaging_rabbit.kombu_missing_consumer_retry_timeout=2']);
    // rabbit_transient_queues_ttl=1 (URL query, as operators set it): the reply queue expires 1 s after its consumer goes
    const doomed = await startPeer('rpc-client', ['--url', `${vh.url}?rabbit_transient_queues_ttl=1`]);
    peers.push(doomed);
    const pending = doomed.rpc({ op: 'call', target: { topic: 'orphan' }, method: 'sleep', args: { secs: 3 }, timeout: 6 }).catch((err: Error) => err);
    await waitFor(() => callsTo('orphan').find((c) => c.timeline.some((t) => t.event === 'delivered')), 'call delivered to the server');
    await doomed.kill();
    expect(await pending).toBeInstanceOf(Error);
    const c = await stuck('orphan', 'reply_queue_gone');
    const events = c.timeline.map((t) => t.event);
    if (LAYOUT.transientQuorum && !events.includes('reply_unroutable')) {
      // a quorum reply queue (rabbit_transient_quorum_queue) is expired by the broker's periodic check, not
      // at once: the reply may still be routed into the consumerless queue, which then goes with it
      expect(events).toContain('reply_published');
      expect(c.causeDetail).toMatch(/no longer exists|has no consumer/);
    } else {
      expect(events).toContain('reply_unroutable');
      expect(c.causeDetail).toMatch(/routed to no queue/);
    }
  }, 60_000);

  it('groups stuck calls by caller process and counts them by cause', async () => {
    await tap.tick();
    const counts = tap.snapshot().calls.byCause;
    for (const cause of ['unroutable', 'no_consumer', 'expired_in_queue', 'no_reply', 'reply_queue_gone', 'late_reply'] as const) {
      expect(counts[cause], cause).toBeGreaterThanOrEqual(1);
    }
    const groups = await waitFor(async () => {
      await tap.tick();
      const g = tap.callGroups({ state: 'stuck' });
      return g.some((x) => x.process === `oslo_peer.py:${client.pid}`) ? g : null;
    }, 'stuck calls grouped under the Python client', 20_000);
    expect(groups.find((g) => g.process === `oslo_peer.py:${client.pid}`)?.calls.length).toBeGreaterThanOrEqual(5);
  }, 60_000);
});
