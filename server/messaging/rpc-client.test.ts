import { inflateSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Delivery } from './driver.ts';
import { MemoryBroker, type MemoryLink } from './drivers/memory/index.ts';
import { decodeBody, encodeBody, type Dict } from './envelope.ts';
import { InvalidTarget, MessageUndeliverable, MessagingError, MessagingTimeout, RemoteError } from './errors.ts';
import { RpcClient, RPCVersionCapError } from './rpc-client.ts';
import { Transport, type TransportOptions } from './transport.ts';

/**
 * RpcClient on the memory transport. A raw link plays the server: it owns the
 * `compute` queues, records each request and answers calls by hand.
 */
describe('RpcClient', () => {
  let broker: MemoryBroker;
  let transport: Transport;
  let server: MemoryLink;
  let requests: Delivery[];

  async function setup(options: TransportOptions = {}): Promise<void> {
    broker = new MemoryBroker();
    transport = new Transport('memory://', { memoryBroker: broker, ...options });
    server = broker.connect('server');
    requests = [];
    await server.assertExchange('openstack', 'topic', { durable: false, autoDelete: false });
    for (const q of ['compute', 'compute.host1']) {
      await server.assertQueue(q, { durable: false, autoDelete: false });
      await server.bindQueue(q, 'openstack', q);
      await server.consume(q, (d) => {
        requests.push(d);
        server.ack(d);
      });
    }
  }

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    await setup();
  });

  afterEach(async () => {
    await transport.close();
    vi.useRealTimers();
  });

  async function settle(): Promise<void> {
    for (let i = 0; i < 4; i++) await new Promise<void>((r) => setImmediate(r));
  }

  /** The request the server got, decoded. */
  function request(i = 0): Dict {
    return decodeBody(requests[i].body, requests[i].properties.headers).message;
  }

  /** Answer request i the way the Python server does. */
  async function answer(i: number, fields: Dict): Promise<void> {
    const req = request(i);
    const { body } = encodeBody({ result: null, failure: null, ending: true, ...fields, _msg_id: req._msg_id, _unique_id: `r${Math.random()}` });
    await server.publish('', req._reply_q as string, body, { mandatory: true });
    await settle();
  }

  function capture<T>(p: Promise<T>) {
    const out: { value?: T; error?: unknown; done: boolean } = { done: false };
    p.then(
      (v) => Object.assign(out, { value: v, done: true }),
      (e: unknown) => Object.assign(out, { error: e, done: true }),
    );
    return out;
  }

  it('publishes a call like _make_message + AMQPDriverBase._send, and returns the reply’s result', async () => {
    const client = new RpcClient(transport, { topic: 'compute', namespace: 'compute', version: '5.1' });
    const call = capture(client.call({ user_id: 'u1', request_id: 'req-1' }, 'get_instance', { instance_uuid: 'abc', detail: true }));
    await settle();
    expect(requests).toHaveLength(1);
    const d = requests[0];
    expect(d.exchange).toBe('openstack');
    expect(d.routingKey).toBe('compute');
    expect(d.properties).toEqual({ contentType: 'application/json', contentEncoding: 'utf-8', headers: {}, deliveryMode: 2, priority: 0, expiration: '60000' });
    const msg = request();
    expect(Object.keys(msg)).toEqual(['method', 'args', 'namespace', 'version', '_msg_id', '_reply_q', '_timeout', '_unique_id', '_context_user_id', '_context_request_id']);
    const waiter = await transport.getReplyWaiter();
    expect(msg).toMatchObject({ method: 'get_instance', args: { instance_uuid: 'abc', detail: true }, namespace: 'compute', version: '5.1', _reply_q: waiter.replyQ, _timeout: null });
    expect(msg._msg_id).toMatch(/^[0-9a-f]{32}$/);
    expect(msg._unique_id).toMatch(/^[0-9a-f]{32}$/);
    expect(msg._unique_id).not.toBe(msg._msg_id);
    // the sender declares the control exchange (durable false by default) and nothing else
    expect(broker.listExchanges()).toContainEqual(expect.objectContaining({ name: 'openstack', type: 'topic', durable: false, autoDelete: false }));

    await answer(0, { result: { name: 'vm1' } });
    expect(call).toEqual({ done: true, value: { name: 'vm1' } });
  });

  it('leaves namespace and version out when the target has none, and routes to <topic>.<server>', async () => {
    const client = new RpcClient(transport, { topic: 'compute', server: 'host1' });
    capture(client.call(null, 'ping'));
    await settle();
    expect(requests[0].routingKey).toBe('compute.host1');
    expect(Object.keys(request())).toEqual(['method', 'args', '_msg_id', '_reply_q', '_timeout', '_unique_id']);
  });

  it('sends timeout as expiration str(int(timeout*1000)) and call_monitor_timeout as _timeout', async () => {
    const client = new RpcClient(transport, { topic: 'compute' }).prepare({ timeout: 7.5, callMonitorTimeout: 2 });
    capture(client.call({ user_id: 'u1' }, 'slow', { secs: 2.5 }));
    await settle();
    expect(requests[0].properties.expiration).toBe('7500');
    expect(request()._timeout).toBe(2);
  });

  it('uses rpc_response_timeout from the transport when no timeout is given', async () => {
    await transport.close();
    await setup({ conf: { rpc_response_timeout: 3 } });
    const call = capture(new RpcClient(transport, { topic: 'compute' }).call(null, 'm'));
    await settle();
    expect(requests[0].properties.expiration).toBe('3000');
    await vi.advanceTimersByTimeAsync(3000);
    expect(call.error).toBeInstanceOf(MessagingTimeout);
    expect(call.error).toMatchObject({ msgId: request()._msg_id });
  });

  it('casts without _msg_id, _reply_q, _timeout or expiration, and without a reply queue', async () => {
    const client = new RpcClient(transport, { topic: 'compute', version: '1.1' });
    const info = await client.cast({ user_id: 'u1' }, 'echo', { x: 3 });
    await settle();
    expect(Object.keys(request())).toEqual(['method', 'args', 'version', '_unique_id', '_context_user_id']);
    expect(requests[0].properties.expiration).toBeUndefined();
    expect(info).toMatchObject({ exchange: 'openstack', routingKey: 'compute', uniqueId: request()._unique_id });
    expect(broker.listQueues().some((q) => q.name.startsWith('reply_'))).toBe(false);
  });

  it('fanout-casts to <topic>_fanout with an empty routing key, declaring that exchange non-durable and auto-delete', async () => {
    const got: Delivery[] = [];
    const client = new RpcClient(transport, { topic: 'compute', fanout: true });
    // a listener must exist for the fanout exchange to route anywhere
    await server.assertExchange('compute_fanout', 'fanout', { durable: false, autoDelete: true });
    await server.assertQueue('compute_fanout_x', { durable: false, autoDelete: false });
    await server.bindQueue('compute_fanout_x', 'compute_fanout', 'compute');
    await server.consume('compute_fanout_x', (d) => got.push(d), { noAck: true });
    const info = await client.cast(null, 'echo', { x: 4 });
    await settle();
    expect(info).toMatchObject({ exchange: 'compute_fanout', routingKey: '' });
    expect(got).toHaveLength(1);
    expect(got[0].routingKey).toBe('');
    expect(broker.listExchanges()).toContainEqual(expect.objectContaining({ name: 'compute_fanout', type: 'fanout', durable: false, autoDelete: true }));
  });

  it('refuses call() on a fanout target and sends without a topic', async () => {
    await expect(new RpcClient(transport, { topic: 'compute', fanout: true }).call(null, 'm')).rejects.toThrow(InvalidTarget);
    await expect(new RpcClient(transport, {}).call(null, 'm')).rejects.toThrow(InvalidTarget);
    await expect(new RpcClient(transport, {}).cast(null, 'm')).rejects.toThrow(InvalidTarget);
    await expect(new RpcClient(transport, { topic: 'compute' }).cast(null, '')).rejects.toThrow(MessagingError);
  });

  it('rejects with the RemoteError of a failure reply, tagged with its msg_id', async () => {
    const call = capture(new RpcClient(transport, { topic: 'compute' }).call(null, 'nosuch'));
    await settle();
    const failure =
      '{"class": "NoSuchMethod", "module": "oslo_messaging.rpc.dispatcher", "message": "Endpoint does not support RPC method nosuch", "tb": [], "args": ["Endpoint does not support RPC method nosuch"], "kwargs": {}}';
    await answer(0, { failure });
    expect(call.error).toBeInstanceOf(RemoteError);
    expect(call.error).toMatchObject({ excType: 'NoSuchMethod', msgId: request()._msg_id });
  });

  it('times out with MessagingTimeout, and a reply arriving after that is only counted as late', async () => {
    const call = capture(new RpcClient(transport, { topic: 'compute' }).prepare({ timeout: 1 }).call(null, 'm'));
    await settle();
    await vi.advanceTimersByTimeAsync(1000);
    expect(call.error).toBeInstanceOf(MessagingTimeout);
    await answer(0, { result: 'late' });
    const waiter = await transport.getReplyWaiter();
    expect(waiter.stats()).toMatchObject({ late: 1, pending: 0, timeouts: 1 });
  });

  it('cancels the wait when the publish fails (at_least_once to a topic nobody listens on)', async () => {
    const client = new RpcClient(transport, { topic: 'nobody' }).prepare({ atLeastOnce: true });
    await expect(client.call(null, 'm')).rejects.toThrow(MessageUndeliverable);
    const waiter = await transport.getReplyWaiter();
    expect(waiter.stats().pending).toBe(0);
    // no timeout left behind: the cancelled call never times out later
    await vi.advanceTimersByTimeAsync(transport.conf.rpc_response_timeout * 1000);
    expect(waiter.stats()).toMatchObject({ pending: 0, timeouts: 0 });
    // without at_least_once the same call is silently dropped by the broker and times out
    const dropped = capture(new RpcClient(transport, { topic: 'nobody' }).prepare({ timeout: 1 }).call(null, 'm'));
    await settle();
    expect(waiter.stats().pending).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(dropped.error).toBeInstanceOf(MessagingTimeout);
  });

  it('refuses a version above version_cap before sending anything (RPCVersionCapError)', async () => {
    const client = new RpcClient(transport, { topic: 'compute', version: '1.3' }, { versionCap: '1.2' });
    await expect(client.call(null, 'm')).rejects.toThrow(RPCVersionCapError);
    await expect(client.cast(null, 'm')).rejects.toThrow(
      'Requested message version, 1.3 is incompatible.  It needs to be equal in major version and less than or equal in minor version as the specified version cap 1.2.',
    );
    await expect(client.prepare({ version: '1.2.5' }).cast(null, 'm')).rejects.toThrow(RPCVersionCapError);
    await expect(client.prepare({ version: '2.0' }).cast(null, 'm')).rejects.toThrow(RPCVersionCapError);
    await client.prepare({ version: '1.2' }).cast(null, 'm');
    await client.prepare({ version: '1.0' }).cast(null, 'm');
    await settle();
    expect(requests.map((_, i) => request(i).version)).toEqual(['1.2', '1.0']);
    // the reply waiter is never started for a refused call
    expect(broker.listQueues().some((q) => q.name.startsWith('reply_'))).toBe(false);
  });

  it('with a version cap, refuses a message without a version, as version_is_compatible(cap, None) is False', async () => {
    const client = new RpcClient(transport, { topic: 'compute' }, { versionCap: '1.2' });
    await expect(client.cast(null, 'm')).rejects.toThrow(
      'Requested message version, None is incompatible.  It needs to be equal in major version and less than or equal in minor version as the specified version cap 1.2.',
    );
  });

  it('answers can_send_version against the cap', () => {
    const capped = new RpcClient(transport, { topic: 'compute', version: '1.1' }, { versionCap: '1.2' });
    expect(capped.canSendVersion()).toBe(true);
    expect(capped.canSendVersion('1.3')).toBe(false);
    expect(capped.canSendVersion(null)).toBe(false);
    expect(new RpcClient(transport, { topic: 'compute' }).canSendVersion('9.9')).toBe(true);
  });

  it('prepare() overrides target and call options without touching the original', () => {
    const base = new RpcClient(transport, { topic: 'compute', version: '1.0' }, { timeout: 5, retry: 2 });
    const p = base.prepare({ server: 'host1', version: '1.1', timeout: 9 });
    expect(p.target).toEqual({ topic: 'compute', server: 'host1', version: '1.1' });
    expect(p.options).toEqual({ timeout: 9, retry: 2 });
    expect(base.target).toEqual({ topic: 'compute', version: '1.0' });
    expect(base.options).toEqual({ timeout: 5, retry: 2 });
    expect(p.prepare({ timeout: undefined }).options).toEqual({ timeout: 9, retry: 2 });
  });

  it('compresses bodies as zlib when kombu_compression is gzip', async () => {
    await transport.close();
    await setup({ rabbit: { kombu_compression: 'gzip' } });
    await new RpcClient(transport, { topic: 'compute' }).cast(null, 'echo', { x: 1 });
    await settle();
    expect(requests[0].properties.headers).toEqual({ compression: 'application/x-gzip' });
    expect(inflateSync(requests[0].body).toString()).toMatch(/^\{"oslo\.version": "2\.0", "oslo\.message": "\{\\"method\\": \\"echo\\"/);
  });

  it('uses the target exchange, else control_exchange', async () => {
    await server.assertExchange('nova', 'topic', { durable: false, autoDelete: false });
    await server.bindQueue('compute', 'nova', 'compute');
    const info = await new RpcClient(transport, { topic: 'compute', exchange: 'nova' }).cast(null, 'm');
    await settle();
    expect(info.exchange).toBe('nova');
    expect(requests[0].exchange).toBe('nova');
  });
});
