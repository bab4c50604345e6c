/**
 * The Python peers and the harness, Python on both ends (no TypeScript
 * messaging involved): if these fail, the interop tests built on them
 * cannot be trusted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  brokerAvailable,
  deleteBrokerEntities,
  pythonAvailable,
  runningPeers,
  runPeer,
  startPeer,
  stopAllPeers,
  uniqueName,
  type PeerEvent,
  type PythonPeer,
  type RpcAnswer,
  type RpcAnswerError,
  type RpcAnswerOk,
} from './python-peer.ts';

const python = await pythonAvailable();
const broker = python && (await brokerAvailable());
const ready = python && broker;
if (!ready) {
  const why = !python ? '/usr/bin/python3 cannot import oslo_messaging' : 'RabbitMQ is not reachable';
  if (process.env.CI) throw new Error(`interop tests need their environment: ${why} (run scripts/ensure-test-env.ts)`);
  console.warn(`\n[interop] SKIPPING harness tests: ${why}\n`);
}

const PRIORITIES = ['audit', 'debug', 'info', 'warn', 'error', 'critical', 'sample'];

function ok(answer: RpcAnswer): RpcAnswerOk {
  if (!answer.ok) throw new Error(`expected success, got ${JSON.stringify(answer, null, 2)}`);
  return answer;
}

function failed(answer: RpcAnswer): RpcAnswerError {
  if (answer.ok) throw new Error(`expected a failure, got ${JSON.stringify(answer, null, 2)}`);
  return answer;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function invoked(method: string, argName: string, value: unknown): (e: PeerEvent) => boolean {
  return (e) => e.event === 'invoked' && e.method === method && record(e.args)[argName] === value;
}

describe.skipIf(!ready)('python oslo.messaging peers through the harness', () => {
  const exchange = uniqueName('harness-ex');
  const topic = uniqueName('harness');
  const notifyTopic = uniqueName('harness-notif');
  const benchTopic = uniqueName('harness-bench');
  const pool = uniqueName('harness-pool');
  const requeuePool = uniqueName('harness-requeue');
  const batchPool = uniqueName('harness-batch');

  let s1: PythonPeer;
  let s2: PythonPeer;
  let s3NoFanout: PythonPeer;
  let client: PythonPeer;

  beforeAll(async () => {
    [s1, s2, s3NoFanout, client] = await Promise.all([
      startPeer('rpc-server', ['--exchange', exchange, '--topic', topic, '--server', 's1', '--ping']),
      startPeer('rpc-server', ['--exchange', exchange, '--topic', topic, '--server', 's2']),
      startPeer('rpc-server', ['--exchange', exchange, '--topic', topic, '--server', 's3', '--no-fanout']),
      startPeer('rpc-client', ['--exchange', exchange]),
    ]);
  });

  afterAll(async () => {
    await stopAllPeers();
    expect(runningPeers()).toHaveLength(0);
    // oslo never deletes topic and notification queues: do it for it.
    await deleteBrokerEntities({
      queues: [
        topic,
        `${topic}.s1`,
        `${topic}.s2`,
        `${topic}.s3`,
        benchTopic,
        `${benchTopic}.b1`,
        ...PRIORITIES.map((p) => `${notifyTopic}.${p}`),
        pool,
        requeuePool,
        batchPool,
      ],
      exchanges: [exchange, `${topic}_fanout`, `${benchTopic}_fanout`],
    });
  });

  describe('RPC', () => {
    it('calls echo, add and types and keeps what JSON.parse would lose', async () => {
      const value = `é中😀 ${uniqueName('v')}`;
      const echo = ok(
        await client.rpc({ op: 'call', target: { topic }, method: 'echo', args: { value }, ctxt: { user_id: 'u1' } }),
      );
      expect(echo.result).toBe(value);
      expect(echo.elapsed).toBeGreaterThan(0);

      const servers = [s1, s2, s3NoFanout];
      const seen = await Promise.any(servers.map((s) => s.waitFor(invoked('echo', 'value', value), 5_000)));
      expect(seen.ctxt).toEqual({ user_id: 'u1', client_timeout: null });

      const add = ok(await client.rpc({ op: 'call', target: { topic }, method: 'add', args: { a: 2, b: 40 } }));
      expect(add.result).toBe(42);
      expect(add.result_repr).toBe('42');

      const types = ok(await client.rpc({ op: 'call', target: { topic, version: '1.3' }, method: 'types' }));
      const r = record(types.result);
      expect(r.unicode).toBe('é中😀');
      expect(r.float).toBe(1.5);
      expect(r.list).toEqual([1, 'two', [3, null]]);
      expect(r.dict).toEqual({ nested: { deep: [true, false] }, n: 1 });
      expect([r.null, r.true, r.false, r.empty_str]).toEqual([null, true, false, '']);
      // JSON.parse loses these two; the repr and the oslo JSON text keep them.
      expect(types.result_repr).toContain("'integral_float': 2.0");
      expect(types.result_repr).toContain("'big_int': 18446744073709551616");
      expect(types.result_json).toContain('"integral_float": 2.0');
      expect(types.result_json).toContain('"big_int": 18446744073709551616');
      expect(types.result_json).toContain('"unicode": "\\u00e9\\u4e2d\\ud83d\\ude00"');
    });

    it('sends args_json values as Python parses them (float 2.0, big int)', async () => {
      const answer = ok(
        await client.rpc({
          op: 'call',
          target: { topic, server: 's1' },
          method: 'echo',
          args_json: '{"value": [2.0, 18446744073709551617]}',
        }),
      );
      expect(answer.result_repr).toBe('[2.0, 18446744073709551617]');
      const ev = await s1.waitFor((e) => e.method === 'echo' && String(e.args_json).includes('18446744073709551617'));
      expect(ev.args_json).toBe('{"value": [2.0, 18446744073709551617]}');
    });

    it('delivers a cast, seen as an invoked event', async () => {
      const value = uniqueName('cast');
      const answer = ok(await client.rpc({ op: 'cast', target: { topic }, method: 'echo', args: { value } }));
      expect(answer.result).toBeNull();
      const ev = await Promise.any([s1, s2, s3NoFanout].map((s) => s.waitFor(invoked('echo', 'value', value), 5_000)));
      expect(ev.endpoint).toBe('default');
      expect(record(ev.ctxt).client_timeout).toBeNull();
    });

    it('fans a fanout cast out to every server consuming the fanout exchange', async () => {
      const value = uniqueName('fanout');
      const mark3 = s3NoFanout.mark();
      ok(await client.rpc({ op: 'cast', target: { topic, fanout: true }, method: 'echo', args: { value } }));
      const [a, b] = await Promise.all([s1, s2].map((s) => s.waitFor(invoked('echo', 'value', value), 5_000)));
      expect([a.server, b.server]).toEqual(['s1', 's2']);
      // The --no-fanout server has no fanout queue; give a stray copy time to show up.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(s3NoFanout.events.slice(mark3).filter(invoked('echo', 'value', value))).toHaveLength(0);
    });

    it('routes a server-targeted call to that server only', async () => {
      const requestId = uniqueName('req');
      const marks = [s1.mark(), s3NoFanout.mark()];
      for (let i = 0; i < 3; i++) {
        const answer = ok(
          await client.rpc({ op: 'call', target: { topic, server: 's2' }, method: 'echo_ctxt', ctxt: { request_id: requestId, n: i } }),
        );
        expect(answer.result).toEqual({ request_id: requestId, n: i, client_timeout: null });
      }
      const onS2 = s2.filter((e) => e.method === 'echo_ctxt' && record(e.ctxt).request_id === requestId);
      expect(onS2).toHaveLength(3);
      const elsewhere = [s1, s3NoFanout].flatMap((s, i) =>
        s.events.slice(marks[i]).filter((e) => record(e.ctxt).request_id === requestId),
      );
      expect(elsewhere).toHaveLength(0);
    });

    it('dispatches by namespace and version', async () => {
      const ns = ok(
        await client.rpc({ op: 'call', target: { topic, namespace: 'ns1', version: '2.1' }, method: 'echo', args: { value: 7 } }),
      );
      expect(ns.result).toEqual({ ns1: 7 });
      const older = ok(
        await client.rpc({ op: 'call', target: { topic, namespace: 'ns1', version: '2.0' }, method: 'ns_method', args: { x: 'y' } }),
      );
      expect(older.result).toEqual({ ns: 'ns1', x: 'y' });
      const plain = ok(await client.rpc({ op: 'call', target: { topic, version: '1.3' }, method: 'echo', args: { value: 7 } }));
      expect(plain.result).toBe(7);
      const noVersion = ok(await client.rpc({ op: 'call', target: { topic }, method: 'echo', args: { value: 8 } }));
      expect(noVersion.result).toBe(8);

      for (const target of [
        { topic, version: '1.4' },
        { topic, namespace: 'ns1', version: '2.2' },
        { topic, namespace: 'nope', version: '1.0' },
      ]) {
        const err = failed(await client.rpc({ op: 'call', target, method: 'echo', args: { value: 1 } }));
        expect(err.type).toBe('RemoteError');
        expect(err.remote?.exc_type).toBe('UnsupportedVersion');
        expect(err.remote?.value).toBe(`Endpoint does not support RPC version ${target.version}. Attempted method: echo`);
      }
    });

    it('answers oslo_rpc_server_ping only where rpc_ping_enabled is on', async () => {
      const pong = ok(await client.rpc({ op: 'call', target: { topic, server: 's1' }, method: 'oslo_rpc_server_ping' }));
      expect(pong.result).toBe('pong');
      const err = failed(await client.rpc({ op: 'call', target: { topic, server: 's2' }, method: 'oslo_rpc_server_ping' }));
      expect(err.remote?.exc_type).toBe('NoSuchMethod');
    });

    it('turns remote failures into the exception types oslo raises', async () => {
      const target = { topic, server: 's1' };
      const [nosuch, hidden, badVersion, valueError, custom] = await Promise.all([
        client.rpc({ op: 'call', target, method: 'nosuch' }),
        client.rpc({ op: 'call', target, method: '_hidden' }),
        client.rpc({ op: 'call', target: { ...target, version: '3.0' }, method: 'echo', args: { value: 1 } }),
        client.rpc({ op: 'call', target, method: 'fail', args: { message: 'bad value' } }),
        client.rpc({ op: 'call', target, method: 'fail_custom', args: { name: 'vm-42' } }),
      ]);

      const e1 = failed(nosuch);
      expect([e1.type, e1.module]).toEqual(['RemoteError', 'oslo_messaging.rpc.client']);
      expect(e1.remote).toMatchObject({ exc_type: 'NoSuchMethod', value: 'Endpoint does not support RPC method nosuch' });
      expect(e1.remote?.traceback.at(-1)).toBe(
        'oslo_messaging.rpc.dispatcher.NoSuchMethod: Endpoint does not support RPC method nosuch\n',
      );

      // DefaultRPCAccessPolicy: a method starting with '_' is never invoked.
      expect(failed(hidden).remote?.exc_type).toBe('NoSuchMethod');
      expect(s1.filter((e) => e.method === '_hidden')).toHaveLength(0);

      expect(failed(badVersion).remote?.exc_type).toBe('UnsupportedVersion');

      // A built-in exception keeps its type; oslo appends the traceback to args[0].
      const e4 = failed(valueError);
      expect([e4.type, e4.module]).toEqual(['ValueError', 'builtins']);
      expect(e4.message.startsWith('bad value\nTraceback (most recent call last):')).toBe(true);
      expect(e4.message).toContain('ValueError: bad value');

      // An allowed module: rebuilt from args/kwargs as <Class>_Remote.
      const e5 = failed(custom);
      expect([e5.type, e5.module]).toEqual(['InstanceNotFound_Remote', 'peer_exceptions_Remote']);
      expect(e5.message.split('\n')[0]).toBe('Instance vm-42 could not be found.');
      expect(e5.kwargs).toEqual({ instance_id: 'vm-42', code: 404 });
      expect(e5.args).toEqual(['Instance vm-42 could not be found.']);
    });

    it('keeps a slow call alive with call-monitor heartbeats, and fails it without them', async () => {
      const target = { topic, server: 's2' };
      const [kept, starved] = await Promise.all([
        // _timeout 2 -> the server heartbeats every second.
        client.rpc({ op: 'call', target, method: 'sleep', args: { secs: 2.5 }, timeout: 10, call_monitor_timeout: 2 }),
        // _timeout 1 -> int(1)/2 < 1: the server sends no heartbeats (rpc/dispatcher.py:_watchdog).
        client.rpc({ op: 'call', target, method: 'sleep', args: { secs: 2.5 }, timeout: 10, call_monitor_timeout: 1 }),
      ]);
      const good = ok(kept);
      expect(good.result).toBe(2.5);
      expect(good.elapsed).toBeGreaterThanOrEqual(2.5);

      const bad = failed(starved);
      expect(bad.type).toBe('MessagingTimeout');
      expect(bad.elapsed).toBeGreaterThanOrEqual(1);
      expect(bad.elapsed).toBeLessThan(2.5);
    });

    it('times out a call to a topic nobody consumes with MessagingTimeout', async () => {
      const err = failed(
        await client.rpc({ op: 'call', target: { topic: uniqueName('nobody') }, method: 'echo', args: { value: 1 }, timeout: 1 }),
      );
      expect([err.type, err.module]).toEqual(['MessagingTimeout', 'oslo_messaging.exceptions']);
      expect(err.message).toMatch(/Timed out waiting for a reply to message ID [0-9a-f]{32}/);
      expect(err.elapsed).toBeGreaterThanOrEqual(1);
      expect(err.elapsed).toBeLessThan(5);
    });

    it('returns big results intact', async () => {
      const answer = ok(await client.rpc({ op: 'call', target: { topic }, method: 'big', args: { size: 300_000 } }));
      expect(typeof answer.result).toBe('string');
      expect(String(answer.result)).toHaveLength(300_000);
    });

    it('runs concurrent calls and matches answers by id', async () => {
      const values = Array.from({ length: 8 }, (_, i) => `${uniqueName('c')}-${i}`);
      const answers = await Promise.all(
        values.map((value, i) =>
          client.rpc({ op: 'call', target: { topic }, method: i % 2 ? 'sleep' : 'echo', args: i % 2 ? { secs: 0.2 } : { value } }),
        ),
      );
      answers.forEach((answer, i) => expect(ok(answer).result).toBe(i % 2 ? 0.2 : values[i]));
      expect(new Set(answers.map((a) => a.id)).size).toBe(values.length);
    });
  });

  describe('notifications', () => {
    let notifier: PythonPeer;
    let plain: PythonPeer;
    let pooled: PythonPeer;
    let requeuer: PythonPeer;
    let batcher: PythonPeer;

    beforeAll(async () => {
      [notifier, plain, pooled, requeuer, batcher] = await Promise.all([
        startPeer('notify', ['--exchange', exchange]),
        startPeer('notify-listener', ['--exchange', exchange, '--targets', notifyTopic]),
        startPeer('notify-listener', ['--exchange', exchange, '--targets', notifyTopic, '--pool', pool, '--priorities', 'info,error']),
        startPeer('notify-listener', ['--exchange', exchange, '--targets', notifyTopic, '--pool', requeuePool, '--priorities', 'info', '--requeue-first']),
        startPeer('notify-listener', [
          '--exchange', exchange, '--targets', notifyTopic, '--pool', batchPool,
          '--priorities', 'critical', '--batch-size', '2', '--batch-timeout', '5',
        ]),
      ]);
    });

    it('delivers v2 and v1 notifications to a plain listener and to a pool', async () => {
      const v2Type = uniqueName('compute.instance.create.end');
      const v1Type = uniqueName('compute.instance.create.error');
      const sent = await Promise.all([
        notifier.notify({
          driver: 'messagingv2', topics: [notifyTopic], publisher_id: 'compute.host1', event_type: v2Type,
          priority: 'info', payload: { instance_id: 'abc' }, ctxt: { user_id: 'u1', auth_token: 'secret' },
        }),
        notifier.notify({
          driver: 'messaging', topics: [notifyTopic], publisher_id: 'compute.host2', event_type: v1Type,
          priority: 'error', payload_json: '{"ratio": 2.0}',
        }),
      ]);
      expect(sent.map((a) => a.ok)).toEqual([true, true]);

      for (const listener of [plain, pooled]) {
        const v2 = await listener.waitFor((e) => e.event === 'notification' && e.event_type === v2Type);
        expect(v2).toMatchObject({ priority: 'info', publisher_id: 'compute.host1', payload: { instance_id: 'abc' } });
        const meta = record(v2.metadata);
        expect(meta.message_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        expect(meta.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$/);
        // The notifier keeps only whitelisted context keys (notifier.py:_sanitize_context).
        expect(record(v2.ctxt).user_id).toBe('u1');
        expect(record(v2.ctxt)).not.toHaveProperty('auth_token');

        const v1 = await listener.waitFor((e) => e.event === 'notification' && e.event_type === v1Type);
        expect(v1).toMatchObject({ priority: 'error', publisher_id: 'compute.host2' });
        expect(v1.payload_json).toBe('{"ratio": 2.0}');
      }
    });

    it('binds a pool only for the priorities its endpoint implements', async () => {
      const eventType = uniqueName('volume.warn');
      const mark = pooled.mark();
      expect((await notifier.notify({ topics: [notifyTopic], event_type: eventType, priority: 'warn', payload: {} })).ok).toBe(true);
      const seen = await plain.waitFor((e) => e.event_type === eventType);
      expect(seen.priority).toBe('warn');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(pooled.events.slice(mark).filter((e) => e.event_type === eventType)).toHaveLength(0);
    });

    it('redelivers a notification its endpoint requeued', async () => {
      const eventType = uniqueName('image.upload');
      expect((await notifier.notify({ topics: [notifyTopic], event_type: eventType, priority: 'info', payload: { n: 1 } })).ok).toBe(true);
      const first = await requeuer.waitFor((e) => e.event === 'requeued' && e.event_type === eventType);
      const second = await requeuer.waitFor((e) => e.event === 'notification' && e.event_type === eventType);
      expect(record(second.metadata).message_id).toBe(record(first.metadata).message_id);
    });

    it('hands a batch listener its messages grouped', async () => {
      const eventType = uniqueName('network.batch');
      for (const n of [1, 2]) {
        expect((await notifier.notify({ topics: [notifyTopic], event_type: eventType, priority: 'critical', payload: { n } })).ok).toBe(true);
      }
      const batch = await batcher.waitFor(
        (e) => e.event === 'batch' && Array.isArray(e.messages) && e.messages.some((m) => record(m).event_type === eventType),
      );
      expect(batch.priority).toBe('critical');
      const messages = (batch.messages as unknown[]).map(record);
      expect(messages.map((m) => record(m.payload).n)).toEqual([1, 2]);
    });
  });

  describe('bench peers', () => {
    it('measure plausible numbers on a tiny run', async () => {
      const server = await startPeer('bench-server', ['--exchange', exchange, '--topic', benchTopic, '--server', 'b1']);
      const run = await runPeer(
        'bench-client',
        ['--exchange', exchange, '--topic', benchTopic, '--concurrency', '2', '--calls', '20', '--warmup', '2'],
        { timeoutMs: 30_000 },
      );
      await server.stop();
      expect(run.exit.code, run.stderr).toBe(0);
      const stats = run.events.find((e) => 'calls_per_sec' in e);
      expect(stats, JSON.stringify(run.events)).toBeDefined();
      const s = stats as Record<string, number>;
      expect(s.calls).toBe(20);
      expect(s.concurrency).toBe(2);
      expect(s.seconds).toBeGreaterThan(0);
      expect(s.calls_per_sec).toBeCloseTo(20 / s.seconds, 6);
      expect(s.p50_ms).toBeGreaterThan(0);
      expect(s.p99_ms).toBeGreaterThanOrEqual(s.p50_ms);
      expect(s.p99_ms).toBeLessThan(s.seconds * 1000);
    });
  });

  describe('harness', () => {
    it('reports a peer that dies before ready, with its stderr', async () => {
      const err = await startPeer('rpc-server', ['--topic', topic]).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect(String((err as Error).message)).toMatch(/peer exited \(code 2/);
      expect(String((err as Error).message)).toContain('the following arguments are required: --server');
    });

    it('times out waitFor with the stderr tail in the error', async () => {
      const server = await startPeer('rpc-server', ['--exchange', exchange, '--topic', topic, '--server', 's4', '--debug']);
      try {
        const err = await server.waitFor((e) => e.event === 'never', 200).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(Error);
        const message = (err as Error).message;
        expect(message).toContain('timed out after 200 ms');
        // --debug makes oslo log its connection set-up on stderr.
        expect(message).toMatch(/stderr tail:\n[\s\S]*DEBUG/);
      } finally {
        const exit = await server.stop();
        expect(exit.code).toBe(0);
        expect(server.events.at(-1)).toMatchObject({ event: 'stopped', reason: 'SIGTERM' });
      }
      await deleteBrokerEntities({ queues: [`${topic}.s4`] });
    });

    it('lets an rpc-client finish in-flight calls when its stdin closes', async () => {
      const c = await startPeer('rpc-client', ['--exchange', exchange]);
      const pending = c.rpc({ op: 'call', target: { topic, server: 's1' }, method: 'sleep', args: { secs: 0.5 } });
      await new Promise((resolve) => setTimeout(resolve, 100));
      c.endInput();
      expect(ok(await pending).result).toBe(0.5);
      const exit = await c.exited;
      expect(exit.code).toBe(0);
      expect(c.events.at(-1)).toMatchObject({ event: 'stopped', reason: 'stdin closed' });
    });

    it('kills a peer at once', async () => {
      const c = await startPeer('notify', ['--exchange', exchange]);
      const exit = await c.kill();
      expect(exit.signal).toBe('SIGKILL');
      expect(runningPeers()).not.toContain(c);
      await expect(c.request({ priority: 'info' })).rejects.toThrow(/peer has exited/);
    });
  });
});
