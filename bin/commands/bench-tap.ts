/**
 * Tap benchmarks (targets and results in BENCHMARKS.md): decoder messages/s on
 * one core (target ≥ 50k/s for ~1 KB oslo envelopes), the tap keeping up
 * with the broker's maximum delivery rate without drops (resident memory
 * after 1M tapped messages, target ≤ 300 MB: bench-memory.ts). Each function
 * returns numbers; the `osloscope bench --tap` command (bench.ts) prints them. They use the public
 * faces of server/messaging and server/tap only.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqplib from 'amqplib';
import type { DecodedMessage, TapEvent } from '../../lib/tap-contracts.ts';
import { encodeBody, silentLogger, Transport, type Delivery, type MessageProperties } from '../../server/messaging/index.ts';
import { decodeObservation, fromTraceDelivery, IngestPipeline, Tap, TrafficModel, type Observation } from '../../server/tap/index.ts';

const require = createRequire(import.meta.url);

export interface SampleMessage {
  exchange: string;
  routingKey: string;
  body: Buffer;
  properties: MessageProperties;
}

/** A deterministic PRNG so runs are comparable. */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

function hex(rand: () => number, n = 32): string {
  let out = '';
  while (out.length < n) out += Math.floor(rand() * 0x100000000).toString(16).padStart(8, '0');
  return out.slice(0, n);
}

/** A RequestContext.to_dict()-like context as nova/neutron send it (~20 keys, with an auth token). */
function context(rand: () => number): Record<string, unknown> {
  return {
    user: hex(rand),
    project_id: hex(rand),
    system_scope: null,
    project: hex(rand),
    domain: null,
    user_domain: 'default',
    project_domain: 'default',
    is_admin: false,
    read_only: false,
    show_deleted: false,
    auth_token: `gAAAAAB${hex(rand, 64)}`,
    request_id: `req-${hex(rand, 8)}-${hex(rand, 4)}`,
    global_request_id: null,
    resource_uuid: null,
    roles: ['reader', 'member'],
    user_identity: `${hex(rand)} ${hex(rand)} - default default`,
    is_admin_project: true,
    user_id: hex(rand),
    tenant: hex(rand),
  };
}

const TOPICS = ['compute', 'conductor', 'scheduler', 'q-plugin', 'q-agent-notifier-port-update', 'cinder-volume', 'cinder-scheduler', 'dhcp_agent', 'l3_agent', 'metering_agent'];
const METHODS = ['build_and_run_instance', 'get_instance', 'object_class_action_versions', 'select_destinations', 'report_state', 'sync_routers', 'get_active_networks_info', 'update_port', 'create_volume', 'terminate_instance'];

/**
 * `count` realistic RPC bodies (~1 KB each, v2 envelope): 50% calls, 20%
 * casts, 20% replies, 10% notifications, varied topics, servers, methods.
 */
