import { execFileSync } from 'node:child_process';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodedMessageSchema, REDACTED } from '../../lib/tap-contracts.ts';
import { decodeBody, encodeBody, type Delivery, type MessageProperties } from '../messaging/index.ts';
import { bunzip2 } from './compression.ts';
import { clearTraceDecodings, decodeObservation, fromTraceDelivery, RAW_KEEP_BYTES, type Observation } from './decoder.ts';

const CALL_PROPS: MessageProperties = { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2, priority: 0, headers: {}, expiration: '60000' };
const PROPS: MessageProperties = { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2, priority: 0, headers: {} };

let seq = 0;
function obs(body: Buffer | string, over: Partial<Observation> = {}): Observation {
  return {
    id: String(++seq),
    ts: 1_700_000_000_000,
    body: typeof body === 'string' ? Buffer.from(body, 'latin1') : body,
    exchange: 'openstack',
    routingKey: 'compute',
    properties: PROPS,
    trace: null,
    ...over,
  };
}

function decode(o: Observation) {
  const m = decodeObservation(o);
  // everything the tap hands out must satisfy the shared contract
  decodedMessageSchema.parse(m);
  return m;
}

// Captured wire bodies (docs/wire.md#envelope-and-requests, #replies-and-failures, #notifications), as published by oslo.messaging 14.0.3.
const CALL_WIRE =
  '{"oslo.version": "2.0", "oslo.message": "{\\"method\\": \\"get_instance\\", \\"args\\": {\\"instance_uuid\\": \\"6f0b...\\", \\"detail\\": true}, \\"namespace\\": \\"compute\\", \\"version\\": \\"5.1\\", \\"_msg_id\\": \\"a1b2c3d4e5f60718293a4b5c6d7e8f90\\", \\"_reply_q\\": \\"reply_0f1e2d3c4b5a69788796a5b4c3d2e1f0\\", \\"_timeout\\": null, \\"_unique_id\\": \\"d41d8cd98f00b204e9800998ecf8427e\\", \\"_context_user_id\\": \\"u1\\", \\"_context_project_id\\": \\"p1\\", \\"_context_request_id\\": \\"req-1b7a\\", \\"_context_is_admin\\": false, \\"_context_roles\\": [\\"member\\"]}"}';
const NOTIFICATION_V1 =
  '{"message_id": "1639edec-825b-4dd3-894a-8850c544bf94", "publisher_id": "compute.host1", "event_type": "compute.instance.create.error", "priority": "ERROR", "payload": {"instance_id": "abc"}, "timestamp": "2026-11-21 14:19:16.055407", "_unique_id": "b5372abd080e475d91b3cc97e8863dac", "_context_user_id": "u1", "_context_request_id": "req-1"}';
const FAILURE_REPLY = {
  result: null,
  failure:
    '{"class": "NoSuchMethod", "module": "oslo_messaging.rpc.dispatcher", "message": "Endpoint does not support RPC method nosuch", "tb": ["Traceback (most recent call last):\\n", "oslo_messaging.rpc.dispatcher.NoSuchMethod: Endpoint does not support RPC method nosuch\\n"], "args": ["Endpoint does not support RPC method nosuch"], "kwargs": {}}',
  ending: true,
  _msg_id: '39a62c72bbe74d0183ed0f3058625bc2',
  _unique_id: '6875b048aa704bdc9f63c96201c27370',
};

