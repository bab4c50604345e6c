import { describe, expect, it } from 'vitest';
import { MalformedMessage, SerializationError } from './errors.ts';
import { PyFloat, pyDumps, pyDumpsLiteral, pyLoads } from './json.ts';

// Expected strings below were printed by Python 3.11 `json.dumps` (or
// oslo_serialization.jsonutils.dumps) from /usr/bin/python3 and pasted verbatim;
// test/interop/json-golden.test.ts checks the same rules against a live Python.

/** A float as Python sees it: integral values need PyFloat, others are floats already. */
const pyFloat = (x: number): number | PyFloat => (Number.isInteger(x) || x === 0 ? new PyFloat(x) : x);

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    if (err instanceof Error) return err;
    throw new Error(`threw a non-Error: ${String(err)}`);
  }
  throw new Error('did not throw');
}

describe('pyDumps strings', () => {
  it('escapes like ensure_ascii=True with lowercase hex and surrogate pairs', () => {
    expect(pyDumps('é中文😀\u2028\u007f\u0000\u001f"\\/\n\r\t\b\f\u00ff\ud800')).toBe(
      '"\\u00e9\\u4e2d\\u6587\\ud83d\\ude00\\u2028\\u007f\\u0000\\u001f\\"\\\\/\\n\\r\\t\\b\\f\\u00ff\\ud800"',
    );
  });

  it('uses short forms only for \\b \\t \\n \\f \\r and \\u00XX for every other control character and DEL', () => {
    let controls = '';
    for (let c = 0; c < 0x20; c++) controls += String.fromCharCode(c);
    expect(pyDumps(controls + '\x7f')).toBe(
      '"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f\\u0010\\u0011' +
        '\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\u007f"',
    );
  });

  it('writes printable ASCII verbatim except " and \\ (the slash stays unescaped)', () => {
    let printable = '';
    for (let c = 0x20; c < 0x7f; c++) printable += String.fromCharCode(c);
    expect(pyDumps(printable)).toBe(
      '" !\\"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"',
    );
    expect(pyDumps('a/b')).toBe('"a/b"');
    expect(pyDumps('')).toBe('""');
  });

  it('escapes long ASCII strings the same way', () => {
    const long = 'x'.repeat(60) + '"\\/\n\r\t\b\f\x00\x1f\x7e';
    expect(pyDumps(long)).toBe(`"${'x'.repeat(60)}\\"\\\\/\\n\\r\\t\\b\\f\\u0000\\u001f~"`);
    expect(pyDumps(long + '\x7f')).toBe(`"${'x'.repeat(60)}\\"\\\\/\\n\\r\\t\\b\\f\\u0000\\u001f~\\u007f"`);
  });

  it('pads hex to four digits at each width', () => {
    expect(pyDumps('\u0080\u00ff\u0100\u0fff\u1000\uffff')).toBe('"\\u0080\\u00ff\\u0100\\u0fff\\u1000\\uffff"');
  });

  it('escapes a string that mixes plain runs and escapes without losing any part', () => {
    expect(pyDumps('ab"cd\\ef\ngh')).toBe('"ab\\"cd\\\\ef\\ngh"');
    expect(pyDumps('é')).toBe('"\\u00e9"');
    expect(pyDumps('xé')).toBe('"x\\u00e9"');
    expect(pyDumps('éx')).toBe('"\\u00e9x"');
  });
});