export function sampleEnvelopes(count: number, seed = 42): SampleMessage[] {
  const rand = prng(seed);
  const out: SampleMessage[] = [];
  for (let i = 0; i < count; i++) {
    const r = rand();
    const topic = TOPICS[Math.floor(rand() * TOPICS.length)];
    const method = METHODS[Math.floor(rand() * METHODS.length)];
    const server = `node-${Math.floor(rand() * 50)}.example.org`;
    const ctx = context(rand);
    const base: MessageProperties = { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2, priority: 0, headers: {} };
    if (r < 0.5 || r >= 0.9) {
      const isNotification = r >= 0.9;
      if (isNotification) {
        const msg: Record<string, unknown> = {
          message_id: `${hex(rand, 8)}-${hex(rand, 4)}-${hex(rand, 4)}-${hex(rand, 4)}-${hex(rand, 12)}`,
          publisher_id: `compute.${server}`,
          event_type: 'compute.instance.update',
          priority: 'INFO',
          payload: { instance_id: hex(rand), state: 'active', old_state: 'building', host: server, memory_mb: 2048, vcpus: 2, image_ref: hex(rand) },
          timestamp: '2026-11-21 14:19:16.053480',
          _unique_id: hex(rand),
        };
        for (const [k, v] of Object.entries(ctx)) msg[`_context_${k}`] = v;
        out.push({ exchange: 'nova', routingKey: 'notifications.info', body: encodeBody(msg).body, properties: base });
        continue;
      }
      const msg: Record<string, unknown> = {
        method,
        args: { instance_uuid: hex(rand), host: server, request_spec: { num_instances: 1, flavor: { memory_mb: 2048, vcpus: 2, root_gb: 20 } }, admin_password: 'hunter2' },
        version: '5.1',
        _msg_id: hex(rand),
        _reply_q: `reply_${hex(rand)}`,
        _timeout: null,
        _unique_id: hex(rand),
      };
      for (const [k, v] of Object.entries(ctx)) msg[`_context_${k}`] = v;
      out.push({ exchange: 'nova', routingKey: rand() < 0.5 ? topic : `${topic}.${server}`, body: encodeBody(msg).body, properties: { ...base, expiration: '60000' } });
    } else if (r < 0.7) {
      const msg: Record<string, unknown> = { method, args: { port_id: hex(rand), status: 'ACTIVE', host: server, details: { binding: 'ovs', mtu: 1450 } }, version: '1.4', _unique_id: hex(rand) };
      for (const [k, v] of Object.entries(ctx)) msg[`_context_${k}`] = v;
      out.push({ exchange: 'neutron', routingKey: topic, body: encodeBody(msg).body, properties: base });
    } else {
      const msg = {
        result: { id: hex(rand), host: server, state: 'ACTIVE', networks: [{ id: hex(rand), cidr: '10.0.0.0/24', gateway: '10.0.0.1' }], metadata: { a: 1, b: [1, 2, 3] }, description: 'x'.repeat(200) },
        failure: null,
        ending: true,
        _msg_id: hex(rand),
        _unique_id: hex(rand),
      };
      out.push({ exchange: '', routingKey: `reply_${hex(rand)}`, body: encodeBody(msg).body, properties: base });
    }
  }
  return out;
}

/** Basic properties as RabbitMQ's trace `properties` table (snake_case, reverse-of-spec order; see the memory broker's firehose.ts). */
function traceTable(p: MessageProperties): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (p.expiration !== undefined) out.expiration = p.expiration;
  if (p.priority !== undefined) out.priority = p.priority;
  if (p.deliveryMode !== undefined) out.delivery_mode = p.deliveryMode;
  out.headers = p.headers ?? {};
  if (p.contentEncoding !== undefined) out.content_encoding = p.contentEncoding;
  if (p.contentType !== undefined) out.content_type = p.contentType;
  return out;
}

/**
 * The firehose copies of `samples` as the tap's trace queue receives them
 * from RabbitMQ 3.10: for each message a `publish.<exchange>` trace (with
 * `routed_queues`) and a `deliver.<queue>` trace (with the consumer's
 * connection), the original body unchanged and the publisher's properties in
 * the `properties` header table.
 */
export function sampleTraceDeliveries(samples: SampleMessage[]): Delivery[] {
  const out: Delivery[] = [];
  let tag = 0;
  for (const [i, s] of samples.entries()) {
    // oslo's queues are named like the routing keys that reach them (topic, topic.server, notifications.info, reply_…)
    const queue = s.routingKey;
    const common = {
      exchange_name: s.exchange,
      routing_keys: [s.routingKey],
      properties: traceTable(s.properties),
      node: 'rabbit@controller-1',
    };
    const publisher = { connection: `10.0.0.${(i % 200) + 1}:${40000 + (i % 20000)} -> 10.0.0.254:5672`, channel: 1, user: 'openstack' };
    const consumer = { connection: `10.0.1.${(i % 100) + 1}:${50000 + (i % 10000)} -> 10.0.0.254:5672`, channel: 1, user: 'openstack' };
    out.push({
      body: s.body,
      exchange: 'amq.rabbitmq.trace',
      routingKey: `publish.${s.exchange}`,
      redelivered: false,
      deliveryTag: ++tag,
      consumerTag: 'tap',
      properties: { headers: { ...common, vhost: '/', ...publisher, routed_queues: [queue] } },
    });
    out.push({
      body: s.body,
      exchange: 'amq.rabbitmq.trace',
      routingKey: `deliver.${queue}`,
      redelivered: false,
      deliveryTag: ++tag,
      consumerTag: 'tap',
      properties: { headers: { ...common, redelivered: 0, vhost: '/', ...consumer } },
    });
  }
  return out;
}