describe('decodeObservation: classification', () => {
  it('decodes the captured call: target, method, namespace, version, ids, context without prefix, timeout from expiration', () => {
    const m = decode(obs(CALL_WIRE, { routingKey: 'compute.host-1.example.org', properties: CALL_PROPS }));
    expect(m.kind).toBe('call');
    expect(m.enveloped).toBe(true);
    expect(m.topic).toBe('compute');
    expect(m.server).toBe('host-1.example.org');
    expect(m.method).toBe('get_instance');
    expect(m.namespace).toBe('compute');
    expect(m.version).toBe('5.1');
    expect(m.msgId).toBe('a1b2c3d4e5f60718293a4b5c6d7e8f90');
    expect(m.replyQ).toBe('reply_0f1e2d3c4b5a69788796a5b4c3d2e1f0');
    expect(m.uniqueId).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(m.callMonitorTimeout).toBeNull();
    expect(m.timeoutMs).toBe(60000);
    expect(m.args).toEqual({ instance_uuid: '6f0b...', detail: true });
    expect(m.context).toEqual({ user_id: 'u1', project_id: 'p1', request_id: 'req-1b7a', is_admin: false, roles: ['member'] });
    expect(m.requestId).toBe('req-1b7a');
    expect(m.bytes).toBe(CALL_WIRE.length);
    expect(m.error).toBeNull();
  });

  it('splits the context the same way every time a key comes back: prefix off, secrets masked, __proto__ kept off the prototype', () => {
    const body = String.raw`{"method": "m", "args": {}, "_unique_id": "u", "_context_user_id": "u1", "_context_auth_token": "gAAAAAsecret", "_context_": "bare", "_context___proto__": {"polluted": true}, "_context_new_pass": "", "_context_roles": ["admin"], "_msg_idx": "not context"}`;
    const first = decode(obs(body));
    const again = decode(obs(body));
    for (const m of [first, again]) {
      expect(m.context).toEqual({ user_id: 'u1', auth_token: REDACTED, '': 'bare', new_pass: '', roles: ['admin'] });
      expect(Object.getPrototypeOf(m.context)).toBe(Object.prototype);
      expect((m.context as Record<string, unknown>).polluted).toBeUndefined();
    }
  });

  it('tells cast from fanout by the exchange, and reads _timeout as the call-monitor timeout', () => {
    const cast = encodeBody({ method: 'echo', args: { x: 3 }, version: '1.1', _unique_id: 'f224', _context_user_id: 'u1' }).body;
    expect(decode(obs(cast)).kind).toBe('cast');
    const fan = decode(obs(cast, { exchange: 'compute_fanout', routingKey: '' }));
    expect(fan.kind).toBe('fanout');
    expect(fan.topic).toBe('compute');
    expect(fan.server).toBeNull();
    const monitored = encodeBody({ method: 'slow', args: {}, _msg_id: 'f20e', _reply_q: 'reply_edb4', _timeout: 2, _unique_id: 'e216' }).body;
    const call = decode(obs(monitored, { properties: { ...CALL_PROPS, expiration: '10000' } }));
    expect(call.kind).toBe('call');
    expect(call.callMonitorTimeout).toBe(2);
    expect(call.timeoutMs).toBe(10000);
    // a call-shaped message missing _reply_q is not a call: nobody waits for it
    expect(decode(obs(encodeBody({ method: 'm', args: {}, _msg_id: 'x' }).body)).kind).toBe('cast');
  });

  it('decodes replies: result, parsed failure, heartbeat, old-style partial reply', () => {
    const ok = decode(obs(encodeBody({ result: { got: [1, 'é', null] }, failure: null, ending: true, _msg_id: '38f0', _unique_id: '405d' }).body, { exchange: '', routingKey: 'reply_abc' }));
    expect(ok.kind).toBe('reply');
    expect(ok.msgId).toBe('38f0');
    expect(ok.replyQ).toBe('reply_abc');
    expect(ok.result).toEqual({ got: [1, 'é', null] });
    expect(ok.ending).toBe(true);
    expect(ok.topic).toBeNull();

    const failed = decode(obs(encodeBody(FAILURE_REPLY).body, { exchange: '', routingKey: 'reply_abc' }));
    expect(failed.kind).toBe('reply');
    expect(failed.failure).toEqual({
      class: 'NoSuchMethod',
      module: 'oslo_messaging.rpc.dispatcher',
      message: 'Endpoint does not support RPC method nosuch',
      tb: ['Traceback (most recent call last):\n', 'oslo_messaging.rpc.dispatcher.NoSuchMethod: Endpoint does not support RPC method nosuch\n'],
      args: ['Endpoint does not support RPC method nosuch'],
      kwargs: {},
    });

    const hb = decode(obs(encodeBody({ result: null, failure: null, ending: false, _msg_id: 'f20e', _unique_id: 'c6f8' }).body, { exchange: '', routingKey: 'reply_abc' }));
    expect(hb.kind).toBe('heartbeat');
    expect(hb.ending).toBe(false);

    const partial = decode(obs(encodeBody({ result: 5, failure: null, ending: false, _msg_id: 'f20e' }).body, { exchange: '', routingKey: 'reply_abc' }));
    expect(partial.kind).toBe('reply');
    expect(partial.ending).toBe(false);
  });

  it('keeps a failure that is not JSON as its message', () => {
    const m = decode(obs(encodeBody({ result: null, failure: 'not json {', ending: true, _msg_id: 'x' }).body, { exchange: '', routingKey: 'reply_q' }));
    expect(m.failure).toMatchObject({ class: 'Exception', module: 'builtins', message: 'not json {' });
  });

  it('decodes v1 (unenveloped) and v2 notifications with topic, priority, event type, publisher', () => {
    const v1 = decode(obs(NOTIFICATION_V1, { routingKey: 'notifications.error' }));
    expect(v1.kind).toBe('notification');
    expect(v1.enveloped).toBe(false);
    expect(v1.topic).toBe('notifications');
    expect(v1.priority).toBe('ERROR');
    expect(v1.eventType).toBe('compute.instance.create.error');
    expect(v1.publisherId).toBe('compute.host1');
    expect(v1.messageId).toBe('1639edec-825b-4dd3-894a-8850c544bf94');
    expect(v1.timestamp).toBe('2026-11-21 14:19:16.055407');
    expect(v1.payload).toEqual({ instance_id: 'abc' });
    expect(v1.context).toEqual({ user_id: 'u1', request_id: 'req-1' });
    const v2 = decode(obs(encodeBody(JSON.parse(NOTIFICATION_V1)).body, { routingKey: 'versioned_notifications.info' }));
    expect(v2.enveloped).toBe(true);
    expect(v2.topic).toBe('versioned_notifications');
  });

  it('keeps JSON that is not an oslo message visible as unknown', () => {
    const m = decode(obs('{"hello": "world", "password": "pw"}'));
    expect(m.kind).toBe('unknown');
    expect(m.error).toBeNull();
    expect(m.payload).toEqual({ hello: 'world', password: REDACTED });
  });

  it('turns Python NaN and ints beyond 2^53 into JSON-safe values', () => {
    const body = '{"oslo.version": "2.0", "oslo.message": "{\\"method\\": \\"m\\", \\"args\\": {\\"big\\": 18446744073709551616, \\"nan\\": NaN, \\"inf\\": -Infinity}}"}';
    const m = decode(obs(body));
    expect(m.args).toEqual({ big: '18446744073709551616', nan: 'NaN', inf: '-Infinity' });
    expect(() => JSON.stringify(m)).not.toThrow();
  });
});