describe('pyDumps numbers', () => {
  it('writes integral numbers as Python ints', () => {
    expect(pyDumps([0, -0, 3, -17, 2 ** 53, 1e21, 1e30])).toBe(
      '[0, 0, 3, -17, 9007199254740992, 1000000000000000000000, 1000000000000000019884624838656]',
    );
  });

  it('writes every digit of integral numbers beyond 2^53, where String() pads with zeros', () => {
    // Python: json.dumps([int(4413416855968535040.0), -(2**53 + 2), int(1.2345678901234567e19)])
    expect(pyDumps([4413416855968535040, -(2 ** 53 + 2), 1.2345678901234567e19])).toBe(
      '[4413416855968535040, -9007199254740994, 12345678901234567168]',
    );
    expect(pyDumps(new Map([[4413416855968535040, 1]]))).toBe('{"4413416855968535040": 1}');
  });

  it('writes bigints exactly', () => {
    expect(pyDumps([10n ** 21n, 2n ** 53n, 2n ** 64n, -(2n ** 70n), 10n ** 30n])).toBe(
      '[1000000000000000000000, 9007199254740992, 18446744073709551616, -1180591620717411303424, 1000000000000000000000000000000]',
    );
  });

  it('writes floats in Python repr', () => {
    const floats = [
      0.1, 0.5, -2.5, 1 / 3, 123456789.123, 1e-4, 9.999999999999999e-5, 1e-5, 1.234e-6, 1e-7, 5e-324,
      2.2250738585072014e-308, 1e15 + 0.5, 1.5e300, -1.5e-300, 0.30000000000000004, 1e100, 4.35, 100.0, 1e16, 1e22,
      1.7976931348623157e308, 12345678901234567890.0, 9999999999999998.0, 2 ** 53, 1e21, -0.0, 0.0,
    ];
    expect(pyDumps(floats.map(pyFloat))).toBe(
      '[0.1, 0.5, -2.5, 0.3333333333333333, 123456789.123, 0.0001, 9.999999999999999e-05, 1e-05, 1.234e-06, ' +
        '1e-07, 5e-324, 2.2250738585072014e-308, 1000000000000000.5, 1.5e+300, -1.5e-300, 0.30000000000000004, ' +
        '1e+100, 4.35, 100.0, 1e+16, 1e+22, 1.7976931348623157e+308, 1.2345678901234567e+19, 9999999999999998.0, ' +
        '9007199254740992.0, 1e+21, -0.0, 0.0]',
    );
  });

  it('writes NaN and the infinities as bare tokens (allow_nan=True)', () => {
    expect(pyDumps([NaN, Infinity, -Infinity, new PyFloat(NaN), new PyFloat(-Infinity)])).toBe(
      '[NaN, Infinity, -Infinity, NaN, -Infinity]',
    );
  });

  it('writes PyFloat as a float even when integral', () => {
    expect(pyDumps({ a: new PyFloat(1), b: new PyFloat(-0), c: new PyFloat(1e16), d: new PyFloat(2.5) })).toBe(
      '{"a": 1.0, "b": -0.0, "c": 1e+16, "d": 2.5}',
    );
    // Outside pyDumps a PyFloat behaves as its number.
    expect(JSON.stringify({ a: new PyFloat(1) })).toBe('{"a":1}');
    expect(+new PyFloat(2.5) * 2).toBe(5);
  });
});

describe('pyDumps containers', () => {
  it('uses ", " and ": " separators and writes empty containers', () => {
    expect(pyDumps([[], {}, [[]], { '': '' }])).toBe('[[], {}, [[]], {"": ""}]');
    expect(pyDumps({ a: [1, true, false, null], b: { c: 'd' } })).toBe(
      '{"a": [1, true, false, null], "b": {"c": "d"}}',
    );
  });

  it('keeps object insertion order except for integer-like keys, which JS moves first', () => {
    // Python: json.dumps({"b": 1, "2": 2, "a": [], "1": {}}) == '{"b": 1, "2": 2, "a": [], "1": {}}'
    expect(pyDumps({ b: 1, '2': 2, a: [], '1': {} })).toBe('{"1": {}, "2": 2, "b": 1, "a": []}');
    const inPythonOrder = new Map<string, unknown>([
      ['b', 1],
      ['2', 2],
      ['a', []],
      ['1', {}],
    ]);
    expect(pyDumps(inPythonOrder)).toBe('{"b": 1, "2": 2, "a": [], "1": {}}');
  });

  it('converts Map keys as json.dumps converts dict keys', () => {
    // Python: json.dumps({1: 2, 1.5: 3, None: 5, 1e20: 6, float('nan'): 7, False: 8, 2**64: 9})
    const map = new Map<unknown, unknown>([
      [1, 2],
      [1.5, 3],
      [null, 5],
      [new PyFloat(1e20), 6],
      [NaN, 7],
      [false, 8],
      [2n ** 64n, 9],
    ]);
    expect(pyDumps(map)).toBe(
      '{"1": 2, "1.5": 3, "null": 5, "1e+20": 6, "NaN": 7, "false": 8, "18446744073709551616": 9}',
    );
  });

  it('leaves out undefined object and Map members and writes undefined list items as null', () => {
    expect(pyDumps({ a: undefined, b: 1, c: [undefined, 2], d: undefined })).toBe('{"b": 1, "c": [null, 2]}');
    expect(pyDumps(new Map([['x', undefined], ['y', 1]]))).toBe('{"y": 1}');
    expect(pyDumps(new Set([undefined]))).toBe('[null]');
  });

  it('writes an own __proto__ key like any other key', () => {
    const obj = JSON.parse('{"__proto__": {"x": 1}, "y": 2}') as unknown;
    expect(pyDumps(obj)).toBe('{"__proto__": {"x": 1}, "y": 2}');
  });

  it('encodes objects without a prototype', () => {
    const obj = Object.create(null) as Record<string, unknown>;
    obj.k = 'v';
    expect(pyDumps(obj)).toBe('{"k": "v"}');
  });

  it('allows the same object twice when it is not a cycle', () => {
    const shared = { x: 1 };
    expect(pyDumps({ a: shared, b: [shared, shared] })).toBe('{"a": {"x": 1}, "b": [{"x": 1}, {"x": 1}]}');
  });
});