export interface DecoderBenchResult {
  messages: number;
  /** wall clock */
  seconds: number;
  perSecond: number;
  /** CPU time of this process: on a busy machine, messages per second of one core actually used */
  cpuSeconds: number;
  perCpuSecond: number;
  avgBytes: number;
  /** true: firehose trace deliveries (trace headers parsed too), false: messages as published */
  trace: boolean;
}

/**
 * Decoder throughput on this thread (one core): decode + classify + redact,
 * no I/O. With `trace`, the input is firehose trace deliveries (a publish and
 * a deliver trace per message) read back with fromTraceDelivery first, as
 * the tap does in firehose mode.
 */
export function benchDecoder(options: { messages?: number; distinct?: number; trace?: boolean } = {}): DecoderBenchResult {
  if (options.trace) return benchTraceDecoder(options);
  const total = options.messages ?? 200_000;
  const samples = sampleEnvelopes(options.distinct ?? 2000);
  const avgBytes = samples.reduce((n, s) => n + s.body.length, 0) / samples.length;
  const obs: Observation = { id: '0', ts: 0, body: samples[0].body, exchange: '', routingKey: '', properties: {}, trace: null };
  // warm up the JIT
  for (let i = 0; i < Math.min(20_000, total); i++) {
    const s = samples[i % samples.length];
    decodeObservation({ ...obs, body: s.body, exchange: s.exchange, routingKey: s.routingKey, properties: s.properties });
  }
  let sink = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < total; i++) {
    const s = samples[i % samples.length];
    const m = decodeObservation({ id: String(i), ts: i, body: s.body, exchange: s.exchange, routingKey: s.routingKey, properties: s.properties, trace: null });
    if (m.kind !== 'unknown') sink++;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  if (sink !== total) throw new Error(`decoder benchmark: ${total - sink} sample messages did not decode`);
  return { messages: total, seconds, perSecond: total / seconds, cpuSeconds, perCpuSecond: total / cpuSeconds, avgBytes, trace: false };
}

function benchTraceDecoder(options: { messages?: number; distinct?: number }): DecoderBenchResult {
  const total = options.messages ?? 200_000;
  const deliveries = sampleTraceDeliveries(sampleEnvelopes(Math.ceil((options.distinct ?? 2000) / 2)));
  const avgBytes = deliveries.reduce((n, d) => n + d.body.length, 0) / deliveries.length;
  const one = (i: number): DecodedMessage | null => {
    const o = fromTraceDelivery(deliveries[i % deliveries.length]);
    if (o === null) return null;
    // stamped in place, as the tap's ingest does
    o.id = String(i);
    o.ts = i;
    return decodeObservation(o);
  };
  for (let i = 0; i < Math.min(20_000, total); i++) one(i);
  let sink = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < total; i++) {
    const m = one(i);
    if (m && m.kind !== 'unknown' && m.trace !== null) sink++;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  if (sink !== total) throw new Error(`decoder benchmark: ${total - sink} trace messages did not decode`);
  return { messages: total, seconds, perSecond: total / seconds, cpuSeconds, perCpuSecond: total / cpuSeconds, avgBytes, trace: true };
}

export interface ThroughputBenchResult {
  published: number;
  received: number;
  /** published − received: what the tap missed (0 = kept up) */
  missed: number;
  publishSeconds: number;
  /** publish start → last message decoded */
  tapSeconds: number;
  publishPerSecond: number;
  tapPerSecond: number;
  decoded: number;
}

/**
 * A publisher child process (plain CommonJS on amqplib): publishing from the
 * tap's own process would share its event loop and hide the broker's real
 * maximum. Reads base64 bodies from a file, publishes `count` of them round
 * robin without confirms, honouring amqplib's backpressure ('drain').
 */
const PUBLISHER_SCRIPT = `
const amqplib = require(process.env.AMQPLIB);
const bodies = JSON.parse(require('fs').readFileSync(process.env.BODIES, 'utf8')).map((b) => ({ rk: b.rk, body: Buffer.from(b.body, 'base64'), expiration: b.expiration }));
(async () => {
  const c = await amqplib.connect(process.env.AMQP_URL);
  const ch = await c.createChannel();
  const n = Number(process.env.COUNT);
  for (let i = 0; i < n; i++) {
    const b = bodies[i % bodies.length];
    const opts = { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2, priority: 0, headers: {} };
    if (b.expiration) opts.expiration = b.expiration;
    if (!ch.publish(process.env.EXCHANGE, b.rk, b.body, opts)) await new Promise((r) => ch.once('drain', r));
  }
  await ch.checkExchange(process.env.EXCHANGE);
  await c.close();
})().catch((e) => { console.error(e.message); process.exit(1); });
`;