describe('decodeObservation: compression and undecodable bodies', () => {
  const inner = { method: 'echo', args: { value: 'x'.repeat(500) }, _unique_id: 'u' };

  it('inflates kombu "gzip" bodies (zlib format)', () => {
    const enc = encodeBody(inner, { compression: 'gzip' });
    const m = decode(obs(enc.body, { properties: { ...PROPS, headers: enc.headers } }));
    expect(m.compression).toBe('application/x-gzip');
    expect(m.kind).toBe('cast');
    expect(m.args).toEqual(inner.args);
    expect(m.bytes).toBe(enc.body.length);
  });

  it('decompresses bz2 bodies, also through the core decoder (registered decompressor)', () => {
    const plain = encodeBody(inner).body;
    const bz = execFileSync('bzip2', ['-c'], { input: plain });
    expect(bunzip2(bz).equals(plain)).toBe(true);
    const m = decode(obs(bz, { properties: { ...PROPS, headers: { compression: 'application/x-bz2' } } }));
    expect(m.kind).toBe('cast');
    expect(m.args).toEqual(inner.args);
    expect(decodeBody(bz, { compression: 'application/x-bz2' }).message.method).toBe('echo');
  });

  it('refuses a compression bomb instead of inflating it', () => {
    const bomb = deflateSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    const m = decode(obs(bomb, { properties: { ...PROPS, headers: { compression: 'application/x-gzip' } } }));
    expect(m.kind).toBe('unknown');
    expect(m.error).toMatch(/decompress/i);
    // compressed bytes are never shown: a viewer could inflate them past every redaction
    expect(m.raw).toBeNull();
    expect(m.rawEncoding).toBeNull();
  });

  it('counts unsupported compressions, bad envelopes and garbage as undecodable, keeping the raw head', () => {
    const lzma = decode(obs('xxx', { properties: { ...PROPS, headers: { compression: 'application/x-lzma' } } }));
    expect(lzma.error).toMatch(/Unsupported compression application\/x-lzma/);
    const v3 = decode(obs('{"oslo.version": "3.0", "oslo.message": "{}"}'));
    expect(v3.kind).toBe('unknown');
    expect(v3.error).toMatch(/3\.0/);
    expect(v3.raw).toBe('{"oslo.version": "3.0", "oslo.message": "{}"}');
    expect(v3.rawEncoding).toBe('utf8');
    const binary = decode(obs(Buffer.from([0xff, 0xfe, 0x00, 0x01])));
    expect(binary.rawEncoding).toBe('base64');
    expect(binary.raw).toBe('//4AAQ==');
    const big = decode(obs(Buffer.from(`not json ${'y'.repeat(10_000)}`)));
    expect(big.raw?.length).toBe(RAW_KEEP_BYTES);
    expect(big.rawTruncated).toBe(true);
    expect(big.bytes).toBe(10_009);
  });

  it('redacts the raw head of undecodable bodies: context tokens and passwords in text, in bytes that are not UTF-8, cut mid-value, and in the error', () => {
    const text = decode(obs('{"_context_auth_token": "gAAAAAB-tok-1", "args": {"password": "pw-2"}, oops}'));
    expect(text.kind).toBe('unknown');
    expect(text.raw).toBe('{"_context_auth_token": "***", "args": {"password": "***"}, oops}');
    expect(text.error).not.toMatch(/tok-1|pw-2/);
    const bytes = Buffer.concat([Buffer.from('{"_context_auth_token": "tok-3", "new_pass": "pw-4"'), Buffer.from([0xff, 0xfe, 0x00])]);
    const bin = decode(obs(bytes));
    expect(bin.rawEncoding).toBe('base64');
    const shown = Buffer.from(bin.raw ?? '', 'base64').toString('latin1');
    expect(shown).toBe('{"_context_auth_token": "***", "new_pass": "***"\xff\xfe\x00');
    const cut = decode(obs(`{oops "args": {"x": "${'y'.repeat(RAW_KEEP_BYTES - 40)}", "admin_password": "pw-5-${'z'.repeat(100)}"}}`));
    expect(cut.rawTruncated).toBe(true);
    expect(cut.raw).not.toContain('pw-5');
  });

  it('redacts URL passwords even in raw undecodable text', () => {
    const m = decode(obs('garbage rabbit://nova:s3cret@ctl:5672/ {'));
    expect(m.raw).toBe('garbage rabbit://nova:***@ctl:5672/ {');
  });
});

