import { describe, expect, it } from 'vitest';
import { callRecordSchema, latencyHistogramSchema, type DecodedMessage, type TraceInfo } from '../../lib/tap-contracts.ts';
import { CallTracker, PENDING_DELIVERY_MS, processOf, type QueueFact } from './calls.ts';
import { bucketIndex } from './histogram.ts';
import { decodedMessage } from './test-support.ts';

const T0 = 1_700_000_000_000;

function base(over: Partial<DecodedMessage>): DecodedMessage {
  return decodedMessage({ ts: T0, requestId: 'req-1', ...over });
}

function trace(over: Partial<TraceInfo>): TraceInfo {
  return { event: 'publish', routedQueues: [], connection: null, connectionName: null, channel: 1, queue: null, redelivered: null, node: 'rabbit@x', vhost: '/', user: 'guest', ...over };
}

/** Firehose messages for one call. */
const fh = {
  publish: (ts: number, routed: string[], over: Partial<DecodedMessage> = {}) => base({ ts, trace: trace({ routedQueues: routed }), ...over }),
  deliver: (ts: number, queue = 'compute', connection = '10.0.0.2:4000 -> 10.0.0.1:5672', over: Partial<DecodedMessage> = {}) =>
    base({ ts, trace: trace({ event: 'deliver', routedQueues: null, queue, connection, redelivered: false }), ...over }),
  heartbeat: (ts: number, routed = ['reply_q1']) =>
    base({ ts, kind: 'heartbeat', exchange: '', routingKey: 'reply_q1', method: null, topic: null, ending: false, trace: trace({ routedQueues: routed }) }),
  reply: (ts: number, routed = ['reply_q1'], over: Partial<DecodedMessage> = {}) =>
    base({ ts, kind: 'reply', exchange: '', routingKey: 'reply_q1', method: null, topic: null, ending: true, result: 1, trace: trace({ routedQueues: routed }), ...over }),
  replyDeliver: (ts: number, connection = '10.0.0.3:5000 -> 10.0.0.1:5672') =>
    base({ ts, kind: 'reply', exchange: '', routingKey: 'reply_q1', method: null, topic: null, ending: true, result: 1, trace: trace({ event: 'deliver', routedQueues: null, queue: 'reply_q1', connection }) }),
};

const facts =
  (map: Record<string, QueueFact>) =>
  (q: string): QueueFact | undefined =>
    map[q];

