import { registerDecompressor } from './compression.ts';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  decodeBody,
  decompress,
  deserializeFailure,
  encodeBody,
  envelopeText,
  failureInfo,
  packContext,
  serializeFailure,
  unpackContext,
  type Dict,
} from './envelope.ts';
import { ExpectedFailure, MalformedMessage, NoSuchMethod, RemoteError, UnsupportedRpcEnvelopeVersion, UnsupportedVersion } from './errors.ts';
import { pyLoads } from './json.ts';

/** docs/wire.md#envelope-and-requests: the exact wire body of the example call, as Python 14.0.3 publishes it. */
const CALL_BODY = String.raw`{"oslo.version": "2.0", "oslo.message": "{\"method\": \"get_instance\", \"args\": {\"instance_uuid\": \"6f0b...\", \"detail\": true}, \"namespace\": \"compute\", \"version\": \"5.1\", \"_msg_id\": \"a1b2c3d4e5f60718293a4b5c6d7e8f90\", \"_reply_q\": \"reply_0f1e2d3c4b5a69788796a5b4c3d2e1f0\", \"_timeout\": null, \"_unique_id\": \"d41d8cd98f00b204e9800998ecf8427e\", \"_context_user_id\": \"u1\", \"_context_project_id\": \"p1\", \"_context_request_id\": \"req-1b7a\", \"_context_is_admin\": false, \"_context_roles\": [\"member\"]}"}`;

/** The same body through Python's zlib.compress (kombu's "gzip" compressor). */
const CALL_BODY_ZLIB_HEX =
  '789c5d91db6ec32010447f25e2b9b5c0f105f22b7585302c2e95310e97aa55947f2fc44eaae67167ce0c0b5c900bb3abbec007e316743aa0bac2e8e5b0c91642101314f932200bf1c3a9214f039a2072b38428160943e60724fc148a97c1bbc153323bdf693c5655b5a10aa2307331a24f702dd222f259ab28650597ceae29eecdfb729bd3566453b90d13bfd70b32d6f2a81a6875877b426b7614cdd8ca4ef54035c37bc4c33afff0f396d906ac09d4ea28332d3ad653dab34eb46393db6a20fa9e8cc6824bb1249734cf372d2de69ce0b1836a88a25231aa311e6bdc00a3183346416adad4fd7e192edd12e13bf214c03fb2893cb9ab779f20e303589f010ff9ecf007e4f9958cbd78c24ce04259737b3c2de600ff4bdc0cb74f7b2bbf6b47f0037abfa2eb2f9deda983';

/** The call dict built the way _make_message + AMQPDriverBase._send + pack_context build it. */
function exampleCall(): Dict {
  const msg: Dict = { method: 'get_instance', args: { instance_uuid: '6f0b...', detail: true }, namespace: 'compute', version: '5.1' };
  msg._msg_id = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
  msg._reply_q = 'reply_0f1e2d3c4b5a69788796a5b4c3d2e1f0';
  msg._timeout = null;
  msg._unique_id = 'd41d8cd98f00b204e9800998ecf8427e';
  packContext(msg, { user_id: 'u1', project_id: 'p1', request_id: 'req-1b7a', is_admin: false, roles: ['member'] });
  return msg;
}

/** The captured NoSuchMethod failure string of docs/wire.md#replies-and-failures (decoded once from the reply). */
const CAPTURED_FAILURE = String.raw`{"class": "NoSuchMethod", "module": "oslo_messaging.rpc.dispatcher", "message": "Endpoint does not support RPC method nosuch", "tb": ["Traceback (most recent call last):\n", "  File \".../oslo_messaging/rpc/server.py\", line 165, in _process_incoming\n    res = self.dispatcher.dispatch(message)\n          ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n", "  File \".../oslo_messaging/rpc/dispatcher.py\", line 318, in dispatch\n    raise NoSuchMethod(method)\n", "oslo_messaging.rpc.dispatcher.NoSuchMethod: Endpoint does not support RPC method nosuch\n"], "args": ["Endpoint does not support RPC method nosuch"], "kwargs": {}}`;

function envelope(version: unknown, inner = '{}'): Buffer {
  return Buffer.from(JSON.stringify({ 'oslo.version': version, 'oslo.message': inner }));
}

