/**
 * Interop with the real Python oslo.messaging 14.0.3, both directions:
 * osloscope client → Python server and Python client → osloscope server,
 * for calls of every JSON type, casts, fanout, server targeting,
 * namespaces/versions, failures and call-monitor heartbeats; plus a wire
 * comparison of the bytes each side publishes for the same call.
 */
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ExpectedFailure,
  PyFloat,
  RemoteError,
  RpcClient,
  RpcServer,
  Transport,
  type Endpoint,
} from '../../server/messaging/index.ts';
import { AMQP_URL, osloscopeLayoutOptions, pythonAvailable, pythonReplyQueuePattern, RABBIT_URL, startPeer, stopAllPeers, type PythonPeer, type RpcAnswer, type RpcAnswerError, type RpcAnswerOk } from './python-peer.ts';
import { eventually, uniqueName } from '../support/brokers.ts';

const available = await pythonAvailable();
if (!available && process.env.CI) throw new Error('Python oslo.messaging is required for interop tests in CI');
const d = available ? describe : describe.skip;

d('osloscope client → Python oslo.messaging server', () => {
  let transport: Transport;
  let topic: string;
  let exchange: string;
  let py1: PythonPeer;
  let py2: PythonPeer;

  beforeAll(async () => {
    topic = uniqueName('py-srv');
    exchange = uniqueName('interop');
    [py1, py2] = await Promise.all([
      startPeer('rpc-server', ['--topic', topic, '--server', 'py1', '--exchange', exchange]),
      startPeer('rpc-server', ['--topic', topic, '--server', 'py2', '--exchange', exchange]),
    ]);
    transport = new Transport(RABBIT_URL, { conf: { control_exchange: exchange }, programName: 'interop-ts-client' });
  });

  afterAll(async () => {
    await transport?.close();
    await stopAllPeers();
  });

  const client = (o: Parameters<RpcClient['prepare']>[0] = {}) => new RpcClient(transport, { topic, version: '1.3' }, { timeout: 15 }).prepare(o);

  it('calls with every JSON type, unicode and a large payload', async () => {
    const value = { s: 'é中😀\u2028"\\/', i: -7, f: 0.1, pf: new PyFloat(3), big: 2n ** 70n, nested: [[], {}, [null, true, false]] };
    expect(await client().call({ user_id: 'u1' }, 'echo', { value })).toEqual({ ...value, pf: 3 });
    const types = (await client().call({}, 'types')) as Record<string, unknown>;
    expect(types).toMatchObject({ unicode: 'é中😀', float: 1.5 });
    expect(Object.values(types)).toContain(2n ** 64n);
    const big = (await client().call({}, 'big', { size: 1_000_000 })) as string;
    expect(big.length).toBe(1_000_000);
    const payload = 'x'.repeat(2_000_000);
    expect(((await client().call({}, 'echo', { value: payload })) as string).length).toBe(2_000_000);
  });

  it('passes the context through to the Python endpoint', async () => {
    const ctxt = (await client({ callMonitorTimeout: 4 }).call({ user_id: 'u1', project_id: 'p1', roles: ['member'] }, 'echo_ctxt')) as Record<string, unknown>;
    expect(ctxt).toMatchObject({ user_id: 'u1', project_id: 'p1', roles: ['member'], client_timeout: 4 });
  });

  it('casts reach one Python server, fanout reaches both, server targeting picks one', async () => {
    const mark1 = py1.mark();
    const mark2 = py2.mark();
    await client().cast({}, 'echo', { value: 'cast-x' });
    await client({ fanout: true }).cast({}, 'echo', { value: 'fan-x' });
    const fan = (e: Record<string, unknown>) => e.event === 'invoked' && (e.args as { value?: unknown })?.value === 'fan-x';
    await py1.waitFor(fan, 10_000, mark1);
    await py2.waitFor(fan, 10_000, mark2);
    const cast = (e: Record<string, unknown>) => e.event === 'invoked' && (e.args as { value?: unknown })?.value === 'cast-x';
    await eventually(() => py1.filter(cast).length + py2.filter(cast).length === 1, 'the cast on one server');
    for (let i = 0; i < 3; i++) {
      const m = py2.mark();
      await client({ server: 'py2' }).call({}, 'echo', { value: `targeted-${i}` });
      await py2.waitFor((e) => e.event === 'invoked' && (e.args as { value?: unknown })?.value === `targeted-${i}`, 5000, m);
    }
    expect(py1.filter((e) => String((e.args as { value?: unknown })?.value ?? '').startsWith('targeted-'))).toHaveLength(0);
  });

  it('routes namespace/version and gets the Python dispatcher failures', async () => {
    expect(await client({ namespace: 'ns1', version: '2.1' }).call({}, 'ns_method', { x: 1 })).toEqual({ ns: 'ns1', x: 1 });
    const noMethod = (await client().call({}, 'nosuch').catch((e: unknown) => e)) as RemoteError;
    expect(noMethod).toBeInstanceOf(RemoteError);
    expect([noMethod.excType, noMethod.module, noMethod.value]).toEqual(['NoSuchMethod', 'oslo_messaging.rpc.dispatcher', 'Endpoint does not support RPC method nosuch']);
    const hidden = (await client().call({}, '_hidden').catch((e: unknown) => e)) as RemoteError;
    expect(hidden.excType).toBe('NoSuchMethod');
    const version = (await client({ version: '1.4' }).call({}, 'echo', { value: 1 }).catch((e: unknown) => e)) as RemoteError;
    expect([version.excType, version.value]).toEqual(['UnsupportedVersion', 'Endpoint does not support RPC version 1.4. Attempted method: echo']);
  });

  it('turns Python exceptions into RemoteError with the Python traceback', async () => {
    const err = (await client().call({}, 'fail', { message: 'bad value' }).catch((e: unknown) => e)) as RemoteError;
    expect([err.excType, err.module, err.value]).toEqual(['ValueError', 'builtins', 'bad value']);
    expect(err.traceback[0]).toBe('Traceback (most recent call last):\n');
    expect(err.traceback.join('')).toContain('oslo_peer.py');
    expect(err.traceback.at(-1)).toBe('ValueError: bad value\n');
    const custom = (await client().call({}, 'fail_custom', { name: 'vm1' }).catch((e: unknown) => e)) as RemoteError;
    expect([custom.excType, custom.module, custom.value]).toEqual(['InstanceNotFound', 'peer_exceptions', 'Instance vm1 could not be found.']);
    expect(custom.kwargs).toEqual({ instance_id: 'vm1', code: 404 });
  });

  it('stays alive on Python call-monitor heartbeats past call_monitor_timeout', async () => {
    const waiter = await transport.getReplyWaiter();
    const before = waiter.stats().heartbeats;
    expect(await client({ timeout: 15, callMonitorTimeout: 2 }).call({}, 'sleep', { secs: 3.2 })).toBe(3.2);
    expect(waiter.stats().heartbeats - before).toBeGreaterThanOrEqual(2);
  });
});