describe('fromTraceDelivery (RabbitMQ 3.10 firehose headers)', () => {
  const body = Buffer.from(CALL_WIRE, 'latin1');
  const traceProps = { expiration: '60000', priority: 0, delivery_mode: 2, headers: {}, content_encoding: 'utf-8', content_type: 'application/json' };
  function delivery(routingKey: string, headers: Record<string, unknown>): Delivery {
    return { body, exchange: 'amq.rabbitmq.trace', routingKey, redelivered: false, deliveryTag: 1, consumerTag: 'c', properties: { headers } };
  }

  it('reads a publish trace: original exchange, routing key, properties, routed queues, connection', () => {
    const o = fromTraceDelivery(
      delivery('publish.openstack', {
        exchange_name: 'openstack',
        routing_keys: ['compute'],
        properties: traceProps,
        node: 'rabbit@localhost',
        vhost: '/',
        connection: '127.0.0.1:51916 -> 127.0.0.1:5672',
        channel: 1,
        user: 'guest',
        routed_queues: ['compute'],
      }),
    );
    expect(o).not.toBeNull();
    expect(o?.exchange).toBe('openstack');
    expect(o?.routingKey).toBe('compute');
    expect(o?.properties).toEqual({ contentType: 'application/json', contentEncoding: 'utf-8', headers: {}, deliveryMode: 2, priority: 0, expiration: '60000' });
    expect(o?.trace).toEqual({
      event: 'publish',
      routedQueues: ['compute'],
      connection: '127.0.0.1:51916 -> 127.0.0.1:5672',
      connectionName: null,
      channel: 1,
      queue: null,
      redelivered: null,
      node: 'rabbit@localhost',
      vhost: '/',
      user: 'guest',
    });
    const m = decode({ ...(o as NonNullable<typeof o>), id: '1', ts: 1 });
    expect(m.kind).toBe('call');
    expect(m.timeoutMs).toBe(60000);
    expect(m.trace?.routedQueues).toEqual(['compute']);
  });

  it('reads an unroutable publish (empty routed_queues) and a redelivered deliver trace', () => {
    const pub = fromTraceDelivery(delivery('publish.', { exchange_name: '', routing_keys: ['reply_x'], properties: traceProps, routed_queues: [] }));
    expect(pub?.exchange).toBe('');
    expect(pub?.trace?.routedQueues).toEqual([]);
    const del = fromTraceDelivery(
      delivery('deliver.compute', { exchange_name: 'openstack', routing_keys: ['compute'], properties: traceProps, redelivered: 1, connection: 'c2', channel: 1, user: 'guest' }),
    );
    expect(del?.trace?.event).toBe('deliver');
    expect(del?.trace?.queue).toBe('compute');
    expect(del?.trace?.redelivered).toBe(true);
    expect(del?.trace?.routedQueues).toBeNull();
    expect(fromTraceDelivery(delivery('other.x', {}))).toBeNull();
  });
});