describe('CallTracker correlation', () => {
  it("keeps the request's global_request_id on the call, so a search by it finds the call and its reply", () => {
    const t = new CallTracker({});
    t.observe(base({ context: { request_id: 'req-1', global_request_id: 'req-g-7' } }));
    const r = t.get('m1');
    callRecordSchema.parse(r);
    expect(r?.requestId).toBe('req-1');
    expect(r?.globalRequestId).toBe('req-g-7');
    t.observe(base({ msgId: 'm2', context: { request_id: 'req-2' } }));
    expect(t.get('m2')?.globalRequestId).toBeNull();
  });

  it('builds the full firehose timeline of a successful call and records its latency in oslo.metrics buckets', () => {
    const names: Record<string, string> = {
      '10.0.0.2:4000 -> 10.0.0.1:5672': 'nova-compute:42:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
      '10.0.0.3:5000 -> 10.0.0.1:5672': 'nova-api:7:1f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
    };
    const t = new CallTracker({ resolveConnection: (c) => names[c] ?? null });
    expect(t.observe(fh.publish(T0, ['compute']))?.reason).toBe('new');
    t.observe(fh.deliver(T0 + 2));
    // published is not enough in firehose mode: the reply must reach the caller
    expect(t.observe(fh.reply(T0 + 30))).toBeNull();
    expect(t.get('m1')?.state).toBe('inflight');
    const done = t.observe(fh.replyDeliver(T0 + 31));
    expect(done?.reason).toBe('state');
    expect(done?.record.state).toBe('done');
    const r = t.get('m1');
    callRecordSchema.parse(r);
    expect(r?.outcome).toBe('result');
    expect(r?.latencyMs).toBe(30);
    expect(r?.serverProcess).toBe('nova-compute:42');
    expect(r?.caller).toEqual({ replyQ: 'reply_q1', process: 'nova-api:7', connectionName: names['10.0.0.3:5000 -> 10.0.0.1:5672'], queueManager: null });
    expect(r?.timeline.map((e) => e.event)).toEqual(['published', 'routed', 'delivered', 'reply_published', 'reply_delivered']);
    const h = t.latency.toJSON();
    latencyHistogramSchema.parse(h);
    expect(h.name).toBe('oslo_messaging_rpc_client_processing_seconds');
    expect(h.series).toHaveLength(1);
    expect(h.series[0].labels).toMatchObject({ method: 'get', topic: 'compute', server: 'None', version: '1.0', timeout: '10', exchange: 'openstack' });
    expect(h.series[0].counts[bucketIndex(0.03)]).toBe(1);
    expect(bucketIndex(0.03)).toBe(2); // 0.025 < 0.03 <= 0.05
    expect(bucketIndex(100)).toBe(16);
    expect(bucketIndex(1000)).toBe(17); // +Inf
    expect(t.tick(T0 + 60_000)).toEqual([]);
  });

  it('accepts deliver traces that overtake their publish trace', () => {
    const t = new CallTracker();
    t.observe(fh.deliver(T0 + 1));
    t.observe(fh.publish(T0, ['compute']));
    t.observe(fh.replyDeliver(T0 + 9));
    t.observe(fh.reply(T0 + 8));
    expect(t.get('m1')).toMatchObject({ state: 'done', latencyMs: 8 });
    expect(t.get('m1')?.timeline.map((e) => e.event)).toEqual(['published', 'routed', 'delivered', 'reply_delivered', 'reply_published']);
  });

  it('records a failure reply as done with outcome failure', () => {
    const t = new CallTracker();
    t.observe(fh.publish(T0, ['compute']));
    t.observe(fh.reply(T0 + 5, ['reply_q1'], { result: null, failure: { class: 'ValueError', module: 'builtins', message: 'boom', tb: [], args: [], kwargs: {} } }));
    t.observe(fh.replyDeliver(T0 + 6));
    expect(t.get('m1')).toMatchObject({ state: 'done', outcome: 'failure', failure: { class: 'ValueError', module: 'builtins', message: 'boom' } });
  });

  it('uses rpc_response_timeout when the call carries no expiration', () => {
    const t = new CallTracker({ defaultTimeoutMs: 5000 });
    t.observe(fh.publish(T0, ['compute'], { timeoutMs: null }));
    expect(t.get('m1')).toMatchObject({ timeoutMs: 5000, timeoutSource: 'default', deadline: T0 + 5000 });
  });

  it('resolves the caller from the reply queue consumer, and counts replies of unknown calls', () => {
    const t = new CallTracker({ resolveCaller: (q) => (q === 'reply_q1' ? { process: 'nova-api:7', connectionName: 'nova-api:7:x' } : null) });
    t.observe(base({}));
    expect(t.get('m1')?.caller.process).toBe('nova-api:7');
    t.observe(base({ kind: 'reply', msgId: 'nope', ending: true }));
    expect(t.orphanReplies).toBe(1);
  });

  it('maps connection names to processes', () => {
    expect(processOf('nova-compute:1234:6f0bca1d-1e2f-4a5b-8c9d-0e1f2a3b4c5d')).toBe('nova-compute:1234');
    expect(processOf('oslo_peer.py:99:6f0bca1d1e2f4a5b8c9d0e1f2a3b4c5d')).toBe('oslo_peer.py:99');
    expect(processOf('my app')).toBeNull();
    expect(processOf(null)).toBeNull();
  });
});