describe('encodeBody / envelopeText', () => {
  it('produces the exact bytes of the §4 call example given the same ids and context', () => {
    expect(envelopeText(exampleCall())).toBe(CALL_BODY);
    const { body, headers } = encodeBody(exampleCall());
    expect(body.equals(Buffer.from(CALL_BODY, 'ascii'))).toBe(true);
    expect(headers).toEqual({});
  });

  it('keeps bodies pure ASCII: non-ASCII is \\u-escaped in the inner layer and its backslash escaped again outside', () => {
    const { body } = encodeBody({ method: 'echo', args: { name: 'é😀' } });
    expect(body.toString('latin1')).toBe(
      String.raw`{"oslo.version": "2.0", "oslo.message": "{\"method\": \"echo\", \"args\": {\"name\": \"\\u00e9\\ud83d\\ude00\"}}"}`,
    );
    expect(body.every((b) => b < 0x80)).toBe(true);
  });

  it('writes v1 (messaging driver) bodies without an envelope', () => {
    const { body, headers } = encodeBody({ message_id: 'x', priority: 'INFO', payload: { a: 1.5 } }, { enveloped: false });
    expect(body.toString()).toBe('{"message_id": "x", "priority": "INFO", "payload": {"a": 1.5}}');
    expect(headers).toEqual({});
  });

  it('compresses "gzip" as zlib.compress does (zlib stream, not a gzip file) and says so in the header', () => {
    const { body, headers } = encodeBody(exampleCall(), { compression: 'gzip' });
    expect(headers).toEqual({ compression: 'application/x-gzip' });
    expect(body[0]).toBe(0x78); // zlib CMF byte; a gzip file would start 1f 8b
    expect(inflateSync(body).toString()).toBe(CALL_BODY);
  });
});