describe('firehose: a deliver trace reuses the decoding of its publish trace', () => {
  const traceProps = { expiration: '60000', priority: 0, delivery_mode: 2, headers: {}, content_encoding: 'utf-8', content_type: 'application/json' };
  const trace = (routingKey: string, body: Buffer, headers: Record<string, unknown>): Observation => {
    const o = fromTraceDelivery({ body: Buffer.from(body), exchange: 'amq.rabbitmq.trace', routingKey, redelivered: false, deliveryTag: 1, consumerTag: 'c', properties: { headers: { properties: traceProps, ...headers } } });
    if (!o) throw new Error('not a trace');
    return { ...o, id: '7', ts: 7 };
  };
  const fresh = (o: Observation) => {
    clearTraceDecodings();
    return decodeObservation(o);
  };
  const afterPublish = (pub: Observation, o: Observation) => {
    clearTraceDecodings();
    decodeObservation(pub);
    return decodeObservation(o);
  };
  const bodies: [string, Buffer, string, string][] = [
    ['a call with a context and a secret', Buffer.from(CALL_WIRE, 'latin1'), 'openstack', 'compute'],
    ['a reply', encodeBody({ result: { a: [1, 2], password: 'x' }, failure: null, ending: true, _msg_id: 'm1', _unique_id: 'u1' }).body, '', 'reply_abc'],
    [
      'a failure',
      encodeBody({ result: null, failure: JSON.stringify({ class: 'E', module: 'm', message: 'token=abc', tb: [], args: [], kwargs: {} }), ending: true, _msg_id: 'm2' }).body,
      '',
      'reply_abc',
    ],
    ['a notification', encodeBody({ message_id: 'n1', publisher_id: 'p', event_type: 'e', priority: 'INFO', payload: { secret: 's' }, timestamp: 't', _context_auth_token: 'tok' }).body, 'nova', 'notifications.info'],
  ];
  for (const [what, body, exchange, rk] of bodies) {
    it(`${what}: the deliver trace decodes exactly as on its own`, () => {
      const head = { exchange_name: exchange, routing_keys: [rk] };
      const pub = trace(`publish.${exchange}`, body, { ...head, routed_queues: [rk], connection: 'c1', channel: 1 });
      const del = trace(`deliver.${rk}`, body, { ...head, redelivered: 0, connection: 'c2', channel: 2 });
      const reused = afterPublish(pub, del);
      const alone = fresh(del);
      expect(reused).toEqual(alone);
      expect(reused.trace?.event).toBe('deliver');
      expect(reused.trace?.connection).toBe('c2');
      expect(reused.kind).not.toBe('unknown');
      // and the publish trace keeps its own delivery facts
      const pubAgain = afterPublish(del, pub);
      expect(pubAgain).toEqual(fresh(pub));
    });
  }

  it('does not reuse across exchanges, routing keys or different bodies', () => {
    const body = Buffer.from(CALL_WIRE, 'latin1');
    const pub = trace('publish.openstack', body, { exchange_name: 'openstack', routing_keys: ['compute'], routed_queues: ['compute'] });
    const other = trace('deliver.compute.h1', body, { exchange_name: 'openstack', routing_keys: ['compute.h1'], redelivered: 0 });
    expect(afterPublish(pub, other)).toEqual(fresh(other));
    expect(afterPublish(pub, other).server).toBe('h1');
    const changed = Buffer.from(body);
    changed[changed.length - 5] ^= 1;
    const del = trace('deliver.compute', changed, { exchange_name: 'openstack', routing_keys: ['compute'], redelivered: 0 });
    expect(afterPublish(pub, del)).toEqual(fresh(del));
  });

  it('a cast on the default exchange delivered from a `<topic>_fanout` stream is a fanout, its publish trace a cast', () => {
    const body = encodeBody({ method: 'ping', args: {}, _unique_id: 'u9' }).body;
    const pub = trace('publish.', body, { exchange_name: '', routing_keys: ['sched'], routed_queues: ['sched'] });
    const del = trace('deliver.sched_fanout', body, { exchange_name: '', routing_keys: ['sched'], redelivered: 0 });
    expect(fresh(pub).kind).toBe('cast');
    const reused = afterPublish(pub, del);
    expect(reused).toEqual(fresh(del));
    expect(reused.kind).toBe('fanout');
    expect(reused.topic).toBe('sched');
  });
});