describe('pyDumps to_primitive conversions', () => {
  it('writes a Date as "%Y-%m-%dT%H:%M:%S.%f" in UTC', () => {
    // Python: jsonutils.dumps(datetime.datetime(2024,1,2,3,4,5,6000)) == '"2024-01-02T03:04:05.006000"'
    expect(pyDumps(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)))).toBe('"2024-01-02T03:04:05.006000"');
    expect(pyDumps(new Date('2026-11-21T14:19:16.053+02:00'))).toBe('"2026-11-21T12:19:16.053000"');
  });

  it('does not pad years below 1000 (glibc strftime %Y, as on Debian)', () => {
    // Python: jsonutils.dumps([datetime(5,1,2,3,4,5), datetime(999,1,2)])
    const year5 = new Date(Date.UTC(2000, 0, 2, 3, 4, 5));
    year5.setUTCFullYear(5);
    const year999 = new Date(Date.UTC(2000, 0, 2));
    year999.setUTCFullYear(999);
    expect(pyDumps([year5, year999])).toBe('["5-01-02T03:04:05.000000", "999-01-02T00:00:00.000000"]');
  });

  it('writes a Set as a list', () => {
    expect(pyDumps(new Set([1, 2, 'x']))).toBe('[1, 2, "x"]');
  });

  it('decodes bytes as UTF-8, keeping a BOM', () => {
    // Python: jsonutils.dumps(b'\xef\xbb\xbfab\xc3\xa9') == '"\\ufeffab\\u00e9"'
    expect(pyDumps(Buffer.from([0xef, 0xbb, 0xbf, 0x61, 0x62, 0xc3, 0xa9]))).toBe('"\\ufeffab\\u00e9"');
    expect(pyDumps(new Uint8Array([0xe4, 0xb8, 0xad]))).toBe('"\\u4e2d"');
  });

  it('uses toJSON() results, passing the key like JSON.stringify', () => {
    const keys: string[] = [];
    const value = {
      toJSON(key: string) {
        keys.push(key);
        return { n: new PyFloat(3) };
      },
    };
    expect(pyDumps({ a: value, b: [value] })).toBe('{"a": {"n": 3.0}, "b": [{"n": 3.0}]}');
    expect(keys).toEqual(['a', '0']);
    class Version {
      constructor(readonly major: number) {}
      toJSON() {
        return `${this.major}.0`;
      }
    }
    expect(pyDumps({ version: new Version(6) })).toBe('{"version": "6.0"}');
  });

  it('calls toJSON once: an object returned by it is encoded as it is', () => {
    const selfish = {
      v: 1,
      toJSON() {
        return this;
      },
    };
    expect(() => pyDumps(selfish)).toThrow(SerializationError); // its toJSON member is a function
    const once = {
      toJSON: () => ({ inner: true, toJSON: () => 'never called' }),
    };
    expect(() => pyDumps(once)).toThrow(/cannot serialize a function at toJSON/);
  });

  it('unwraps boxed primitives', () => {
    expect(pyDumps([Object(1.5), Object('x'), Object(false), Object(5n)])).toBe('[1.5, "x", false, 5]');
  });
});