describe('stuck-call classifier (firehose)', () => {
  it('stays in flight until the deadline', () => {
    const t = new CallTracker();
    t.observe(fh.publish(T0, []));
    expect(t.tick(T0 + 9_999)).toEqual([]);
    expect(t.get('m1')?.state).toBe('inflight');
  });

  it('unroutable: routed_queues empty', () => {
    const t = new CallTracker();
    t.observe(fh.publish(T0, []));
    const [c] = t.tick(T0 + 10_000);
    expect(c.record).toMatchObject({ state: 'stuck', cause: 'unroutable', causeCertain: true });
    expect(c.record.causeDetail).toMatch(/routed to no queue/);
    expect(c.record.timeline.map((e) => e.event)).toEqual(['published', 'unroutable', 'timeout', 'classified']);
  });

  it('no_consumer vs expired_in_queue: never delivered, told apart by the target queue consumers', () => {
    const a = new CallTracker();
    a.observe(fh.publish(T0, ['compute']));
    expect(a.dueQueues(T0 + 10_000).sort()).toEqual(['compute', 'reply_q1']);
    a.tick(T0 + 10_000, facts({ compute: { exists: true, consumers: 0, depth: 3 } }));
    expect(a.get('m1')).toMatchObject({ state: 'stuck', cause: 'no_consumer' });

    const b = new CallTracker();
    b.observe(fh.publish(T0, ['compute']));
    b.tick(T0 + 10_000, facts({ compute: { exists: true, consumers: 1, depth: 2 } }));
    expect(b.get('m1')).toMatchObject({ state: 'stuck', cause: 'expired_in_queue', causeCertain: true });
    expect(b.get('m1')?.causeDetail).toMatch(/1 consumer and 2 messages waiting/);

    // the broker did not answer: expired_in_queue, but no_consumer is not ruled out
    const c = new CallTracker();
    c.observe(fh.publish(T0, ['compute']));
    c.tick(T0 + 10_000);
    expect(c.get('m1')).toMatchObject({ cause: 'expired_in_queue', causeCertain: false, indistinguishable: ['no_consumer'] });

    const d = new CallTracker();
    d.observe(fh.publish(T0, ['compute']));
    d.tick(T0 + 10_000, facts({ compute: { exists: false, consumers: 0, depth: 0 } }));
    expect(d.get('m1')?.cause).toBe('no_consumer');
    expect(d.get('m1')?.causeDetail).toMatch(/no longer exists/);
  });

  it('no_reply: delivered and silent; says whether heartbeats stopped', () => {
    const none = new CallTracker();
    none.observe(fh.publish(T0, ['compute']));
    none.observe(fh.deliver(T0 + 1));
    none.tick(T0 + 10_000);
    expect(none.get('m1')).toMatchObject({ cause: 'no_reply' });
    expect(none.get('m1')?.causeDetail).toMatch(/no call-monitor heartbeats expected/);

    const stopped = new CallTracker();
    stopped.observe(fh.publish(T0, ['compute'], { callMonitorTimeout: 2 }));
    stopped.observe(fh.deliver(T0 + 1));
    stopped.observe(fh.heartbeat(T0 + 1000));
    stopped.observe(fh.heartbeat(T0 + 2000));
    stopped.tick(T0 + 10_000);
    const r = stopped.get('m1');
    expect(r).toMatchObject({ cause: 'no_reply', heartbeats: 2, lastHeartbeatAt: T0 + 2000 });
    // call_monitor_timeout 2 s: the caller gave up 2 s after the last heartbeat, long before its 10 s timeout
    expect(r?.causeDetail).toMatch(/heartbeats stopped after 2: none within call_monitor_timeout 2 s, so the caller gave up 6000 ms before its 10000 ms timeout/);
    expect(r?.monitorDeadline).toBe(T0 + 4000);
    // repeated heartbeats collapse into one timeline entry
    expect(r?.timeline.filter((e) => e.event === 'heartbeat')).toHaveLength(1);
    expect(r?.timeline.find((e) => e.event === 'heartbeat')?.detail).toMatch(/×2/);

    const working = new CallTracker();
    working.observe(fh.publish(T0, ['compute'], { callMonitorTimeout: 20 }));
    working.observe(fh.deliver(T0 + 1));
    working.observe(fh.heartbeat(T0 + 9000));
    working.tick(T0 + 10_000);
    expect(working.get('m1')?.causeDetail).toMatch(/still working/);

    const silent = new CallTracker();
    silent.observe(fh.publish(T0, ['compute'], { callMonitorTimeout: 4 }));
    silent.observe(fh.deliver(T0 + 1));
    silent.tick(T0 + 10_000);
    expect(silent.get('m1')?.causeDetail).toMatch(/no heartbeat ever arrived/);
  });

  it('reply_queue_gone: the reply (or a heartbeat) was routed to no queue', () => {
    const t = new CallTracker();
    t.observe(fh.publish(T0, ['compute']));
    t.observe(fh.deliver(T0 + 1));
    for (let i = 0; i < 5; i++) t.observe(fh.reply(T0 + 3000 + 250 * i, []));
    expect(t.get('m1')?.state).toBe('inflight');
    t.tick(T0 + 10_000);
    const r = t.get('m1');
    expect(r).toMatchObject({ state: 'stuck', cause: 'reply_queue_gone' });
    expect(r?.causeDetail).toMatch(/5 unroutable or retried publishes/);
    expect(r?.timeline.filter((e) => e.event === 'reply_unroutable')).toHaveLength(1);

    // RabbitMQ's trace lists a default-exchange publish's queue even when it does not exist: the server's
    // NO_ROUTE retries (the same reply again every 0.25 s) and the missing delivery give it away
    const rabbit = new CallTracker();
    rabbit.observe(fh.publish(T0, ['compute']));
    rabbit.observe(fh.deliver(T0 + 1));
    for (let i = 0; i < 4; i++) rabbit.observe(fh.reply(T0 + 3000 + 250 * i, ['reply_q1']));
    rabbit.tick(T0 + 10_000, facts({ reply_q1: { exists: false, consumers: 0, depth: 0 } }));
    expect(rabbit.get('m1')).toMatchObject({ state: 'stuck', cause: 'reply_queue_gone', outcome: 'result' });

    // answered once, never delivered: the reply queue exists without a consumer (caller died, queue not expired yet)
    const orphan = new CallTracker();
    orphan.observe(fh.publish(T0, ['compute']));
    orphan.observe(fh.reply(T0 + 100, ['reply_q1']));
    orphan.tick(T0 + 10_000, facts({ reply_q1: { exists: true, consumers: 0, depth: 1 } }));
    expect(orphan.get('m1')?.cause).toBe('reply_queue_gone');
    expect(orphan.get('m1')?.causeDetail).toMatch(/sits in reply_q1, which has no consumer/);

    // the caller is still there: only the delivery trace was missed
    const alive = new CallTracker();
    alive.observe(fh.publish(T0, ['compute']));
    alive.observe(fh.reply(T0 + 100, ['reply_q1']));
    alive.tick(T0 + 10_000, facts({ reply_q1: { exists: true, consumers: 1, depth: 0 } }));
    expect(alive.get('m1')).toMatchObject({ state: 'done', outcome: 'result', cause: null });

    const hb = new CallTracker();
    hb.observe(fh.publish(T0, ['compute'], { callMonitorTimeout: 2 }));
    hb.observe(fh.deliver(T0 + 1));
    hb.observe(fh.heartbeat(T0 + 1000, []));
    hb.tick(T0 + 10_000);
    expect(hb.get('m1')?.cause).toBe('reply_queue_gone');
  });

  it('late_reply: a reply after the deadline re-labels a no_reply call', () => {
    const t = new CallTracker();
    t.observe(fh.publish(T0, ['compute']));
    t.observe(fh.deliver(T0 + 1));
    expect(t.tick(T0 + 10_000)[0].record.cause).toBe('no_reply');
    const change = t.observe(fh.reply(T0 + 12_500));
    expect(change).toMatchObject({ reason: 'cause', record: { state: 'stuck', cause: 'late_reply', latencyMs: 12_500 } });
    expect(change?.record.causeDetail).toMatch(/2500 ms after the caller's 10000 ms timeout/);
    // a late reply that was not yet classified goes straight to late_reply
    const u = new CallTracker();
    u.observe(fh.publish(T0, ['compute']));
    expect(u.observe(fh.reply(T0 + 11_000))).toMatchObject({ reason: 'state', record: { cause: 'late_reply' } });
  });
});

describe('call-monitor calls (nova: _timeout 60, expiration 1800000)', () => {
  const nova = { callMonitorTimeout: 60, timeoutMs: 1_800_000 };

  it('is stuck once 60 s pass without a heartbeat, not when the 1800 s expiration elapses', () => {
    const t = new CallTracker();
    t.observe(fh.publish(T0, ['conductor'], nova));
    t.observe(fh.deliver(T0 + 5));
    expect(t.get('m1')).toMatchObject({ monitorDeadline: T0 + 60_000, deadline: T0 + 1_800_000 });
    expect(t.tick(T0 + 59_000)).toEqual([]);
    expect(t.dueQueues(T0 + 59_000)).toEqual([]);
    const [c] = t.tick(T0 + 60_000);
    expect(c.record).toMatchObject({ state: 'stuck', cause: 'no_reply', heartbeats: 0 });
    expect(c.record.causeDetail).toMatch(/no heartbeat ever arrived although call_monitor_timeout=60 s/);
    expect(c.record.timeline.find((e) => e.event === 'timeout')?.detail).toMatch(/no heartbeat within call_monitor_timeout 60 s/);
  });

  it('heartbeats every 30 s keep it in flight past 60 s; a reply within the expiration is on time', () => {
    const t = new CallTracker();
    t.observe(fh.publish(T0, ['conductor'], nova));
    t.observe(fh.deliver(T0 + 5));
    for (let i = 0; i <= 10; i++) t.observe(fh.heartbeat(T0 + 10 + 30_000 * i));
    expect(t.tick(T0 + 320_000)).toEqual([]);
    expect(t.get('m1')).toMatchObject({ state: 'inflight', heartbeats: 11, monitorDeadline: T0 + 10 + 300_000 + 60_000 });
    t.observe(fh.reply(T0 + 330_000));
    expect(t.observe(fh.replyDeliver(T0 + 330_001))?.record).toMatchObject({ state: 'done', outcome: 'result', latencyMs: 330_000 });
  });

  it('a gap longer than _timeout between heartbeats means the caller gave up, even if heartbeats resume', () => {
    const t = new CallTracker();
    t.observe(fh.publish(T0, ['conductor'], nova));
    t.observe(fh.deliver(T0 + 5));
    t.observe(fh.heartbeat(T0 + 10));
    t.observe(fh.heartbeat(T0 + 90_000)); // 90 s later: the caller raised MessagingTimeout at T0 + 60 010
    const late = t.observe(fh.reply(T0 + 100_000));
    expect(late?.record).toMatchObject({ state: 'stuck', cause: 'late_reply' });
    expect(late?.record.causeDetail).toMatch(/after the caller gave up: no heartbeat within call_monitor_timeout 60 s/);
  });

  it('never delivered within _timeout: the request may still sit in the queue until its expiration', () => {
    const t = new CallTracker();
    t.observe(fh.publish(T0, ['conductor'], nova));
    t.tick(T0 + 60_000, facts({ conductor: { exists: true, consumers: 2, depth: 40 } }));
    expect(t.get('m1')).toMatchObject({ cause: 'expired_in_queue' });
    expect(t.get('m1')?.causeDetail).toMatch(/never delivered within call_monitor_timeout 60 s/);
  });

  it('bindings mode cannot see heartbeats: waits for the expiration and shows no monitor deadline', () => {
    const t = new CallTracker();
    t.observe(base({ trace: null, ...nova }));
    expect(t.get('m1')?.monitorDeadline).toBeNull();
    expect(t.tick(T0 + 120_000)).toEqual([]);
  });
});

describe('late_reply_across_restart (queue-manager reply queues reused after a restart)', () => {
  const Q = 'reply_ctl1:nova-conductor:1';
  const OLD = 'nova-conductor:100:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
  const NEW = 'nova-conductor:200:1f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
  const names: Record<string, string> = { 'old -> b': OLD, 'new -> b': NEW, 'srv -> b': 'nova-compute:9:2f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0' };
  const qm = (m: DecodedMessage): DecodedMessage => ({ ...m, replyQ: Q, routingKey: m.kind === 'call' ? m.routingKey : Q });
  const withQ = (m: DecodedMessage): DecodedMessage => qm(m.trace?.event === 'deliver' && m.kind !== 'call' ? { ...m, trace: { ...m.trace, queue: Q } } : m);

  it('a reply delivered to the restarted process is not the caller\'s: classified at once, caller kept', () => {
    const t = new CallTracker({ resolveConnection: (c) => names[c] ?? null });
    t.observe(withQ(fh.publish(T0, ['compute'], { trace: trace({ routedQueues: ['compute'], connection: 'old -> b' }) })));
    t.observe(withQ(fh.deliver(T0 + 1, 'compute', 'srv -> b')));
    t.observe(withQ(fh.reply(T0 + 5000)));
    const c = t.observe(withQ(fh.replyDeliver(T0 + 5001, 'new -> b')));
    expect(c?.record).toMatchObject({ state: 'stuck', cause: 'late_reply_across_restart', causeCertain: true });
    expect(c?.record.caller).toMatchObject({ process: 'nova-conductor:100', queueManager: { host: 'ctl1', process: 'nova-conductor', n: 1 } });
    expect(c?.record.causeDetail).toMatch(/nova-conductor on ctl1 restarted/);
    expect(c?.record.causeDetail).toMatch(/nova-conductor:200/);
    expect(t.epochs.current(Q)?.connectionName).toBe(NEW);
  });

  it('a reconnect of the same process (same pid, new connection) is no restart', () => {
    const again = 'nova-conductor:100:3f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
    const t = new CallTracker({ resolveConnection: (c) => ({ ...names, 'again -> b': again })[c] ?? null });
    t.observe(withQ(fh.publish(T0, ['compute'], { trace: trace({ routedQueues: ['compute'], connection: 'old -> b' }) })));
    t.observe(withQ(fh.reply(T0 + 5000)));
    expect(t.observe(withQ(fh.replyDeliver(T0 + 5001, 'again -> b')))?.record).toMatchObject({ state: 'done', outcome: 'result' });
  });

  it('bindings mode: the reply queue\'s consumer changed process during the call (from consumer lookups)', () => {
    const t = new CallTracker();
    t.epochs.observe(Q, OLD, T0 - 10_000);
    t.epochs.observe(Q, OLD, T0 + 1000);
    t.observe(qm(base({ trace: null })));
    t.epochs.observe(Q, NEW, T0 + 20_000);
    const [c] = t.tick(T0 + 10_000 + 20_000);
    expect(c.record).toMatchObject({ state: 'stuck', cause: 'late_reply_across_restart', causeCertain: false, indistinguishable: ['no_reply'] });
    expect(c.record.causeDetail).toMatch(/no reply was published yet/);
  });

  describe('a reply delivered to a connection the broker has not named yet (the restarted process connected just now)', () => {
    /** resolveConnection that knows `later` only once `known.value` is set, as the management API lists a new connection late */
    const lateNames = (later: Record<string, string>) => {
      const known = { value: false };
      return { known, resolve: (c: string) => names[c] ?? (known.value ? (later[c] ?? null) : null) };
    };
    const callAndReply = (t: CallTracker) => {
      t.observe(withQ(fh.publish(T0, ['compute'], { trace: trace({ routedQueues: ['compute'], connection: 'old -> b' }) })));
      t.observe(withQ(fh.deliver(T0 + 1, 'compute', 'srv -> b')));
      t.observe(withQ(fh.reply(T0 + 5000)));
    };

    it('waits for the name, then classifies the restart with the delivery time', () => {
      const { known, resolve } = lateNames({ 'fresh -> b': NEW });
      const t = new CallTracker({ resolveConnection: resolve });
      callAndReply(t);
      expect(t.observe(withQ(fh.replyDeliver(T0 + 9000, 'fresh -> b')))).toBeNull();
      expect(t.get('m1')?.state).toBe('inflight');
      // not named yet: no deadline passes (timeout 10 s), nothing is decided
      expect(t.tick(T0 + 12_000)).toEqual([]);
      expect(t.get('m1')?.state).toBe('inflight');
      known.value = true;
      const [c] = t.tick(T0 + 13_000);
      expect(c.record).toMatchObject({ state: 'stuck', cause: 'late_reply_across_restart', causeCertain: true });
      expect(c.record.caller).toMatchObject({ process: 'nova-conductor:100' });
      expect(c.record.causeDetail).toMatch(/nova-conductor:200/);
      expect(c.record.timeline.find((e) => e.event === 'reply_delivered')).toMatchObject({ ts: T0 + 9000, detail: expect.stringMatching(/not to the caller/) });
      expect(t.epochs.current(Q)?.connectionName).toBe(NEW);
    });

    it('the caller after all (a reconnect): done, as delivered', () => {
      const { known, resolve } = lateNames({ 'fresh -> b': 'nova-conductor:100:4f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0' });
      const t = new CallTracker({ resolveConnection: resolve });
      callAndReply(t);
      expect(t.observe(withQ(fh.replyDeliver(T0 + 5001, 'fresh -> b')))).toBeNull();
      known.value = true;
      const [c] = t.tick(T0 + 6000);
      expect(c.record).toMatchObject({ state: 'done', outcome: 'result', cause: null });
      expect(c.record.timeline.at(-1)).toMatchObject({ event: 'reply_delivered', ts: T0 + 5001 });
    });

    it('never named: taken as the caller once the lookup gives up', () => {
      const t = new CallTracker({ resolveConnection: (c) => names[c] ?? null });
      callAndReply(t);
      t.observe(withQ(fh.replyDeliver(T0 + 5001, 'gone -> b')));
      expect(t.tick(T0 + 5001 + PENDING_DELIVERY_MS - 1)).toEqual([]);
      const [c] = t.tick(T0 + 5001 + PENDING_DELIVERY_MS);
      expect(c.record).toMatchObject({ state: 'done', outcome: 'result' });
      expect(c.record.timeline.at(-1)?.detail).toMatch(/gone -> b/);
    });

    it('a delivery traced before the reply\'s publish waits too, and a classic reply queue never waits', () => {
      const { known, resolve } = lateNames({ 'fresh -> b': NEW });
      const t = new CallTracker({ resolveConnection: resolve });
      t.observe(withQ(fh.publish(T0, ['compute'], { trace: trace({ routedQueues: ['compute'], connection: 'old -> b' }) })));
      t.observe(withQ(fh.replyDeliver(T0 + 5001, 'fresh -> b')));
      expect(t.observe(withQ(fh.reply(T0 + 5000)))).toBeNull();
      known.value = true;
      expect(t.tick(T0 + 6000)[0].record).toMatchObject({ state: 'stuck', cause: 'late_reply_across_restart' });
      // reply_<uuid> names are per process: whoever consumes one is the caller
      const classic = new CallTracker({ resolveConnection: (c) => names[c] ?? null });
      classic.observe(fh.publish(T0, ['compute'], { trace: trace({ routedQueues: ['compute'], connection: 'old -> b' }) }));
      classic.observe(fh.reply(T0 + 5000));
      expect(classic.observe(fh.replyDeliver(T0 + 5001, 'fresh -> b'))?.record).toMatchObject({ state: 'done' });
    });
  });

  it('a caller first seen after the call was made is not taken for a restart', () => {
    const t = new CallTracker();
    t.epochs.observe(Q, OLD, T0 - 60_000); // last seen a minute before the call: maybe already gone
    t.observe(qm(base({ trace: null })));
    t.epochs.observe(Q, NEW, T0 + 2000);
    const [c] = t.tick(T0 + 10_000);
    expect(c.record.cause).not.toBe('late_reply_across_restart');
  });
});

describe('stuck-call classifier (bindings mode)', () => {
  const call = () => base({ trace: null });

  it('tells unroutable and no_consumer from the queue oslo would have named after the routing key, marked uncertain', () => {
    const a = new CallTracker();
    a.observe(call());
    expect(a.dueQueues(T0 + 10_000)).toContain('compute');
    a.tick(T0 + 10_000, facts({ compute: { exists: false, consumers: 0, depth: 0 } }));
    expect(a.get('m1')).toMatchObject({ state: 'stuck', cause: 'unroutable', causeCertain: false });

    const b = new CallTracker();
    b.observe(call());
    b.tick(T0 + 10_000, facts({ compute: { exists: true, consumers: 0, depth: 4 } }));
    expect(b.get('m1')).toMatchObject({ state: 'stuck', cause: 'no_consumer', causeCertain: false, indistinguishable: ['expired_in_queue'] });
  });

  it('otherwise the outcome is unobserved and the causes it cannot tell apart are listed', () => {
    const t = new CallTracker();
    t.observe(call());
    const [c] = t.tick(T0 + 10_000, facts({ compute: { exists: true, consumers: 2, depth: 0 } }));
    expect(c.record).toMatchObject({ state: 'done', outcome: 'unobserved', cause: null, causeCertain: false });
    expect(c.record.indistinguishable).toEqual(['expired_in_queue', 'no_reply', 'reply_queue_gone', 'late_reply']);
    expect(c.record.causeDetail).toMatch(/replies are invisible in bindings mode/);
  });
});

describe('CallTracker memory bounds', () => {
  it('keeps at most maxCalls, evicting finished calls first, and counts evictions', () => {
    const t = new CallTracker({ maxCalls: 100 });
    // 50 stuck-to-be calls first, then a stream of calls that finish
    for (let i = 0; i < 50; i++) t.observe(fh.publish(T0, [], { msgId: `keep${i}` }));
    for (let i = 0; i < 10_000; i++) {
      t.observe(fh.publish(T0 + i, ['compute'], { msgId: `c${i}` }));
      t.observe(fh.reply(T0 + i + 1, ['reply_q1'], { msgId: `c${i}` }));
      t.observe({ ...fh.replyDeliver(T0 + i + 1), msgId: `c${i}` });
    }
    expect(t.size).toBe(100);
    expect(t.evicted).toBe(10_050 - 100);
    // in-flight calls survived the flood of finished ones
    expect(t.get('keep0')?.state).toBe('inflight');
    expect(t.counts()).toMatchObject({ inflight: 50, done: 50 });
  });

  it('bounds the kept calls by estimated bytes too: long failure texts are cut and big calls evict the oldest', () => {
    const t = new CallTracker({ maxCallBytes: 256 * 1024 });
    const failure = { class: 'ValueError', module: 'builtins', message: 'x'.repeat(1024 * 1024), tb: [], args: [], kwargs: {} };
    for (let i = 0; i < 500; i++) {
      t.observe(fh.publish(T0 + i, ['compute'], { msgId: `f${i}`, routingKey: `compute.${'h'.repeat(200)}${i}` }));
      t.observe(fh.reply(T0 + i + 1, ['reply_q1'], { msgId: `f${i}`, result: null, failure }));
    }
    expect(t.bytes).toBeLessThanOrEqual(256 * 1024);
    expect(t.size).toBeGreaterThan(10);
    expect(t.size).toBeLessThan(500);
    expect(t.evicted).toBe(500 - t.size);
    const r = t.get('f499');
    expect(r?.failure?.class).toBe('ValueError');
    expect(r?.failure?.message.endsWith(`… [truncated, ${1024 * 1024} bytes]`)).toBe(true);
    expect(r?.failure?.message.length).toBeLessThan(4200);
  });

  it('bounds deliver traces kept ahead of their publish by count and bytes', () => {
    const t = new CallTracker();
    // replies delivered for calls never seen (tap started late, or calls evicted): kept a while, then dropped
    for (let i = 0; i < 5000; i++) t.observe({ ...fh.replyDeliver(T0 + i), msgId: `u${i}`, bytes: 200 * 1024 });
    const early = (t as unknown as { early: Map<string, unknown>; earlyBytes: number });
    expect(early.early.size).toBeLessThanOrEqual(1000);
    expect(early.earlyBytes).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(early.early.has('u4999')).toBe(true);
  });

  it('caps the timeline of a call', () => {
    const t = new CallTracker({ maxTimeline: 8 });
    t.observe(fh.publish(T0, ['compute']));
    for (let i = 0; i < 100; i++) {
      t.observe(fh.deliver(T0 + i, 'compute', `c${i}`, { trace: trace({ event: 'deliver', routedQueues: null, queue: 'compute', connection: `c${i}`, redelivered: i % 2 === 1 }) }));
    }
    t.observe(fh.reply(T0 + 500));
    const r = t.get('m1');
    expect(r?.timeline).toHaveLength(8);
    expect(r?.timeline[0].event).toBe('published');
    expect(r?.timeline[7].event).toBe('reply_published');
  });
});
