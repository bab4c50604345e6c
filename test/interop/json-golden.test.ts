/**
 * Golden test: our JSON codec against the real Python at test time.
 *
 * Writing: a corpus of tricky values goes to `peers/json_golden.py` under
 * Debian's /usr/bin/python3 in a tagged form that loses nothing (ints, big
 * ints and floats stay distinct; floats travel as their IEEE-754 bits), Python
 * writes each with json.dumps, oslo's jsonutils.dumps, or the real RPC body
 * path (oslo_messaging._drivers.common.serialize_msg, then kombu's JSON
 * serializer), and every byte must equal what pyDumps writes for the same value.
 *
 * Reading: Python writes JSON with NaN, infinities, big ints, escapes and the
 * real envelope; pyLoads must read what Python's own json.loads reads, and
 * with `floats: 'preserve'` + `objects: 'map'` write the very same bytes back.
 */

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

import { envelopeText } from '../../server/messaging/envelope.ts';
import { PyFloat, pyDumps, pyLoads } from '../../server/messaging/json.ts';

const PYTHON = '/usr/bin/python3';
const PEER = fileURLToPath(new URL('./peers/json_golden.py', import.meta.url));

// ---------------------------------------------------------------------------
// Tagged values: the Python value a JS value stands for, spelled out so that
// the trip to Python loses nothing.
// ---------------------------------------------------------------------------

type Tagged =
  | ['str', string]
  | ['int', string]
  | ['float', string]
  | ['bool', boolean]
  | ['null']
  | ['list', Tagged[]]
  | ['dict', Array<[Tagged, Tagged]>]
  | ['datetime', number[]]
  | ['bytes', string]
  | ['set', Tagged[]];

function floatBits(x: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  return Buffer.from(view.buffer).toString('hex');
}

function bitsFloat(hex: string): number {
  const bytes = Buffer.from(hex, 'hex');
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat64(0);
}

/** The JS → Python model of json.ts: an integral number is an int, any other number a float, PyFloat a float. */
function tag(value: unknown): Tagged {
  if (value === null || value === undefined) return ['null'];
  switch (typeof value) {
    case 'string':
      return ['str', value];
    case 'boolean':
      return ['bool', value];
    case 'bigint':
      return ['int', value.toString()];
    case 'number':
      return Number.isInteger(value) ? ['int', BigInt(value).toString()] : ['float', floatBits(value)];
    default:
      break;
  }
  if (value instanceof PyFloat) return ['float', floatBits(value.value)];
  if (Array.isArray(value)) return ['list', value.map(tag)];
  if (value instanceof Map) return ['dict', [...value].map(([k, v]): [Tagged, Tagged] => [tag(k), tag(v)])];
  if (value instanceof Set) return ['set', [...value].map(tag)];
  if (value instanceof Date) {
    return [
      'datetime',
      [
        value.getUTCFullYear(),
        value.getUTCMonth() + 1,
        value.getUTCDate(),
        value.getUTCHours(),
        value.getUTCMinutes(),
        value.getUTCSeconds(),
        value.getUTCMilliseconds() * 1000,
      ],
    ];
  }
  if (value instanceof Uint8Array) return ['bytes', Buffer.from(value).toString('base64')];
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return ['dict', entries.map(([k, v]): [Tagged, Tagged] => [['str', k], tag(v)])];
  }
  throw new Error(`corpus holds a value the tagger does not know: ${String(value)}`);
}

