/**
 * osloscope on the queue layouts deployments run (docs/wire.md#layouts),
 * against the real Python oslo.messaging of the stack at hand (TEST_PYTHON)
 * with the layout of TEST_PEER_LAYOUT (default, quorum, kolla, kolla50,
 * helm) on the stack's broker (TEST_TRANSPORT_URL, TEST_MANAGEMENT_URL):
 *
 * - osloscope with no layout options (what a new user runs) fires calls,
 *   casts and fanouts at Python servers of that layout: no 406
 *   `inequivalent arg` on their durable exchanges;
 * - osloscope configured like the services does the same;
 * - osloscope's RPC server joins a topic a Python server already serves
 *   (quorum topic queues, stream fanout), both unconfigured and configured
 *   like the services, and a Python client of that layout calls, casts and
 *   fans out to it;
 * - configured like the services on a fresh topic, osloscope's server
 *   declares exactly what the Python server declares: exchange and queue
 *   flags, arguments in order, queue types, bindings, consumer arguments
 *   and prefetch (read back from the management API).
 *
 * The matrix runner runs this file per stack and layout. A layout the
 * Python at hand cannot run (T/S/M need oslo.messaging 14.7.0; bookworm has
 * 14.0.3) is skipped with that reason, never silently.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcServer, Transport, RpcClient, type Endpoint, type RabbitOptions } from '../../server/messaging/index.ts';
import {
  assertLayoutSupported,
  deleteBrokerEntities,
  LAYOUT,
  PEER_LAYOUT,
  PYTHON,
  pythonOsloVersion,
  RABBIT_URL,
  startPeer,
  stopAllPeers,
  osloscopeLayoutOptions,
  type PythonPeer,
} from './python-peer.ts';
import { brokerAvailable, pythonAvailable } from './python-peer.ts';
import { eventually, mgmtJson as mgmt, uniqueName } from '../support/brokers.ts';

const BIN = fileURLToPath(new URL('../../bin/osloscope', import.meta.url));

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(BIN, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}


/** Why this run's layout cannot run on the Python at hand (its oslo.messaging lacks the options), or null. */
function unsupportedReason(): string | null {
  try {
    assertLayoutSupported();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

const reason = unsupportedReason();
const available = reason === null && (await pythonAvailable()) && (await brokerAvailable());
if (reason === null && !available && process.env.CI) throw new Error('Python oslo.messaging and the broker are required for interop tests in CI');

function recordingEndpoint(server: string, seen: { server: string; method: string; value: unknown }[]): Endpoint {
  return {
    target: { version: '1.3' },
    echo(_ctxt: Record<string, unknown>, args: Record<string, unknown>) {
      seen.push({ server, method: 'echo', value: args.value });
      return args.value;
    },
    whoami(_ctxt: Record<string, unknown>, args: Record<string, unknown>) {
      seen.push({ server, method: 'whoami', value: args.value });
      return server;
    },
  };
}

/**
 * With use_queue_manager, Python peers of concurrent test runs on this host
 * would all be `<host>:oslo_peer.py:<n>` and, in different process groups,
 * restart the shared counter at 1 (amqpdriver.QManager): two clients would
 * share one reply queue and take each other's replies. A deployment gives
 * each service its own processname; so does each peer here.
 */
const peerArgs = (...args: string[]): string[] => (LAYOUT.queueManager ? [...args, '--conf', `oslo_messaging_rabbit.processname=${uniqueName('peer')}`] : args);

const invoked = (value: string) => (e: Record<string, unknown>) => e.event === 'invoked' && (e.args as { value?: unknown } | undefined)?.value === value;

interface MgmtQueue {
  name: string;
  durable: boolean;
  auto_delete: boolean;
  exclusive: boolean;
  arguments: Record<string, unknown>;
  type?: string;
  consumer_details?: { arguments: Record<string, unknown>; prefetch_count: number; ack_required: boolean }[];
}
interface Declared {
  controlExchange: { durable: boolean };
  fanoutExchange: { type: string; durable: boolean; auto_delete: boolean };
  topicQueue: { durable: boolean; type?: string; consumers: unknown[] };
  serverQueue: { consumers: unknown[] };
  fanoutQueues: { name: string; type?: string; consumers: { arguments: Record<string, unknown>; prefetch: number }[] }[];
}
interface MgmtExchange {
  name: string;
  type: string;
  durable: boolean;
  auto_delete: boolean;
  internal: boolean;
  arguments: Record<string, unknown>;
}
interface MgmtBinding {
  source: string;
  destination: string;
  routing_key: string;
}

const vhostOf = (url: string): string => encodeURIComponent(decodeURIComponent(new URL(url.replace(/^rabbit:/, 'amqp:')).pathname.slice(1)) || '/');

/**
 * What a server declared for (exchange, topic, server), normalised so two
 * servers can be compared: names with the topic and queue-manager parts
 * replaced, argument keys in wire order.
 */
async function declared(exchange: string, topic: string, server: string): Promise<unknown> {
  const vh = vhostOf(RABBIT_URL);
  const norm = (name: string) =>
    name
      .replace(topic, '<topic>')
      .replace(/_fanout_[0-9a-f]{32}$/, '_fanout_<hex>')
      .replace(/_fanout_[^:]+:[^:]+:\d+$/, '_fanout_<host>:<proc>:<n>');
  const queue = async (name: string) => {
    const q = await mgmt<MgmtQueue>(`/queues/${vh}/${encodeURIComponent(name)}`);
    return {
      name: norm(q.name),
      durable: q.durable,
      auto_delete: q.auto_delete,
      exclusive: q.exclusive,
      type: q.type,
      arguments: Object.entries(q.arguments),
      consumers: (q.consumer_details ?? []).map((c) => ({ arguments: c.arguments, prefetch: c.prefetch_count, ack: c.ack_required })),
    };
  };
  const exchangeView = async (name: string) => {
    const x = await mgmt<MgmtExchange>(`/exchanges/${vh}/${encodeURIComponent(name)}`);
    return { type: x.type, durable: x.durable, auto_delete: x.auto_delete, internal: x.internal, arguments: x.arguments };
  };
  const fanoutBindings = await mgmt<MgmtBinding[]>(`/exchanges/${vh}/${encodeURIComponent(`${topic}_fanout`)}/bindings/source`);
  const controlBindings = await mgmt<MgmtBinding[]>(`/exchanges/${vh}/${encodeURIComponent(exchange)}/bindings/source`);
  return {
    controlExchange: await exchangeView(exchange),
    fanoutExchange: await exchangeView(`${topic}_fanout`),
    topicQueue: await queue(topic),
    serverQueue: await queue(`${topic}.${server}`),
    fanoutQueues: await Promise.all(fanoutBindings.map(async (b) => ({ ...(await queue(b.destination)), routing_key: norm(b.routing_key) }))),
    controlBindings: controlBindings.map((b) => [norm(b.destination), norm(b.routing_key)]).sort(),
  };
}

if (reason !== null) {
  describe(`layouts interop (${PEER_LAYOUT})`, () => {
    it.skip(`skipped: ${reason}`, () => undefined);
  });
}

const d = available ? describe : describe.skip;

d(`osloscope on the ${PEER_LAYOUT} layout with ${PYTHON} (oslo.messaging ${pythonOsloVersion() ?? '?'})`, () => {
  const transports: Transport[] = [];
  const queues: string[] = [];
  const exchanges: string[] = [];
  const transport = (rabbit: Partial<RabbitOptions>, exchange: string, programName: string) => {
    const t = new Transport(RABBIT_URL, { conf: { control_exchange: exchange }, rabbit, programName });
    transports.push(t);
    return t;
  };
  /** Every queue and exchange a topic can leave behind, including the stream and queue-manager fanout queues. */
  const forget = (exchange: string, topic: string, servers: string[]) => {
    exchanges.push(exchange, `${topic}_fanout`);
    queues.push(topic, ...servers.map((s) => `${topic}.${s}`), `${topic}_fanout`);
  };

  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close()));
    await stopAllPeers();
    const vh = vhostOf(RABBIT_URL);
    // queue-manager fanout queues are kept on close by design (oslo's Connection.close): remove ours
    const leftovers = await mgmt<{ name: string }[]>(`/queues/${vh}?columns=name`).catch(() => []);
    const prefixes = queues.filter((q) => !q.includes('.')).map((q) => `${q}_fanout_`);
    const extra = leftovers.map((q) => q.name).filter((n) => prefixes.some((p) => n.startsWith(p)));
    await deleteBrokerEntities({ queues: [...queues, ...extra], exchanges });
  });

  describe.each([
    ['with no layout options', {} as Partial<RabbitOptions>],
    [`configured like the services (${PEER_LAYOUT})`, osloscopeLayoutOptions()],
  ])('osloscope %s → Python servers', (_title, rabbit) => {
    let topic: string;
    let exchange: string;
    let py1: PythonPeer;
    let py2: PythonPeer;
    let client: RpcClient;

    beforeAll(async () => {
      topic = uniqueName('lay-py');
      exchange = uniqueName('lay-ex');
      forget(exchange, topic, ['py1', 'py2']);
      [py1, py2] = await Promise.all([
        startPeer('rpc-server', peerArgs('--topic', topic, '--server', 'py1', '--exchange', exchange)),
        startPeer('rpc-server', peerArgs('--topic', topic, '--server', 'py2', '--exchange', exchange)),
      ]);
      client = new RpcClient(transport(rabbit, exchange, 'layouts-ts-client'), { topic, version: '1.3' }, { timeout: 20 });
    });

    it('calls, targets a server, casts and fans out without a refusal', async () => {
      expect(await client.call({}, 'add', { a: 40, b: 2 })).toBe(42);
      expect(await client.prepare({ server: 'py2' }).call({}, 'echo', { value: 'to-py2' })).toBe('to-py2');
      await py2.waitFor(invoked('to-py2'), 5000);
      const cast = uniqueName('cast');
      await client.cast({}, 'echo', { value: cast });
      await eventually(() => py1.filter(invoked(cast)).length + py2.filter(invoked(cast)).length === 1, 'the cast on one server', 15_000);
      const fan = uniqueName('fan');
      await client.prepare({ fanout: true }).cast({}, 'echo', { value: fan });
      await py1.waitFor(invoked(fan), 15_000);
      await py2.waitFor(invoked(fan), 15_000);
    });
  });

  describe.each([
    ['with no layout options', {} as Partial<RabbitOptions>],
    [`configured like the services (${PEER_LAYOUT})`, osloscopeLayoutOptions()],
  ])('osloscope server %s joins a topic a Python server serves', (_title, rabbit) => {
    let topic: string;
    let exchange: string;
    let py1: PythonPeer;
    let pyc: PythonPeer;
    let server: RpcServer;
    const seen: { server: string; method: string; value: unknown }[] = [];

    beforeAll(async () => {
      topic = uniqueName('lay-join');
      exchange = uniqueName('lay-ex');
      forget(exchange, topic, ['py1', 'ts1']);
      py1 = await startPeer('rpc-server', peerArgs('--topic', topic, '--server', 'py1', '--exchange', exchange));
      server = new RpcServer(transport(rabbit, exchange, uniqueName('layouts-ts-server')), { topic, server: 'ts1' }, [recordingEndpoint('ts1', seen)]);
      await server.start(0);
      pyc = await startPeer('rpc-client', peerArgs('--exchange', exchange));
    });

    afterAll(async () => {
      await server?.stop();
    });

    it('answers a Python client of that layout, and gets its casts and fanouts', async () => {
      const r = await pyc.rpc({ op: 'call', target: { topic, server: 'ts1', version: '1.3' }, method: 'whoami', args: { value: 'hello' }, timeout: 20 });
      expect(r).toMatchObject({ ok: true, result: 'ts1' });
      const cast = uniqueName('cast');
      expect(await pyc.rpc({ op: 'cast', target: { topic, server: 'ts1', version: '1.3' }, method: 'echo', args: { value: cast } })).toMatchObject({ ok: true });
      await eventually(() => seen.some((s) => s.value === cast), 'the targeted cast', 15_000);
      const fan = uniqueName('fan');
      expect(await pyc.rpc({ op: 'cast', target: { topic, version: '1.3', fanout: true }, method: 'echo', args: { value: fan } })).toMatchObject({ ok: true });
      await eventually(() => seen.some((s) => s.value === fan), 'the fanout on osloscope', 15_000);
      await py1.waitFor(invoked(fan), 15_000);
      // calls to the topic are shared between the Python server and osloscope's
      const owners = new Set<string>();
      for (let i = 0; i < 12 && owners.size < 2; i++) {
        const v = `shared-${i}`;
        const a = await pyc.rpc({ op: 'call', target: { topic, version: '1.3' }, method: 'echo', args: { value: v }, timeout: 20 });
        expect(a).toMatchObject({ ok: true, result: v });
        owners.add(seen.some((s) => s.value === v) ? 'ts1' : 'py1');
      }
      expect(owners).toEqual(new Set(['ts1', 'py1']));
    });
  });

  describe('bin/osloscope, as an operator runs it', () => {
    let topic: string;
    let exchange: string;
    let py1: PythonPeer;
    let pyc: PythonPeer;
    let serve: ChildProcess | undefined;

    beforeAll(async () => {
      topic = uniqueName('lay-cli');
      exchange = uniqueName('lay-ex');
      forget(exchange, topic, ['py1', 'cli1']);
      py1 = await startPeer('rpc-server', peerArgs('--topic', topic, '--server', 'py1', '--exchange', exchange));
      pyc = await startPeer('rpc-client', peerArgs('--exchange', exchange));
    });

    afterAll(() => {
      serve?.kill('SIGTERM');
    });

    it('call, cast and fanout with no options reach the Python servers (exit 0)', async () => {
      const common = ['--url', RABBIT_URL, '--control-exchange', exchange, '--topic', topic];
      const call = await runCli(['call', ...common, '--method', 'add', '--args', '{"a": 2, "b": 40}', '--timeout', '20']);
      expect(call).toMatchObject({ code: 0, stdout: '42\n' });
      const cast = uniqueName('cli-cast');
      expect((await runCli(['cast', ...common, '--method', 'echo', '--args', `{"value": "${cast}"}`])).code).toBe(0);
      await py1.waitFor(invoked(cast), 15_000);
      const fan = uniqueName('cli-fan');
      expect((await runCli(['cast', ...common, '--fanout', '--method', 'echo', '--args', `{"value": "${fan}"}`])).code).toBe(0);
      await py1.waitFor(invoked(fan), 15_000);
    });

    it(`serve with the services' options in the URL joins the topic and a Python client calls it`, async () => {
      const query = new URLSearchParams(
        Object.entries(osloscopeLayoutOptions())
          .filter(([, v]) => v !== false && v !== 0)
          .map(([k, v]) => [k, String(v)]),
      ).toString();
      const url = query ? `${RABBIT_URL}${RABBIT_URL.includes('?') ? '&' : '?'}${query}` : RABBIT_URL;
      serve = spawn(BIN, ['serve', '--url', url, '--control-exchange', exchange, '--topic', topic, '--server', 'cli1'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      serve.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`osloscope serve did not become ready: ${stderr}`)), 30_000);
        serve!.once('exit', (code) => reject(new Error(`osloscope serve exited ${code}: ${stderr}`)));
        createInterface({ input: serve!.stdout! }).on('line', (line) => {
          if (line.includes('"ready"')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      const r = await pyc.rpc({ op: 'call', target: { topic, server: 'cli1', version: '1.0' }, method: 'add', args: { a: 1, b: 2 }, timeout: 20 });
      expect(r).toMatchObject({ ok: true, result: 3 });
      expect(stderr).not.toMatch(/inequivalent|PRECONDITION_FAILED/);
    });
  });

  it(`declares exactly what the Python server declares on a fresh topic (${PEER_LAYOUT})`, async () => {
    const pyTopic = uniqueName('lay-decl-py');
    const tsTopic = uniqueName('lay-decl-ts');
    const pyExchange = uniqueName('lay-ex');
    const tsExchange = uniqueName('lay-ex');
    forget(pyExchange, pyTopic, ['s1']);
    forget(tsExchange, tsTopic, ['s1']);
    const py = await startPeer('rpc-server', peerArgs('--topic', pyTopic, '--server', 's1', '--exchange', pyExchange));
    const server = new RpcServer(transport(osloscopeLayoutOptions(), tsExchange, uniqueName('layouts-ts-decl')), { topic: tsTopic, server: 's1' }, [
      recordingEndpoint('s1', []),
    ]);
    await server.start(0);
    try {
      // the management API's view lags declarations by its stats interval
      const settled = async (exchange: string, topic: string) => {
        const v = (await declared(exchange, topic, 's1')) as unknown as Declared;
        const all = [v.topicQueue, v.serverQueue, ...v.fanoutQueues];
        return v.fanoutQueues.length === 1 && all.every((q) => q.consumers.length > 0) ? v : undefined;
      };
      const mine = await eventually(() => settled(tsExchange, tsTopic), 'osloscope server in the management API', 20_000);
      const theirs = await eventually(() => settled(pyExchange, pyTopic), 'Python server in the management API', 20_000);
      expect(mine).toEqual(theirs);
      // and both are the layout's (so the comparison cannot pass on two equally wrong sides)
      const m = mine;
      expect(m.controlExchange.durable).toBe(LAYOUT.quorum || LAYOUT.durableQueues);
      expect(m.topicQueue).toMatchObject({ durable: LAYOUT.quorum || LAYOUT.durableQueues, type: LAYOUT.quorum ? 'quorum' : 'classic' });
      expect(m.fanoutExchange).toMatchObject({ type: 'fanout', durable: LAYOUT.transientQuorum, auto_delete: true });
      expect(m.fanoutQueues).toHaveLength(1);
      const [fq] = m.fanoutQueues;
      expect(fq.type).toBe(LAYOUT.streamFanout ? 'stream' : LAYOUT.transientQuorum ? 'quorum' : 'classic');
      expect(fq.name).toBe(LAYOUT.streamFanout ? '<topic>_fanout' : LAYOUT.queueManager ? '<topic>_fanout_<host>:<proc>:<n>' : '<topic>_fanout_<hex>');
      expect(fq.consumers[0]).toMatchObject({ prefetch: LAYOUT.prefetch, arguments: LAYOUT.streamFanout ? { 'x-stream-offset': 'last' } : {} });
    } finally {
      await server.stop();
      await py.stop();
    }
  });
});