describe('decodeBody', () => {
  it('decodes the §4 call body into the inner message, keys in wire order', () => {
    const decoded = decodeBody(Buffer.from(CALL_BODY));
    expect(decoded.enveloped).toBe(true);
    expect(decoded.envelopeVersion).toBe('2.0');
    expect(decoded.message).toEqual(exampleCall());
    expect(Object.keys(decoded.message)).toEqual(Object.keys(exampleCall()));
  });

  it('inflates a body Python compressed, when the compression header says so', () => {
    const body = Buffer.from(CALL_BODY_ZLIB_HEX, 'hex');
    expect(decodeBody(body, { compression: 'application/x-gzip' }).message).toEqual(exampleCall());
    // without the header it is not JSON
    expect(() => decodeBody(body, {})).toThrow(MalformedMessage);
  });

  it('treats a dict without both envelope keys as a v1 message, as-is', () => {
    const v1 = { message_id: 'm', publisher_id: 'compute.host1', event_type: 'e', priority: 'ERROR', payload: {} };
    expect(decodeBody(Buffer.from(JSON.stringify(v1)))).toEqual({ message: v1, enveloped: false });
    const half = { 'oslo.version': '9.9', method: 'x' };
    expect(decodeBody(Buffer.from(JSON.stringify(half)))).toEqual({ message: half, enveloped: false });
    const otherHalf = { 'oslo.message': 'not json' };
    expect(decodeBody(Buffer.from(JSON.stringify(otherHalf)))).toEqual({ message: otherHalf, enveloped: false });
  });

  it.each(['2.0', '2.0.0', '2.00', '02.0', ' 2.0', '2.0.0.9'])('accepts envelope version %j (compatible with 2.0)', (v) => {
    expect(decodeBody(envelope(v, '{"a": 1}'))).toEqual({ message: { a: 1 }, enveloped: true, envelopeVersion: v });
  });

  it.each([['2.1'], ['2.0.1'], ['1.0'], ['3.0'], ['2'], ['2.x'], [''], [2], [null]])('rejects envelope version %j', (v) => {
    let thrown: unknown;
    try {
      decodeBody(envelope(v));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(UnsupportedRpcEnvelopeVersion);
    expect(thrown).toBeInstanceOf(MalformedMessage);
  });

  it('words the unsupported version like oslo', () => {
    expect(() => decodeBody(envelope('2.1'))).toThrow('Specified RPC envelope version, 2.1, not supported by this endpoint.');
  });

  it.each([
    ['not JSON', Buffer.from('{"a": '), /Body is not JSON/],
    ['a JSON list', Buffer.from('[1, 2]'), /Body is JSON array, not an object/],
    ['JSON null', Buffer.from('null'), /Body is JSON null, not an object/],
    ['a non-string oslo.message', Buffer.from('{"oslo.version": "2.0", "oslo.message": {"a": 1}}'), /oslo.message is not a string/],
    ['an oslo.message that is not JSON', envelope('2.0', '{oops'), /oslo.message is not JSON/],
    ['an oslo.message that is not an object', envelope('2.0', '"text"'), /oslo.message is JSON string, not an object/],
  ])('throws MalformedMessage for %s', (_what, body, text) => {
    expect(() => decodeBody(body)).toThrow(MalformedMessage);
    expect(() => decodeBody(body)).toThrow(text);
  });

  // An envelope in Python's exact layout is read by parsing only its inner string literal; every body
  // that merely looks like one must decode (or fail) exactly as the general path does.
  it.each([
    ['escapes and non-ASCII in the inner message', String.raw`{"oslo.version": "2.0", "oslo.message": "{"a": "x\\y\n\u00e9\ud83d\ude00", "b": "\"q\""}"}`],
    ['a lone surrogate', String.raw`{"oslo.version": "2.0", "oslo.message": "{"a": "\ud800"}"}`],
    ['a big int', String.raw`{"oslo.version": "2.0", "oslo.message": "{"n": 123456789012345678901234567890}"}`],
    ['a key after the message', String.raw`{"oslo.version": "2.0", "oslo.message": "{"a": 1}", "x": "y"}`],
    ['the message key twice', String.raw`{"oslo.version": "2.0", "oslo.message": "{"a": 1}", "oslo.message": "{"b": 2}"}`],
    ['an unterminated literal', String.raw`{"oslo.version": "2.0", "oslo.message": "{"a": 1}"}`],
    ['an empty literal', `{"oslo.version": "2.0", "oslo.message": ""}`],
    ['a literal that is not an object', String.raw`{"oslo.version": "2.0", "oslo.message": "[1]"}`],
    ['a control character in the literal', `{"oslo.version": "2.0", "oslo.message": "{\"a\": \"\u0001\"}"}`],
    ['a UTF-8 BOM', `\ufeff{"oslo.version": "2.0", "oslo.message": "{\"a\": 1}"}`],
  ])('reads a Python-layout envelope like the general path: %s', (_what, text) => {
    const raw = Buffer.from(text, 'utf8');
    const general = (): unknown => {
      const outer = pyLoads(raw) as Dict;
      if (!('oslo.message' in outer)) return { message: outer, enveloped: false };
      const inner = pyLoads(outer['oslo.message'] as string);
      if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) throw new MalformedMessage('not an object');
      return { message: inner, enveloped: true, envelopeVersion: outer['oslo.version'] };
    };
    let expected: unknown;
    try {
      expected = general();
    } catch {
      expect(() => decodeBody(raw)).toThrow(MalformedMessage);
      return;
    }
    expect(decodeBody(raw)).toEqual(expected);
  });

  it('tolerates Python-only JSON (NaN, big ints) in the inner message', () => {
    const body = Buffer.from(String.raw`{"oslo.version": "2.0", "oslo.message": "{\"x\": NaN, \"n\": 123456789012345678901234567890}"}`);
    const m = decodeBody(body).message;
    expect(m.x).toBeNaN();
    expect(m.n).toBe(123456789012345678901234567890n);
  });
});

describe('decompress', () => {
  it('passes bodies through without a compression header', () => {
    const b = Buffer.from('x');
    expect(decompress(b, undefined)).toBe(b);
    expect(decompress(b, { compression: null })).toBe(b);
  });

  it('refuses unknown compressions and corrupt data with MalformedMessage', () => {
    expect(() => decompress(Buffer.from('x'), { compression: 'application/x-lz4' })).toThrow(
      new MalformedMessage('Unsupported compression application/x-lz4'),
    );
    expect(() => decompress(Buffer.from('not zlib'), { compression: 'application/x-gzip' })).toThrow(/Cannot decompress application\/x-gzip body/);
  });

  it('uses a registered decompressor for other kombu compressions', () => {
    registerDecompressor('application/x-test-reverse', (b) => Buffer.from([...b].reverse()));
    expect(decodeBody(Buffer.from('}1 :"a"{'), { compression: 'application/x-test-reverse' }).message).toEqual({ a: 1 });
  });
});