/** What pyLoads should give for a value Python's json.loads read. */
function untag(t: Tagged): unknown {
  switch (t[0]) {
    case 'str':
      return t[1];
    case 'int': {
      const n = BigInt(t[1]);
      return n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(n) : n;
    }
    case 'float':
      return bitsFloat(t[1]);
    case 'bool':
      return t[1];
    case 'null':
      return null;
    case 'list':
      return t[1].map(untag);
    case 'dict': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of t[1]) {
        if (k[0] !== 'str') throw new Error('json.loads only makes str keys');
        Object.defineProperty(out, k[1], { value: untag(v), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    default:
      throw new Error(`json.loads never makes ${t[0]}`);
  }
}

// ---------------------------------------------------------------------------
// Corpus
// ---------------------------------------------------------------------------

type Codec = 'json' | 'jsonutils' | 'envelope';
interface DumpCase {
  name: string;
  codec: Codec;
  value: unknown;
}

/** mulberry32: a fixed seed keeps the random part of the corpus reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const asFloat = (x: number): number | PyFloat => (Number.isInteger(x) || x === 0 ? new PyFloat(x) : x);

function nextAfter(x: number, up: boolean): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  view.setBigUint64(0, (x > 0) === up ? bits + 1n : bits - 1n);
  return view.getFloat64(0);
}

function randomFloats(rand: () => number, count: number): Array<number | PyFloat> {
  const out: Array<number | PyFloat> = [];
  const view = new DataView(new ArrayBuffer(8));
  for (let i = 0; i < count; i++) {
    const kind = i % 4;
    let x: number;
    if (kind === 0) {
      // any bit pattern: every exponent range, subnormals, NaN payloads, infinities
      view.setUint32(0, Math.floor(rand() * 2 ** 32));
      view.setUint32(4, Math.floor(rand() * 2 ** 32));
      x = view.getFloat64(0);
    } else if (kind === 1) {
      // short decimals, like most real payloads (prices, sizes, ratios)
      x = Math.round((rand() - 0.5) * 10 ** Math.floor(rand() * 12)) / 10 ** Math.floor(rand() * 8);
    } else if (kind === 2) {
      // around the repr switch points 1e-4 and 1e16
      const edge = rand() < 0.5 ? 1e-4 : 1e16;
      x = edge;
      for (let steps = Math.floor(rand() * 4); steps > 0; steps--) x = nextAfter(x, rand() < 0.5);
      if (rand() < 0.5) x = -x;
    } else {
      x = (rand() - 0.5) * 10 ** (Math.floor(rand() * 60) - 30);
    }
    out.push(asFloat(x));
  }
  return out;
}

function randomInts(rand: () => number, count: number): Array<number | bigint> {
  const out: Array<number | bigint> = [];
  for (let i = 0; i < count; i++) {
    if (i % 3 === 0) out.push(Math.floor((rand() - 0.5) * 2 * Number.MAX_SAFE_INTEGER));
    else if (i % 3 === 1) {
      let digits = String(1 + Math.floor(rand() * 9));
      for (let n = Math.floor(rand() * 60); n > 0; n--) digits += String(Math.floor(rand() * 10));
      out.push(rand() < 0.5 ? -BigInt(digits) : BigInt(digits));
    } else {
      // integral doubles of any size are Python ints with all their digits
      out.push(Math.trunc((rand() - 0.5) * 10 ** Math.floor(rand() * 300)));
    }
  }
  return out;
}

function randomStrings(rand: () => number, count: number): string[] {
  const pools = [
    () => 0x20 + Math.floor(rand() * 0x5f), // printable ASCII, quotes and backslashes included
    () => Math.floor(rand() * 0x80), // controls and DEL
    () => 0x80 + Math.floor(rand() * 0x780), // Latin, Greek, Cyrillic...
    () => 0x4e00 + Math.floor(rand() * 0x5000), // CJK
    () => 0xd800 + Math.floor(rand() * 0x800), // surrogates, paired by chance or alone
    () => 0x2028 + Math.floor(rand() * 2),
    () => Math.floor(rand() * 0x10000),
  ];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let s = '';
    for (let n = Math.floor(rand() * 24); n > 0; n--) {
      if (rand() < 0.1) s += String.fromCodePoint(0x1f600 + Math.floor(rand() * 0x50));
      else s += String.fromCharCode(pools[Math.floor(rand() * pools.length)]());
    }
    out.push(s);
  }
  return out;
}

const novaCall = {
  method: 'build_and_run_instance',
  args: {
    instance_uuid: '6f0b2a4e-8c1d-4e6f-9a3b-1c2d3e4f5a6b',
    request_spec: {
      num_instances: 1,
      flavor: { name: 'm1.small', memory_mb: 2048, vcpus: 1, root_gb: 20, swap: 0, rxtx_factor: new PyFloat(1), extra_specs: {} },
      image: { id: 'c3a1e0b2-1111-2222-3333-444455556666', name: 'cirros-0.6.2-x86_64-disk', min_ram: 0, size: 21430272 },
      scheduler_hints: { group: ['anti-affinity'] },
    },
    filter_properties: { retry: { num_attempts: 1, hosts: [['compute-01', 'compute-01']] }, limits: { memory_mb: 8192.0, disk_gb: 1.5, vcpu: null } },
    node: 'compute-01',
    display_description: 'Ünïcödé — "quoted" \\ back\\slash / slash \u2028',
  },
  namespace: 'compute',
  version: '6.0',
  _msg_id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
  _reply_q: 'reply_0f1e2d3c4b5a69788796a5b4c3d2e1f0',
  _timeout: null,
  _unique_id: 'd41d8cd98f00b204e9800998ecf8427e',
  _context_user: 'u1',
  _context_project_id: '8f6c2a1b9d7e4f3c',
  _context_system_scope: null,
  _context_is_admin: false,
  _context_read_only: false,
  _context_show_deleted: false,
  _context_auth_token: 'gAAAAABk-secret',
  _context_request_id: 'req-1b7a2c3d-4e5f-6789-abcd-ef0123456789',
  _context_global_request_id: null,
  _context_resource_uuid: null,
  _context_roles: ['member', 'reader'],
  _context_user_identity: 'u1 8f6c2a1b9d7e4f3c - default default',
  _context_is_admin_project: true,
  _context_timestamp: '2026-11-21T14:19:16.053480',
  _context_quota_class: null,
  _context_remote_address: '10.0.0.5',
};

function buildCorpus(): DumpCase[] {
  const rand = prng(20261121);
  let controls = '';
  for (let c = 0; c < 0x20; c++) controls += String.fromCharCode(c);
  const cases: DumpCase[] = [
    { name: 'unicode', codec: 'json', value: ['é', '中文', '😀', '\u2028\u2029', '\x7f', controls, 'ÿĀ\u0fff\u1000\uffff'] },
    { name: 'quotes, backslashes, slashes', codec: 'json', value: ['"', '\\', '/', '\\"', '"\\/"', 'a"b\\c/d', "it's"] },
    { name: 'lone surrogates', codec: 'json', value: ['\ud800', '\udfff', 'a\ud83d', '\ude00b', '\udc00\ud800'] },
    {
      name: 'floats',
      codec: 'json',
      value: [0.1, 1e16, 1e-5, 123456789.123, 5e-324, 1.7976931348623157e308, -0, 0, 1, 1e21, 1e22, 0.0001, 1e15].map(asFloat),
    },
    { name: 'non-finite', codec: 'json', value: [NaN, Infinity, -Infinity, new PyFloat(NaN)] },
    { name: 'ints', codec: 'json', value: [0, -0, 1, -1, 2 ** 53 - 1, 2 ** 53, 1e21, 1e300, 2n ** 64n, -(2n ** 70n), 10n ** 40n] },
    { name: 'nested', codec: 'json', value: { a: [[[]], {}, [{ b: [null, true, false] }]], '': '', e: { f: { g: { h: [] } } } } },
    { name: 'empty list', codec: 'json', value: [] },
    { name: 'empty dict', codec: 'json', value: {} },
    { name: 'bare string', codec: 'json', value: 'plain' },
    { name: 'bare float', codec: 'json', value: new PyFloat(2) },
    {
      name: 'Map keeps Python key order and converts keys',
      codec: 'json',
      value: new Map<unknown, unknown>([
        ['b', 1],
        ['2', 2],
        ['a', 3],
        ['1', 4],
        [7, 'int'],
        [2.5, 'float'],
        [new PyFloat(3), 'integral float'],
        [null, 'None'],
        [false, 'False'],
        [2n ** 64n, 'big'],
      ]),
    },
    { name: 'undefined members', codec: 'json', value: { a: undefined, b: [undefined, 1] } },
    { name: 'nova call context', codec: 'jsonutils', value: novaCall },
    { name: 'nova call envelope', codec: 'envelope', value: novaCall },
    { name: 'unicode envelope', codec: 'envelope', value: { method: 'echo', args: { s: 'é中😀\u2028\x7f"\\/' }, _unique_id: 'f22405448c7a4c2b979212e461c9fe58' } },
    {
      name: 'failure reply envelope',
      codec: 'envelope',
      value: {
        result: null,
        failure: pyDumps({
          class: 'InstanceNotFound',
          module: 'nova.exception',
          message: 'Instance vm1 could not be found.',
          tb: ['Traceback (most recent call last):\n', '  File "/usr/lib/python3/dist-packages/nova/compute/manager.py", line 1, in f\n'],
          args: ['Instance vm1 could not be found.'],
          kwargs: { code: 404 },
        }),
        ending: true,
        _msg_id: '39a62c72bbe74d0183ed0f3058625bc2',
        _unique_id: '6875b048aa704bdc9f63c96201c27370',
      },
    },
    {
      name: 'to_primitive: datetime, bytes, set',
      codec: 'jsonutils',
      value: {
        created_at: new Date(Date.UTC(2026, 10, 21, 14, 19, 16, 53)),
        midnight: new Date(Date.UTC(2024, 0, 1)),
        blob: Buffer.from('é中😀\ufeff', 'utf8'),
        raw: new Uint8Array([0x61, 0x2f, 0x22]),
        ids: new Set([1, 2, 3]),
      },
    },
  ];
  const floats = randomFloats(rand, 4000);
  for (let i = 0; i < floats.length; i += 500) cases.push({ name: `random floats ${i}`, codec: 'json', value: floats.slice(i, i + 500) });
  cases.push({ name: 'random ints', codec: 'json', value: randomInts(rand, 600) });
  const strings = randomStrings(rand, 1000);
  for (let i = 0; i < strings.length; i += 250) cases.push({ name: `random strings ${i}`, codec: 'json', value: strings.slice(i, i + 250) });
  // Long pure-ASCII strings take the encoder's other branch (JSON.stringify does the escaping).
  const longAscii: string[] = [];
  for (let i = 0; i < 100; i++) {
    let t = '';
    for (let n = 64 + Math.floor(rand() * 200); n > 0; n--) t += String.fromCharCode(rand() < 0.8 ? 0x20 + Math.floor(rand() * 0x5f) : Math.floor(rand() * 0x7f));
    longAscii.push(t);
  }
  cases.push({ name: 'random long ASCII strings', codec: 'json', value: longAscii });
  cases.push({
    name: 'random strings as keys',
    codec: 'json',
    value: new Map(randomStrings(rand, 100).map((s, i) => [s, i])),
  });
  return cases;
}

function ours(item: DumpCase): string {
  // the envelope as the transport writes it (one pass into the inner literal), held to Python's bytes
  if (item.codec === 'envelope') return envelopeText(item.value as Record<string, unknown>);
  return pyDumps(item.value);
}

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

interface Report {
  dumps: string[];
  emit: Array<{ name: string; text: string; value: Tagged }>;
}

function runPeer(input: string): Promise<Report> {
  return new Promise((resolve, reject) => {
    const child = execFile(PYTHON, [PEER], { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${PEER} failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as Report);
    });
    child.stdin?.end(input, 'utf8');
  });
}

const havePython = existsSync(PYTHON);
if (!havePython) {
  const msg = `json golden test needs ${PYTHON} with python3-oslo.messaging 14.0.3 (apt-get install python3-oslo.messaging)`;
  if (process.env.CI) throw new Error(msg);
  console.warn(`SKIPPED: ${msg}`);
}

describe.skipIf(!havePython)('JSON codec against Python 3.11 json / oslo / kombu', () => {
  const corpus = buildCorpus();
  let report: Report;

  beforeAll(async () => {
    // Plain JSON.stringify carries the request: lone surrogates are escaped
    // (well-formed JSON.stringify) and the tags keep every number exact.
    const input = JSON.stringify({ dumps: corpus.map((c) => ({ codec: c.codec, value: tag(c.value) })) });
    report = await runPeer(input);
    expect(report.dumps).toHaveLength(corpus.length);
  });

  describe('pyDumps writes the bytes Python writes', () => {
    for (const [i, item] of corpus.entries()) {
      it(`${item.codec}: ${item.name}`, () => {
        const theirs = Buffer.from(report.dumps[i], 'base64').toString('utf8');
        const mine = ours(item);
        if (mine !== theirs && Array.isArray(item.value)) {
          // Name the first differing element rather than two long lines.
          const theirItems = pyLoads(theirs, { floats: 'preserve', objects: 'map' }) as unknown[];
          for (const [k, v] of item.value.entries()) {
            expect(pyDumps(v), `element ${k}`).toBe(pyDumps(theirItems[k]));
          }
        }
        expect(mine).toBe(theirs);
      });
    }
  });

  describe('pyLoads reads what Python writes', () => {
    it('got every case from Python', () => {
      expect(report.emit.map((e) => e.name)).toEqual([
        'non-finite floats',
        'big ints',
        'floats',
        'unicode escapes',
        'key order',
        'nested',
        'non-str keys',
        'nova call (inner)',
        'nova call (envelope)',
      ]);
    });

    it('reads the values json.loads reads', () => {
      for (const e of report.emit) {
        const text = Buffer.from(e.text, 'base64').toString('utf8');
        expect(pyLoads(text), e.name).toEqual(untag(e.value));
        expect(pyLoads(Buffer.from(e.text, 'base64')), `${e.name} (Buffer)`).toEqual(untag(e.value));
      }
    });

    it("writes Python's bytes back with floats: 'preserve' and objects: 'map'", () => {
      for (const e of report.emit) {
        const text = Buffer.from(e.text, 'base64').toString('utf8');
        expect(pyDumps(pyLoads(text, { floats: 'preserve', objects: 'map' })), e.name).toBe(text);
      }
    });

    it('opens the real envelope in two steps', () => {
      const byName = new Map(report.emit.map((e) => [e.name, e]));
      const body = Buffer.from(byName.get('nova call (envelope)')!.text, 'base64');
      const inner = Buffer.from(byName.get('nova call (inner)')!.text, 'base64').toString('utf8');
      const envelope = pyLoads(body) as Record<string, unknown>;
      expect(Object.keys(envelope)).toEqual(['oslo.version', 'oslo.message']);
      expect(envelope['oslo.version']).toBe('2.0');
      // oslo's jsonutils.dumps and json.dumps agree on plain values: the inner string is Python's json.dumps text.
      expect(envelope['oslo.message']).toBe(inner);
      const message = pyLoads(envelope['oslo.message'] as string) as Record<string, Record<string, unknown>>;
      expect(message.args.display_name).toBe('vm-é中😀');
      expect(message.args.limits).toEqual({ memory_mb: 8192, vcpu: null, disk_gb: 1.5 });
      expect(message._timeout).toBeNull();
    });

    it('gets big ints as exact bigints and non-finite floats as numbers', () => {
      const byName = new Map(report.emit.map((e) => [e.name, Buffer.from(e.text, 'base64').toString('utf8')]));
      expect(pyLoads(byName.get('big ints')!)).toEqual([
        9007199254740991,
        9007199254740992n,
        -9007199254740992n,
        18446744073709551616n,
        -1180591620717411303424n,
        10n ** 40n,
        0,
      ]);
      const nonFinite = pyLoads(byName.get('non-finite floats')!) as unknown[];
      expect(nonFinite[0]).toBeNaN();
      expect(nonFinite.slice(1, 3)).toEqual([Infinity, -Infinity]);
      const keyed = pyLoads(byName.get('key order')!) as Record<string, unknown>;
      expect(Object.getPrototypeOf(keyed)).toBe(Object.prototype);
      expect(Object.getOwnPropertyDescriptor(keyed, '__proto__')?.value).toEqual({ polluted: true });
    });
  });
});