describe('pyDumps errors', () => {
  it('names the path of a cycle', () => {
    const a: Record<string, unknown> = {};
    a.self = { inner: [a] };
    const err = thrown(() => pyDumps({ args: { x: { y: a } } }));
    expect(err).toBeInstanceOf(SerializationError);
    expect(err.message).toBe('circular reference at args.x.y.self.inner[0]');
  });

  it('names the path of a function, a symbol and a class instance', () => {
    expect(thrown(() => pyDumps({ args: { x: { y: () => 1 } } })).message).toBe(
      'cannot serialize a function at args.x.y',
    );
    expect(thrown(() => pyDumps({ args: [1, Symbol('s')] })).message).toBe('cannot serialize a symbol at args[1]');
    class Thing {}
    const err = thrown(() => pyDumps({ 'odd key': new Thing() }));
    expect(err).toBeInstanceOf(SerializationError);
    expect(err.message).toBe('cannot serialize a Thing at ["odd key"]');
  });

  it('names a failing Map member by its key text', () => {
    expect(thrown(() => pyDumps({ m: new Map([[7, () => 1]]) })).message).toBe('cannot serialize a function at m["7"]');
    expect(thrown(() => pyDumps(new Map([[{}, 1]]))).message).toBe(
      'Map keys must be str, int, float, bool or None, not an Object at (top level)',
    );
  });

  it('rejects undefined at the top level, invalid Dates, out-of-range years and bad UTF-8', () => {
    expect(thrown(() => pyDumps(undefined))).toBeInstanceOf(SerializationError);
    expect(thrown(() => pyDumps({ at: new Date(NaN) })).message).toBe('cannot serialize an invalid Date at at');
    expect(thrown(() => pyDumps(new Date(Date.UTC(10000, 0, 1)))).message).toMatch(/year 10000/);
    expect(thrown(() => pyDumps({ b: Buffer.from([0xff]) })).message).toBe(
      'cannot serialize bytes that are not valid UTF-8 at b',
    );
  });

  it('turns stack exhaustion into a SerializationError', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const err = thrown(() => pyDumps(deep));
    expect(err).toBeInstanceOf(SerializationError);
    expect(err.message).toMatch(/nested too deeply/);
  });
});

