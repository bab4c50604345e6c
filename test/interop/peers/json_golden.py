"""Golden peer for the JSON codec: what Python's json really writes and reads.

Run with Debian's /usr/bin/python3 (python3-oslo.messaging 14.0.3, kombu 5.2.4).

stdin: one JSON document (plain JSON, as JavaScript's JSON.stringify writes it)
    {"dumps": [{"codec": C, "value": T}, ...]}
where T is a *tagged* value, so that nothing is lost on the way in:
    ["str", s]            ["int", "<decimal digits>"]   ["float", "<16 hex digits: IEEE-754 bits>"]
    ["bool", b]           ["null"]                     ["list", [T, ...]]
    ["dict", [[T_key, T_value], ...]]  (keys in order; a key may be str, int, float, bool or null)
    ["datetime", [y, mo, d, h, mi, s, us]]   ["bytes", "<base64>"]   ["set", [T, ...]]
and C says which Python code writes it:
    "json"      json.dumps(value)                                   (kombu's outer layer)
    "jsonutils" oslo_serialization.jsonutils.dumps(value)           (oslo's inner layer, to_primitive)
    "envelope"  kombu.serialization.dumps(
                    oslo_messaging._drivers.common.serialize_msg(value), serializer='json')
                -- exactly how impl_rabbit publishes an RPC message body.

stdout: one JSON document
    {"dumps": ["<base64 of the UTF-8 bytes>", ...],
     "emit": [{"name": n, "text": "<base64 of Python's JSON>", "value": T}, ...]}
"emit" is the reverse direction: JSON texts Python writes with tricky content
(NaN, infinities, big ints, escapes, key order, the real envelope), each with
the value Python's own json.loads reads back from it, for the reader.
"""

import base64
import datetime
import json
import struct
import sys

from kombu import serialization as kombu_serialization
from oslo_serialization import jsonutils

from oslo_messaging._drivers import common as rpc_common


def untag(t):
    kind = t[0]
    if kind == 'str':
        return t[1]
    if kind == 'int':
        return int(t[1])
    if kind == 'float':
        return struct.unpack('>d', bytes.fromhex(t[1]))[0]
    if kind == 'bool':
        return bool(t[1])
    if kind == 'null':
        return None
    if kind == 'list':
        return [untag(x) for x in t[1]]
    if kind == 'dict':
        return {untag(k): untag(v) for k, v in t[1]}
    if kind == 'datetime':
        return datetime.datetime(*t[1])
    if kind == 'bytes':
        return base64.b64decode(t[1])
    if kind == 'set':
        return {untag(x) for x in t[1]}
    raise ValueError('unknown tag %r' % (kind,))


def tag(v):
    # bool before int: bool is a subclass of int in Python.
    if v is None:
        return ['null']
    if isinstance(v, bool):
        return ['bool', v]
    if isinstance(v, int):
        return ['int', str(v)]
    if isinstance(v, float):
        return ['float', struct.pack('>d', v).hex()]
    if isinstance(v, str):
        return ['str', v]
    if isinstance(v, (list, tuple)):
        return ['list', [tag(x) for x in v]]
    if isinstance(v, dict):
        return ['dict', [[tag(k), tag(x)] for k, x in v.items()]]
    raise TypeError('cannot tag %r' % (v,))


def dump(codec, value):
    if codec == 'json':
        text = json.dumps(value)
    elif codec == 'jsonutils':
        text = jsonutils.dumps(value)
    elif codec == 'envelope':
        _ctype, _cenc, text = kombu_serialization.dumps(
            rpc_common.serialize_msg(value), serializer='json')
    else:
        raise ValueError('unknown codec %r' % (codec,))
    return base64.b64encode(text.encode('utf-8')).decode('ascii')


def emitted():
    nova_call = {
        'method': 'build_and_run_instance',
        'args': {
            'instance_uuid': '6f0b2a4e-8c1d-4e6f-9a3b-1c2d3e4f5a6b',
            'node': 'compute-01',
            'limits': {'memory_mb': 8192.0, 'vcpu': None, 'disk_gb': 1.5},
            'display_name': 'vm-\u00e9\u4e2d\U0001F600',
        },
        'namespace': 'compute',
        'version': '6.0',
        '_msg_id': 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
        '_reply_q': 'reply_0f1e2d3c4b5a69788796a5b4c3d2e1f0',
        '_timeout': None,
        '_unique_id': 'd41d8cd98f00b204e9800998ecf8427e',
        '_context_request_id': 'req-1b7a',
        '_context_roles': ['member', 'reader'],
        '_context_is_admin': False,
    }
    cases = [
        ('non-finite floats', [float('nan'), float('inf'), -float('inf'), {'x': float('nan')}]),
        ('big ints', [2 ** 53 - 1, 2 ** 53, -(2 ** 53), 2 ** 64, -(2 ** 70), 10 ** 40, 0]),
        ('floats', [1.0, -0.0, 0.0, 1e16, 1e-5, 0.1, 5e-324, 1.7976931348623157e308,
                    123456789.123, 2.0 ** 53, 1e22, 0.30000000000000004]),
        ('unicode escapes', ['\u00e9', '\u4e2d\u6587', '\U0001F600', '\u2028\u2029', '\x7f',
                             '\x00\x01\x1f', '"\\/\b\f\n\r\t', '\ud800', '\udfff x', '\ufeff']),
        ('key order', {'b': 1, '2': 'two', 'a': [], '1': {}, '__proto__': {'polluted': True}}),
        ('nested', {'a': [[[]], {}, [{'b': [None, True, False]}]], '': ''}),
        ('non-str keys', {1: 'one', 2.5: 'float', None: 'none', False: 'no', 2 ** 64: 'big'}),
        ('nova call (inner)', nova_call),
    ]
    texts = [(name, json.dumps(v)) for name, v in cases]
    # The real wire body: what impl_rabbit publishes for nova_call.
    _ctype, _cenc, body = kombu_serialization.dumps(rpc_common.serialize_msg(nova_call), serializer='json')
    texts.append(('nova call (envelope)', body))
    # The expected value is what Python's own json.loads reads back from the text.
    return [{'name': name, 'text': base64.b64encode(text.encode('utf-8')).decode('ascii'),
             'value': tag(json.loads(text))}
            for name, text in texts]


def main():
    request = json.loads(sys.stdin.buffer.read().decode('utf-8'))
    report = {
        'dumps': [dump(item['codec'], untag(item['value'])) for item in request.get('dumps', [])],
        'emit': emitted(),
    }
    sys.stdout.write(json.dumps(report))


if __name__ == '__main__':
    main()