describe('packContext', () => {
  it('appends _context_<key> in the context’s own order, after what is there', () => {
    const msg: Dict = { method: 'm', _unique_id: 'u' };
    packContext(msg, { request_id: 'r', user_id: 'u1', skipped: undefined, is_admin: null });
    expect(Object.keys(msg)).toEqual(['method', '_unique_id', '_context_request_id', '_context_user_id', '_context_is_admin']);
    expect(msg._context_is_admin).toBeNull();
  });

  it('adds nothing for a null context', () => {
    const msg: Dict = { method: 'm' };
    packContext(msg, null);
    packContext(msg, undefined);
    expect(msg).toEqual({ method: 'm' });
  });
});

describe('unpackContext', () => {
  it('pops context and call keys; the context gains client_timeout (amqp.py unpack_context)', () => {
    const u = unpackContext(exampleCall());
    expect(u.ctxt).toEqual({ user_id: 'u1', project_id: 'p1', request_id: 'req-1b7a', is_admin: false, roles: ['member'], client_timeout: null });
    expect(Object.keys(u.ctxt).at(-1)).toBe('client_timeout');
    expect(u.msgId).toBe('a1b2c3d4e5f60718293a4b5c6d7e8f90');
    expect(u.replyQ).toBe('reply_0f1e2d3c4b5a69788796a5b4c3d2e1f0');
    expect(u.clientTimeout).toBeNull();
    expect(u.message).toEqual({
      method: 'get_instance',
      args: { instance_uuid: '6f0b...', detail: true },
      namespace: 'compute',
      version: '5.1',
      _unique_id: 'd41d8cd98f00b204e9800998ecf8427e',
    });
  });

  it('puts a call-monitor _timeout into client_timeout, and None for casts', () => {
    expect(unpackContext({ method: 'slow', _msg_id: 'm', _reply_q: 'r', _timeout: 2, _context_user_id: 'u1' }).ctxt).toEqual({
      user_id: 'u1',
      client_timeout: 2,
    });
    const cast = unpackContext({ method: 'echo', _context_user_id: 'u1' });
    expect(cast).toMatchObject({ ctxt: { user_id: 'u1', client_timeout: null }, msgId: null, replyQ: null, clientTimeout: null });
  });

  it('lets _timeout win over a _context_client_timeout, as the later dict assignment does in Python', () => {
    const u = unpackContext({ _context_client_timeout: 99, _context_a: 1, _timeout: 4 });
    expect(u.ctxt).toEqual({ client_timeout: 4, a: 1 });
    expect(Object.keys(u.ctxt)).toEqual(['client_timeout', 'a']);
  });
});