describe('pyLoads', () => {
  it('reads standard JSON as JSON.parse does', () => {
    const text = '{"a": [1, -2.5, "x\\u00e9", true, false, null, {}], "b": {"c": -0}, "d": 1e400}';
    expect(pyLoads(text)).toEqual(JSON.parse(text));
    expect(Object.is((pyLoads('-0') as number), -0)).toBe(true);
  });

  it('reads bare NaN, Infinity and -Infinity', () => {
    expect(pyLoads('[NaN, Infinity, -Infinity, {"x": NaN}]')).toEqual([NaN, Infinity, -Infinity, { x: NaN }]);
    expect(pyLoads(' -Infinity ')).toBe(-Infinity);
  });

  it('returns integers beyond ±(2^53-1) as exact bigints and the rest as numbers', () => {
    expect(
      pyLoads('[9007199254740991, 9007199254740992, -9007199254740991, -9007199254740992, 18446744073709551616, 1.5e300]'),
    ).toEqual([9007199254740991, 9007199254740992n, -9007199254740991, -9007199254740992n, 18446744073709551616n, 1.5e300]);
    const huge = '9'.repeat(400);
    expect(pyLoads(`{"n": ${huge}}`)).toEqual({ n: BigInt(huge) });
    expect(pyLoads('-1180591620717411303424')).toBe(-1180591620717411303424n);
  });

  it('keeps floats whose text has many digits as numbers', () => {
    expect(pyLoads('[0.30000000000000004, 12345678901234567.0, 1e16]')).toEqual([0.30000000000000004, 12345678901234568, 1e16]);
  });

  it('decodes escapes, surrogate pairs and lone surrogates on both paths', () => {
    const literal = '"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\\ud800 end"';
    const decoded = '"\\/\b\f\n\r\té😀\ud800 end';
    expect(pyLoads(literal)).toBe(decoded);
    expect(pyLoads(`[NaN, ${literal}]`)).toEqual([NaN, decoded]); // full parser
    expect(pyLoads(`{"k\\"ey": NaN, "v": "a\\"b"}`)).toEqual({ 'k"ey': NaN, v: 'a"b' });
    expect(pyLoads('["\\\\", NaN, "\\\\\\"", "tail"]')).toEqual(['\\', NaN, '\\"', 'tail']);
  });

  it('makes __proto__ an own property and never changes a prototype', () => {
    for (const text of ['{"__proto__": {"polluted": 1}}', '{"__proto__": {"polluted": 1}, "n": NaN}']) {
      const obj = pyLoads(text) as Record<string, unknown>;
      expect(Object.getPrototypeOf(obj)).toBe(Object.prototype);
      expect(Object.keys(obj)).toContain('__proto__');
      expect(Object.getOwnPropertyDescriptor(obj, '__proto__')?.value).toEqual({ polluted: 1 });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    }
    const map = pyLoads('{"__proto__": 1}', { objects: 'map' }) as Map<string, unknown>;
    expect(map.get('__proto__')).toBe(1);
  });

  it('keeps the last value of a repeated key at the first key position, as a Python dict', () => {
    expect(Object.entries(pyLoads('{"a": 1, "b": 2, "a": 3}') as object)).toEqual([
      ['a', 3],
      ['b', 2],
    ]);
    expect([...(pyLoads('{"a": 1, "b": NaN, "a": 3}', { objects: 'map' }) as Map<string, unknown>)]).toEqual([
      ['a', 3],
      ['b', NaN],
    ]);
  });

  it('reads a Buffer as UTF-8 and skips a leading BOM like json.loads(bytes)', () => {
    expect(pyLoads(Buffer.from('{"s": "é", "n": 18446744073709551616}'))).toEqual({ s: 'é', n: 18446744073709551616n });
    expect(pyLoads(Buffer.from([0xef, 0xbb, 0xbf, 0x5b, 0x31, 0x5d]))).toEqual([1]);
    expect(pyLoads(new Uint8Array([0x5b, 0x32, 0x5d]))).toEqual([2]);
    expect(() => pyLoads(Buffer.from([0x22, 0xff, 0x22]))).toThrow(MalformedMessage);
  });

  it('reports bad input with Python json.loads wording and position', () => {
    // Each message as Python 3.11 json.loads raises it.
    const cases: Array<[string, string]> = [
      ['[1,]', 'Expecting value: line 1 column 4 (char 3)'],
      ['{"a":1,}', 'Expecting property name enclosed in double quotes: line 1 column 8 (char 7)'],
      ['{"a" 1}', "Expecting ':' delimiter: line 1 column 6 (char 5)"],
      ['[1 2]', "Expecting ',' delimiter: line 1 column 4 (char 3)"],
      ['"abc', 'Unterminated string starting at: line 1 column 1 (char 0)'],
      ['"a\\x"', 'Invalid \\escape: line 1 column 3 (char 2)'],
      ['-NaN', 'Expecting value: line 1 column 1 (char 0)'],
      ['', 'Expecting value: line 1 column 1 (char 0)'],
      ['\ufeff1', 'Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)'],
      ['{1:2}', 'Expecting property name enclosed in double quotes: line 1 column 2 (char 1)'],
      ['"\x01"', 'Invalid control character at: line 1 column 2 (char 1)'],
      ['[1]x', 'Extra data: line 1 column 4 (char 3)'],
      ['"\\u12g4"', 'Invalid \\uXXXX escape: line 1 column 3 (char 2)'],
      ['{\n  "a": 1\n  "b": 2}', "Expecting ',' delimiter: line 3 column 3 (char 13)"],
      ['nan', 'Expecting value: line 1 column 1 (char 0)'],
    ];
    for (const [text, message] of cases) {
      const err = thrown(() => pyLoads(text));
      expect(err, text).toBeInstanceOf(MalformedMessage);
      expect(err.message, text).toBe(`Malformed JSON: ${message}`);
    }
  });

  it('turns excessive nesting into a MalformedMessage', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(() => pyLoads(deep)).toThrow(MalformedMessage);
    expect(() => pyLoads(`[NaN, ${deep}]`)).toThrow(MalformedMessage);
  });

  it("returns integral floats as PyFloat with floats: 'preserve'", () => {
    const value = pyLoads('[1.0, -0.0, 1e+16, 0.5, 2, 1E2, NaN]', { floats: 'preserve' }) as unknown[];
    expect(value.slice(0, 3)).toEqual([new PyFloat(1), new PyFloat(-0), new PyFloat(1e16)]);
    expect(value.slice(0, 3).every((v) => v instanceof PyFloat)).toBe(true);
    expect(Object.is((value[1] as PyFloat).value, -0)).toBe(true);
    expect(value.slice(3, 6)).toEqual([0.5, 2, new PyFloat(100)]);
    expect(value[6]).toBeNaN();
    expect(pyLoads('[1, 2]', { floats: 'preserve' })).toEqual([1, 2]);
  });

  it("returns Maps in document order with objects: 'map'", () => {
    const value = pyLoads('{"b": 1, "2": {"1": [], "0": 2.5}, "a": null}', { objects: 'map' });
    expect(value).toBeInstanceOf(Map);
    const map = value as Map<string, unknown>;
    expect([...map.keys()]).toEqual(['b', '2', 'a']);
    expect([...(map.get('2') as Map<string, unknown>).keys()]).toEqual(['1', '0']);
  });
});