/**
 * Publish `messages` ~1.3 KB oslo bodies as fast as the broker takes them
 * (`publishers` separate processes, no confirms) into a fresh topic
 * exchange tapped in bindings mode, and count what the tap decoded. The
 * tap's queue is capped (x-max-length, drop-head): had the tap not kept up,
 * the broker would have dropped messages and `missed` would be > 0.
 */
export async function benchTapThroughput(
  options: { url?: string; amqpUrl?: string; messages?: number; publishers?: number; queueMaxLength?: number; settleMs?: number } = {},
): Promise<ThroughputBenchResult> {
  const url = options.url ?? 'rabbit://guest:guest@127.0.0.1:5672/';
  const amqpUrl = options.amqpUrl ?? url.replace(/^rabbit:/, 'amqp:');
  const total = options.messages ?? 200_000;
  const publishers = options.publishers ?? 2;
  const exchange = `osloscope-bench-${randomBytes(4).toString('hex')}`;
  const samples = sampleEnvelopes(1000, 3).filter((s) => s.exchange !== '');
  const dir = mkdtempSync(join(tmpdir(), 'osloscope-bench-'));
  const bodiesFile = join(dir, 'bodies.json');
  writeFileSync(bodiesFile, JSON.stringify(samples.map((s) => ({ rk: s.routingKey, body: s.body.toString('base64'), expiration: s.properties.expiration }))));

  const setup = await amqplib.connect(amqpUrl);
  const setupCh = await setup.createChannel();
  await setupCh.assertExchange(exchange, 'topic', { durable: false, autoDelete: false });

  const transport = new Transport(url, { programName: 'osloscope-bench' });
  const tap = new Tap({
    transport,
    mode: 'bindings',
    exchanges: [exchange],
    discoverExchanges: false,
    managementUrl: null,
    queueMaxLength: options.queueMaxLength ?? 100_000,
    connectRetry: 0,
    intervals: { discoveryMs: 3_600_000, modeCheckMs: 3_600_000 },
  });
  let lastAt = 0;
  tap.on((e) => {
    if (e.type === 'tap:message') lastAt = Date.now();
  });
  try {
    await tap.start();
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: publishers }, (_, p) => {
        const share = Math.floor(total / publishers) + (p < total % publishers ? 1 : 0);
        return new Promise<void>((resolve, reject) => {
          const child = spawn(process.execPath, ['-e', PUBLISHER_SCRIPT], {
            env: { ...process.env, AMQPLIB: require.resolve('amqplib'), BODIES: bodiesFile, AMQP_URL: amqpUrl, EXCHANGE: exchange, COUNT: String(share) },
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          let err = '';
          child.stderr.on('data', (d: Buffer) => (err += d.toString()));
          child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`publisher exited ${code}: ${err.trim()}`))));
        });
      }),
    );
    const publishSeconds = (Date.now() - t0) / 1000;
    const settle = options.settleMs ?? 5000;
    let last = -1;
    let stableSince = Date.now();
    for (;;) {
      const got = tap.status().counters.received;
      if (got >= total) break;
      if (got !== last) {
        last = got;
        stableSince = Date.now();
      } else if (Date.now() - stableSince > settle) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const c = tap.status().counters;
    const tapSeconds = (Math.max(lastAt, t0) - t0) / 1000;
    return {
      published: total,
      received: c.received,
      missed: total - c.received,
      publishSeconds,
      tapSeconds,
      publishPerSecond: total / publishSeconds,
      tapPerSecond: c.received / Math.max(tapSeconds, 1e-9),
      decoded: c.decoded,
    };
  } finally {
    await tap.stop().catch(() => undefined);
    await transport.close().catch(() => undefined);
    await setupCh.deleteExchange(exchange).catch(() => undefined);
    await setup.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `count` RPC calls as RabbitMQ 3.10's firehose shows them: per call a
 * request (v2 envelope, context with an auth token, ~1 KB) and its reply
 * (same `_msg_id`, to the caller's `_reply_q`), each as a `publish.` and a
 * `deliver.` trace: four trace deliveries per call, in the broker's order.
 */
export function sampleCallTraces(count: number, seed = 7): Delivery[] {
  const rand = prng(seed);
  const samples: SampleMessage[] = [];
  const base: MessageProperties = { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2, priority: 0, headers: {} };
  for (let i = 0; i < count; i++) {
    const topic = TOPICS[Math.floor(rand() * TOPICS.length)];
    const method = METHODS[Math.floor(rand() * METHODS.length)];
    const server = `node-${Math.floor(rand() * 50)}.example.org`;
    const msgId = hex(rand);
    const replyQ = `reply_${hex(rand)}`;
    const req: Record<string, unknown> = {
      method,
      args: { instance_uuid: hex(rand), host: server, request_spec: { num_instances: 1, flavor: { memory_mb: 2048, vcpus: 2, root_gb: 20 } } },
      version: '5.1',
      _msg_id: msgId,
      _reply_q: replyQ,
      _timeout: null,
      _unique_id: hex(rand),
    };
    for (const [k, v] of Object.entries(context(rand))) req[`_context_${k}`] = v;
    samples.push({ exchange: 'nova', routingKey: rand() < 0.5 ? topic : `${topic}.${server}`, body: encodeBody(req).body, properties: { ...base, expiration: '60000' } });
    const rep = { result: { id: hex(rand), host: server, state: 'ACTIVE' }, failure: null, ending: true, _msg_id: msgId, _unique_id: hex(rand) };
    samples.push({ exchange: '', routingKey: replyQ, body: encodeBody(rep).body, properties: base });
  }
  // amqplib hands each delivery its own body buffer: the publish and the deliver trace never share one
  return sampleTraceDeliveries(samples).map((d) => ({ ...d, body: Buffer.from(d.body) }));
}

export interface PipelineBenchResult {
  traceMessages: number;
  calls: number;
  cpuSeconds: number;
  /** CPU µs per trace message through the whole ingest (trace headers → decode → model, calls, rates → event) */
  cpuUsPerTraceMessage: number;
  callsTracked: number;
}

/**
 * The tap's firehose ingest on this thread, without the broker: trace
 * deliveries (as amqplib hands them over) through the IngestPipeline into a
 * TrafficModel, with one event listener, as in `bench --firehose`. The
 * clock advances 1 ms per call so rates and call latencies move. A warm-up
 * pass over the first calls, then every call once in a fresh model.
 */
export function benchTapPipeline(options: { calls?: number } = {}): PipelineBenchResult {
  const calls = options.calls ?? 20_000;
  // every call distinct, as in real traffic (a repeated _msg_id is a retried send to the call tracker)
  const deliveries = sampleCallTraces(calls);
  const run = (n: number, withEvents: (e: TapEvent) => void) => {
    const model = new TrafficModel();
    let now = 1_700_000_000_000;
    const pipeline = new IngestPipeline({
      model,
      tapQueuePrefix: 'osloscope-tap-',
      maxMessageBytes: 16 * 1024 * 1024,
      clock: () => now,
      log: silentLogger,
      nameConnection: () => null,
      probeTraced: () => undefined,
      traceArrived: () => true,
      noticeTopic: () => undefined,
      emit: withEvents,
      listening: () => true,
      stopped: () => false,
    });
    const total = n * 4;
    for (let i = 0; i < total; i++) {
      if ((i & 3) === 0) now++;
      pipeline.onTrace(deliveries[i % deliveries.length]);
    }
    return model;
  };
  let sink = 0;
  const listener = (e: TapEvent) => {
    if (e.type === 'tap:message') sink++;
  };
  run(Math.min(5_000, calls), listener);
  // start from a collected heap when the process allows it (node --expose-gc)
  (globalThis as { gc?: () => void }).gc?.();
  const cpu0 = process.cpuUsage();
  const model = run(calls, listener);
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  if (sink === 0) throw new Error('pipeline benchmark: no events');
  return {
    traceMessages: calls * 4,
    calls,
    cpuSeconds,
    cpuUsPerTraceMessage: (cpuSeconds * 1e6) / (calls * 4),
    callsTracked: model.calls.size,
  };
}