d('Python oslo.messaging client → osloscope server', () => {
  let transport: Transport;
  let topic: string;
  let exchange: string;
  let pyc: PythonPeer;
  const servers: RpcServer[] = [];
  const invoked: { server: string; method: string; args: Record<string, unknown> }[] = [];

  const endpoints = (server: string): Endpoint[] => [
    {
      target: { version: '1.3' },
      echo(_c: Record<string, unknown>, args: Record<string, unknown>) {
        invoked.push({ server, method: 'echo', args });
        return args.value;
      },
      echo_ctxt(ctxt: Record<string, unknown>) {
        return ctxt;
      },
      whoami() {
        return server;
      },
      async sleep(_c: Record<string, unknown>, args: Record<string, unknown>) {
        await new Promise((r) => setTimeout(r, Number(args.secs) * 1000));
        return args.secs;
      },
      fail(_c: Record<string, unknown>, args: Record<string, unknown>) {
        throw new ExpectedFailure('ValueError', 'builtins', String(args.message), { args: [args.message, 42] });
      },
      fail_custom(_c: Record<string, unknown>, args: Record<string, unknown>) {
        throw new ExpectedFailure('InstanceNotFound', 'peer_exceptions', `Instance ${String(args.name)} could not be found.`, {
          kwargs: { instance_id: args.name, code: 404 },
        });
      },
      _hidden() {
        return 'no';
      },
    },
    { target: { namespace: 'ns1', version: '2.1' }, ns_method: (_c: Record<string, unknown>, args: Record<string, unknown>) => ({ ns: 'ns1', x: args.x }) },
  ];

  beforeAll(async () => {
    topic = uniqueName('ts-srv');
    exchange = uniqueName('interop');
    // configured like the services (TEST_PEER_LAYOUT), as an operator runs a server beside them
    transport = new Transport(RABBIT_URL, { conf: { control_exchange: exchange }, rabbit: osloscopeLayoutOptions(), programName: 'interop-ts-server' });
    for (const name of ['ts1', 'ts2']) {
      const s = new RpcServer(transport, { topic, server: name }, endpoints(name));
      await s.start(0);
      servers.push(s);
    }
    pyc = await startPeer('rpc-client', ['--exchange', exchange]);
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await transport?.close();
    await stopAllPeers();
  });

  const call = (method: string, args: Record<string, unknown> = {}, extra: Partial<Parameters<PythonPeer['rpc']>[0]> = {}): Promise<RpcAnswer> =>
    pyc.rpc({ op: 'call', target: { topic, version: '1.3', ...(extra.target ?? {}) }, method, args, ctxt: { user_id: 'u1' }, timeout: 15, ...extra });

  it('answers calls with every JSON type exactly', async () => {
    const r = (await pyc.rpc({
      op: 'call',
      target: { topic, version: '1.3' },
      method: 'echo',
      args_json: '{"value": {"s": "\\u00e9\\u4e2d\\ud83d\\ude00", "f": 1.5, "i": 3, "big": 18446744073709551616, "l": [null, true, {"k": []}]}}',
      timeout: 15,
    })) as RpcAnswerOk;
    expect(r.ok).toBe(true);
    expect(r.result_repr).toBe("{'s': 'é中😀', 'f': 1.5, 'i': 3, 'big': 18446744073709551616, 'l': [None, True, {'k': []}]}");
    const big = (await call('echo', { value: 'y'.repeat(1_000_000) })) as RpcAnswerOk;
    expect((big.result as string).length).toBe(1_000_000);
  });

  it('gives endpoints the context with client_timeout', async () => {
    const r = (await call('echo_ctxt', {}, { ctxt: { user_id: 'u9', request_id: 'req-9' }, call_monitor_timeout: 6 })) as RpcAnswerOk;
    expect(r.result).toEqual({ user_id: 'u9', request_id: 'req-9', client_timeout: 6 });
  });

  it('serves casts, fanout to both servers, and server-targeted calls', async () => {
    invoked.length = 0;
    await pyc.rpc({ op: 'cast', target: { topic, version: '1.3' }, method: 'echo', args: { value: 'pc' } });
    await pyc.rpc({ op: 'cast', target: { topic, version: '1.3', fanout: true }, method: 'echo', args: { value: 'pf' } });
    await eventually(() => invoked.filter((i) => i.args.value === 'pf').length === 2 && invoked.some((i) => i.args.value === 'pc'), 'cast and fanout');
    expect(invoked.filter((i) => i.args.value === 'pc')).toHaveLength(1);
    expect(new Set(invoked.filter((i) => i.args.value === 'pf').map((i) => i.server))).toEqual(new Set(['ts1', 'ts2']));
    for (let i = 0; i < 3; i++) expect(((await call('whoami', {}, { target: { topic, version: '1.3', server: 'ts2' } })) as RpcAnswerOk).result).toBe('ts2');
  });

  it('fails like a Python server: NoSuchMethod, UnsupportedVersion, ValueError, allowed custom exceptions', async () => {
    const nosuch = (await call('nosuch')) as RpcAnswerError;
    expect([nosuch.type, nosuch.remote?.exc_type, nosuch.remote?.value]).toEqual(['RemoteError', 'NoSuchMethod', 'Endpoint does not support RPC method nosuch']);
    expect(((await call('_hidden')) as RpcAnswerError).remote?.exc_type).toBe('NoSuchMethod');
    const version = (await call('echo', { value: 1 }, { target: { topic, version: '1.9' } })) as RpcAnswerError;
    expect(version.remote?.value).toBe('Endpoint does not support RPC version 1.9. Attempted method: echo');
    const ns = (await call('ns_method', { x: 5 }, { target: { topic, namespace: 'ns1', version: '2.0' } })) as RpcAnswerOk;
    expect(ns.result).toEqual({ ns: 'ns1', x: 5 });
    // builtins are rebuilt by the Python client as the real type (oslo swaps args[0] for message + traceback)
    const ve = (await call('fail', { message: 'bad value' })) as RpcAnswerError;
    expect(ve.type).toBe('ValueError');
    expect(ve.message).toContain('bad value');
    expect(ve.message).toContain('Traceback (most recent call last):');
    // allowed_remote_exmods=['peer_exceptions']: rebuilt as InstanceNotFound_Remote with its kwargs
    const custom = (await call('fail_custom', { name: 'vm7' })) as RpcAnswerError;
    expect(custom.type).toBe('InstanceNotFound_Remote');
    expect(custom.message.startsWith('Instance vm7 could not be found.\n')).toBe(true);
    expect(custom.kwargs).toEqual({ instance_id: 'vm7', code: 404 });
  });

  it('keeps a Python call alive with heartbeats only when call_monitor_timeout is set', async () => {
    const ok = (await call('sleep', { secs: 3 }, { call_monitor_timeout: 2, timeout: 15 })) as RpcAnswerOk;
    expect(ok.ok).toBe(true);
    expect(ok.result).toBe(3);
  });
});