describe('serializeFailure / failureInfo', () => {
  it('serializes a dispatcher failure with oslo’s key order and traceback shape', () => {
    const text = serializeFailure(new NoSuchMethod('nosuch'), 'nosuch');
    expect(text).toBe(
      String.raw`{"class": "NoSuchMethod", "module": "oslo_messaging.rpc.dispatcher", "message": "Endpoint does not support RPC method nosuch", "tb": ["Traceback (most recent call last):\n", "  File \"osloscope\", line 1, in nosuch\n", "oslo_messaging.rpc.dispatcher.NoSuchMethod: Endpoint does not support RPC method nosuch\n"], "args": ["Endpoint does not support RPC method nosuch"], "kwargs": {}}`,
    );
  });

  it('keeps an ExpectedFailure’s Python class, module, args and kwargs', () => {
    const f = failureInfo(new ExpectedFailure('InstanceNotFound', 'nova.exception', 'Instance vm1 could not be found.', { kwargs: { code: 404 } }));
    expect(f).toMatchObject({
      class: 'InstanceNotFound',
      module: 'nova.exception',
      message: 'Instance vm1 could not be found.',
      args: ['Instance vm1 could not be found.'],
      kwargs: { code: 404 },
    });
    expect(f.tb.at(-1)).toBe('nova.exception.InstanceNotFound: Instance vm1 could not be found.\n');
  });

  it('reports JS errors as Python built-ins where the name matches, else as osloscope exceptions', () => {
    expect(failureInfo(new Error('boom'))).toMatchObject({ class: 'Exception', module: 'builtins', args: ['boom'] });
    expect(failureInfo(new TypeError('bad type'))).toMatchObject({ class: 'TypeError', module: 'builtins' });
    expect(failureInfo(new TypeError('bad type')).tb.at(-1)).toBe('TypeError: bad type\n');
    expect(failureInfo(new UnsupportedVersion('9.0'))).toMatchObject({ class: 'UnsupportedVersion', module: 'oslo_messaging.rpc.dispatcher' });
    class QuotaExceeded extends Error {
      override name = 'QuotaExceeded';
    }
    expect(failureInfo(new QuotaExceeded('over'))).toMatchObject({ class: 'QuotaExceeded', module: 'osloscope' });
    expect(failureInfo('a string')).toMatchObject({ class: 'Exception', module: 'builtins', message: 'a string', args: ['a string'] });
    // an empty message leaves the traceback's last line bare, like format_exception
    expect(failureInfo(new Error('')).tb.at(-1)).toBe('Exception\n');
  });

  it('forwards a re-raised remote failure under its origin class, stripping _Remote only when both names carry it', () => {
    const remote = new RemoteError('InstanceNotFound_Remote', 'nova.exception_Remote', 'gone', ['tb\n'], ['gone'], { code: 404 });
    expect(failureInfo(remote)).toMatchObject({ class: 'InstanceNotFound', module: 'nova.exception', message: 'gone', args: ['gone'], kwargs: { code: 404 } });
    const half = new RemoteError('InstanceNotFound_Remote', 'nova.exception', 'gone', []);
    expect(failureInfo(half)).toMatchObject({ class: 'InstanceNotFound_Remote', module: 'nova.exception' });
  });
});

describe('deserializeFailure', () => {
  it('rebuilds the captured Python failure as a RemoteError', () => {
    const err = deserializeFailure(CAPTURED_FAILURE);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({
      excType: 'NoSuchMethod',
      module: 'oslo_messaging.rpc.dispatcher',
      value: 'Endpoint does not support RPC method nosuch',
      args: ['Endpoint does not support RPC method nosuch'],
      kwargs: {},
    });
    expect(err.traceback).toHaveLength(4);
    expect(err.traceback[3]).toBe('oslo_messaging.rpc.dispatcher.NoSuchMethod: Endpoint does not support RPC method nosuch\n');
    expect(err.message.startsWith('Remote error: NoSuchMethod Endpoint does not support RPC method nosuch\nTraceback (most recent call last):\n')).toBe(true);
  });

  it('keeps args and kwargs of a Python exception that carries them', () => {
    const text = String.raw`{"class": "ValueError", "module": "builtins", "message": "('bad value', 42)", "tb": ["Traceback (most recent call last):\n", "ValueError: ('bad value', 42)\n"], "args": ["bad value", 42], "kwargs": {"code": 404}}`;
    expect(deserializeFailure(text)).toMatchObject({ excType: 'ValueError', module: 'builtins', value: "('bad value', 42)", args: ['bad value', 42], kwargs: { code: 404 } });
  });

  it('round-trips what serializeFailure writes', () => {
    const sent = new ExpectedFailure('MyExc', 'myproj.exception', 'nope', { args: ['nope', 1], kwargs: { k: [1] } });
    expect(deserializeFailure(serializeFailure(sent))).toMatchObject({
      excType: 'MyExc',
      module: 'myproj.exception',
      value: 'nope',
      args: ['nope', 1],
      kwargs: { k: [1] },
    });
  });

  it('never throws on junk: text that is not JSON, or JSON that is not an object', () => {
    expect(deserializeFailure('not json')).toMatchObject({ excType: 'Exception', module: 'builtins', value: 'not json', traceback: [] });
    expect(deserializeFailure('[1]')).toMatchObject({ excType: 'Exception', value: '[1]' });
    expect(deserializeFailure(pyLoads('{"tb": "x", "args": 1, "kwargs": []}'))).toMatchObject({
      excType: 'Exception',
      module: 'builtins',
      value: '',
      traceback: [],
      args: [],
      kwargs: {},
    });
  });
});