describe('round trips', () => {
  // Each string was printed by Python 3.11 json.dumps.
  const pythonTexts = [
    '{"b": 1, "2": 2, "a": [], "1": {}}',
    '[1.0, -0.0, 1e+16, 1000000000000000.0, 0.0001, 1e-05, 1e+21, 1000000000000000000000, NaN, Infinity, -Infinity, 5e-324, 1.7976931348623157e+308, 123456789.123, 18446744073709551616, -1180591620717411303424, 0.1, 9999999999999998.0]',
    '"\\u00e9\\u4e2d\\u6587\\ud83d\\ude00\\u2028\\u007f\\u0000\\u001f\\"\\\\/\\n\\r\\t\\b\\f\\u00ff\\ud800"',
    '{"oslo.version": "2.0", "oslo.message": "{\\"method\\": \\"echo\\", \\"args\\": {\\"x\\": 3.0}, \\"_unique_id\\": \\"f22405448c7a4c2b979212e461c9fe58\\"}"}',
  ];

  it('reproduces Python bytes with preserved floats and Map objects', () => {
    for (const text of pythonTexts) {
      expect(pyDumps(pyLoads(text, { floats: 'preserve', objects: 'map' }))).toBe(text);
    }
  });

  it('reads back what it writes', () => {
    const value = {
      s: 'é中😀\u2028"\\\n',
      n: [0, -5, 0.25, 1e-7, 2 ** 53 - 1],
      big: 2n ** 64n,
      f: NaN,
      nested: { a: [[], {}], b: null, c: true },
    };
    expect(pyLoads(pyDumps(value))).toEqual(value);
    const inner = pyDumps(value);
    const envelope = pyDumps({ 'oslo.version': '2.0', 'oslo.message': inner });
    expect((pyLoads(envelope) as Record<string, string>)['oslo.message']).toBe(inner);
  });
});

describe('pyDumpsLiteral: the JSON text of a value, written as the string literal that holds it', () => {
  const controls = Array.from({ length: 0x20 }, (_, c) => String.fromCharCode(c)).join('');
  const withToJSON = { toJSON: () => ({ inner: pyDumps({ q: '"quoted"' }), when: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)) }) };
  it.each([
    ['a call', { method: 'ping', args: { n: 1, s: 'plain' }, _msg_id: 'a1', _timeout: null, _context_roles: ['member'] }],
    ['quotes, backslashes, slashes', ['"', '\\', '/', '\\"', '"\\/"', "it's"]],
    ['non-ASCII, DEL, lone surrogates', ['é中😀\u2028', '\x7f', '\ud800', 'a\ud83d']],
    ['control characters', [controls]],
    ['a long ASCII string with escapes', 'x"y\\z\n'.repeat(40)],
    ['keys that need escaping', { 'a"b': 1, 'c\\d': 2, 'é': 3, '\n': 4 }],
    ['numbers, floats and big ints', [0, -0, 1.5, new PyFloat(2), 1e21, 2n ** 70n, NaN, -Infinity]],
    ['a Date, a Set, a Map, bytes', [new Date(Date.UTC(2026, 10, 30, 1, 2, 3, 45)), new Set(['s']), new Map<unknown, unknown>([[1, 'one'], ['k"', 'v']]), Buffer.from('bytes "b"')]],
    ['a toJSON that encodes with pyDumps itself', { v: withToJSON, after: 'x"' }],
    ['a bare string', 'he said "hi"'],
    ['null', null],
  ])('%s: equals pyDumps(pyDumps(value))', (_what, value) => {
    expect(pyDumpsLiteral(value)).toBe(pyDumps(pyDumps(value)));
    // and the quote mark is back to normal afterwards
    expect(pyDumps({ k: 'v"' })).toBe('{"k": "v\\""}');
  });

  it('fails as pyDumps does, and leaves the encoder as it was', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(thrown(() => pyDumpsLiteral({ x: cyclic })).message).toBe(thrown(() => pyDumps({ x: cyclic })).message);
    expect(thrown(() => pyDumpsLiteral({ f: () => 1 }))).toBeInstanceOf(SerializationError);
    expect(pyDumps({ k: 'v' })).toBe('{"k": "v"}');
  });
});