d('wire bytes: osloscope and Python publish the same call', () => {
  it('has identical properties and bodies up to the random ids', async () => {
    const topic = uniqueName('wire');
    const exchange = uniqueName('wire-ex');
    const conn = await amqplib.connect(AMQP_URL, { noDelay: true });
    const ch = await conn.createChannel();
    await ch.assertExchange(exchange, 'topic', { durable: false, autoDelete: false });
    const q = await ch.assertQueue(topic, { durable: false, autoDelete: false });
    await ch.bindQueue(q.queue, exchange, topic);
    const got: amqplib.ConsumeMessage[] = [];
    await ch.consume(q.queue, (m) => m && got.push(m), { noAck: true });
    const pyc = await startPeer('rpc-client', ['--exchange', exchange]);
    const transport = new Transport(RABBIT_URL, { conf: { control_exchange: exchange } });
    try {
      const ctxt = { user_id: 'u1', project_id: 'p1', request_id: 'req-1b7a', is_admin: false, roles: ['member'] };
      const args = { instance_uuid: '6f0b\u00e9', detail: true, n: 1.5 };
      void pyc.rpc({ op: 'call', target: { topic, namespace: 'compute', version: '5.1' }, method: 'get_instance', args, ctxt, timeout: 2 }).catch(() => undefined);
      await eventually(() => got.length === 1, 'the Python call');
      void new RpcClient(transport, { topic, namespace: 'compute', version: '5.1' }, { timeout: 2 }).call(ctxt, 'get_instance', args).catch(() => undefined);
      await eventually(() => got.length === 2, 'the osloscope call');
      // The reply queue is the one field a layout changes (docs/wire.md#layouts):
      // Python's is reply_<hex32>, or reply_<host>:<proc>:<n> with
      // use_queue_manager; osloscope's own stays reply_<hex32> (an exclusive
      // queue no oslo server needs to know, §1.8 item 11).
      const replyQ = (m: amqplib.ConsumeMessage) =>
        (JSON.parse((JSON.parse(m.content.toString('utf8')) as { 'oslo.message': string })['oslo.message']) as { _reply_q: string })._reply_q;
      expect(replyQ(got[0])).toMatch(pythonReplyQueuePattern());
      expect(replyQ(got[1])).toMatch(/^reply_[0-9a-f]{32}$/);
      const norm = (m: amqplib.ConsumeMessage) =>
        m.content
          .toString('latin1')
          .split(replyQ(m))
          .join('reply_ID')
          .replace(/[0-9a-f]{32}/g, 'ID');
      expect(norm(got[1])).toBe(norm(got[0]));
      const props = (m: amqplib.ConsumeMessage) => {
        const { contentType, contentEncoding, headers, deliveryMode, priority, expiration, correlationId, replyTo, messageId, timestamp, type, appId, userId } = m.properties;
        return { contentType, contentEncoding, headers, deliveryMode, priority, expiration, correlationId, replyTo, messageId, timestamp, type, appId, userId };
      };
      expect(props(got[1])).toEqual(props(got[0]));
      expect(props(got[0])).toMatchObject({ contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2, priority: 0, expiration: '2000', headers: {} });
      expect(got[1].fields.routingKey).toBe(got[0].fields.routingKey);
    } finally {
      await transport.close();
      await pyc.stop();
      await ch.deleteQueue(q.queue).catch(() => undefined);
      await ch.deleteExchange(exchange).catch(() => undefined);
      await conn.close();
    }
  });
});