describe('broker-added headers (RabbitMQ 3.13–4.3): tolerated, surfaced, never classifying', () => {
  const CAST_WIRE = encodeBody({ method: 'refresh', args: { n: 1 }, _unique_id: 'd41d8cd98f00b204e9800998ecf8427e', _context_auth_token: 'secret' }).body;
  const amqpTimestamp = (s: number) => ({ '!': 'timestamp', value: s });

  it('moves x-stream-offset, x-delivery-count, x-acquired-count, timestamp_in_ms (+ the timestamp property), x-routed-by and x-death into broker metadata', () => {
    const headers = {
      'x-stream-offset': 42,
      'x-delivery-count': 2,
      'x-acquired-count': 3,
      timestamp_in_ms: 1_764_487_200_123,
      'x-routed-by': 'rabbit@node2',
      'x-death': [{ count: 1, reason: 'expired', queue: 'compute', time: amqpTimestamp(1_764_487_100), exchange: 'nova', 'routing-keys': ['compute'] }],
      'x-custom': 'kept',
    };
    const plain = decode(obs(CAST_WIRE, { exchange: 'nova', routingKey: 'compute' }));
    const m = decode(obs(CAST_WIRE, { exchange: 'nova', routingKey: 'compute', properties: { ...PROPS, headers, timestamp: 1_764_487_200 } }));
    expect(m.broker).toEqual({
      streamOffset: 42,
      deliveryCount: 2,
      acquiredCount: 3,
      timestampMs: 1_764_487_200_123,
      timestamp: 1_764_487_200,
      routedBy: 'rabbit@node2',
      death: [{ queue: 'compute', reason: 'expired', count: 1, exchange: 'nova', routingKeys: ['compute'], time: 1_764_487_100_000 }],
    });
    // what the publisher sent is left as it was, so captures still compare with Python's
    expect(m.properties.headers).toEqual({ 'x-custom': 'kept' });
    expect(m.properties.timestamp).toBeUndefined();
    // and nothing about the message itself changed
    const { id: _a, broker: _b, properties: _c, ...rest } = m;
    const { id: _d, broker: _e, properties: _f, ...restPlain } = plain;
    expect(rest).toEqual(restPlain);
    expect(plain.broker).toBeNull();
    expect(m.context.auth_token).toBe(REDACTED);
  });

  it('keeps a timestamp property the publisher set itself (no interceptor header)', () => {
    const m = decode(obs(CAST_WIRE, { properties: { ...PROPS, timestamp: 5, headers: { 'x-delivery-count': 1 } } }));
    expect(m.properties.timestamp).toBe(5);
    expect(m.broker).toMatchObject({ deliveryCount: 1, timestamp: null, timestampMs: null });
  });

  it('tolerates odd values: big ints as bigint or text, junk x-death, a Buffer routing node', () => {
    const m = decode(
      obs(CAST_WIRE, { properties: { ...PROPS, headers: { 'x-stream-offset': 9007199254740993n, 'x-delivery-count': '7', 'x-death': 'nope', 'x-routed-by': Buffer.from('rabbit@n3') } } }),
    );
    expect(m.kind).toBe('cast');
    expect(m.broker).toMatchObject({ streamOffset: 9007199254740992, deliveryCount: 7, death: null, routedBy: 'rabbit@n3' });
    const n = decode(obs(CAST_WIRE, { properties: { ...PROPS, headers: { 'x-death': [null, 1, { count: 'x', 'routing-keys': 'no' }] } } }));
    expect(n.broker?.death).toEqual([{ queue: null, reason: null, count: null, exchange: null, routingKeys: [], time: null }]);
  });

  it('a fanout read from a <topic>_fanout stream (exchange "", routing key = stream name) is a fanout of that topic', () => {
    const m = decode(obs(CAST_WIRE, { exchange: '', routingKey: 'compute_fanout', properties: { ...PROPS, headers: { 'x-stream-offset': 7 } } }));
    expect(m).toMatchObject({ kind: 'fanout', topic: 'compute', server: null, broker: { streamOffset: 7 } });
    // the same through a firehose deliver trace of the stream
    const t = decode(
      obs(CAST_WIRE, {
        exchange: '',
        routingKey: 'compute_fanout',
        trace: { event: 'deliver', routedQueues: null, connection: null, connectionName: null, channel: 1, queue: 'compute_fanout', redelivered: false, node: null, vhost: '/', user: null },
      }),
    );
    expect(t).toMatchObject({ kind: 'fanout', topic: 'compute' });
    // a call stays a call wherever it came from
    const call = decode(obs(CALL_WIRE, { exchange: '', routingKey: 'compute_fanout', properties: { ...CALL_PROPS, headers: { 'x-stream-offset': 1 } } }));
    expect(call.kind).toBe('call');
  });

  it('quorum redeliveries do not change the kind of a reply or a notification', () => {
    const reply = decode(obs(encodeBody(FAILURE_REPLY).body, { exchange: '', routingKey: 'reply_ctl1:nova-api:1', properties: { ...PROPS, headers: { 'x-delivery-count': 4, 'x-acquired-count': 5 } } }));
    expect(reply).toMatchObject({ kind: 'reply', replyQ: 'reply_ctl1:nova-api:1', broker: { deliveryCount: 4, acquiredCount: 5 } });
    const n = decode(obs(NOTIFICATION_V1, { exchange: 'nova', routingKey: 'notifications.error', properties: { ...PROPS, headers: { 'x-delivery-count': 19 } } }));
    expect(n).toMatchObject({ kind: 'notification', topic: 'notifications', broker: { deliveryCount: 19 } });
  });
});
