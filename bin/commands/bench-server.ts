/**
 * The server half of `osloscope bench`, run as its own process so client and
 * server use separate cores, as the Python pair does.
 *   osloscope mode: an RpcServer with ping(n) → n on <topic>.
 *   raw mode: a minimal amqplib request/reply server on queue <topic>:
 *     ack on receipt, reply to `replyTo` with the same `correlationId`.
 *   raw-confirms mode: the same on a confirm channel (replies confirmed by
 *     the broker, as oslo's protocol requires).
 *   oslo-floor mode: the amqplib+oslo server (bench-oslo-floor.ts), oslo's
 *     frames with no more code than they need.
 *   osloscope-client mode (`osloscope-client <url> <topic> <calls> <concurrency>`):
 *     an RpcClient calling ping(n, t) with t the wall-clock send time in ms,
 *     printing {"calls","seconds","callsPerSec"} and exiting; the firehose
 *     benchmark runs it beside the tap so the tap's process does nothing else.
 * Prints {"event":"ready"} on stdout, stops on SIGTERM or stdin EOF.
 */
import amqplib from 'amqplib';
import { RpcClient, RpcServer, Transport, TransportURL } from '../../server/messaging/index.ts';
import { floorConnect, floorServer } from './bench-oslo-floor.ts';

const [mode, url, topic] = process.argv.slice(2);

/** Wall-clock ms with sub-millisecond resolution, comparable across processes of one machine. */
const wallMs = (): number => performance.timeOrigin + performance.now();

async function osloscopeClient(calls: number, concurrency: number): Promise<void> {
  const transport = new Transport(url, { programName: 'osloscope-bench-client' });
  try {
    const client = new RpcClient(transport, { topic }, { timeout: 60 });
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (;;) {
          const n = next++;
          if (n >= calls) return;
          if ((await client.call({}, 'ping', { n, t: wallMs() })) !== n) throw new Error('wrong ping reply');
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`${JSON.stringify({ calls, seconds, callsPerSec: calls / seconds })}\n`);
  } finally {
    await transport.close();
  }
}

if (mode === 'osloscope-client') {
  await osloscopeClient(Number(process.argv[5]), Number(process.argv[6]));
  process.exit(0);
}

async function osloscope(): Promise<() => Promise<void>> {
  const transport = new Transport(url, { programName: 'osloscope-bench-server' });
  const server = new RpcServer(transport, { topic, server: 'bench' }, [{ ping: (_c: unknown, args: Record<string, unknown>) => args.n }], { fanout: false });
  await server.start(0);
  return async () => {
    await server.stop();
    await transport.close();
    // oslo's topic queues outlive their consumers (not auto-delete, as in oslo): the bench's throw-away topic removes its own
    const conn = await floorConnect(url);
    try {
      const ch = await conn.createChannel();
      for (const q of [topic, `${topic}.bench`]) await ch.deleteQueue(q);
    } finally {
      await conn.close();
    }
  };
}

async function raw(confirms: boolean): Promise<() => Promise<void>> {
  const e = TransportURL.parse(url).amqpEndpoints()[0];
  const conn = await amqplib.connect({ hostname: e.hostname, port: e.port, username: e.username, password: e.password, vhost: e.vhost }, { noDelay: true });
  const ch = confirms ? await conn.createConfirmChannel() : await conn.createChannel();
  await ch.assertQueue(topic, { durable: false, autoDelete: true });
  await ch.consume(topic, (m) => {
    if (!m) return;
    ch.ack(m);
    const n = JSON.parse(m.content.toString()).n as number;
    ch.sendToQueue(m.properties.replyTo as string, Buffer.from(JSON.stringify({ result: n })), { correlationId: m.properties.correlationId as string });
  });
  return async () => {
    await conn.close();
  };
}

const stop = await (mode === 'raw' ? raw(false) : mode === 'raw-confirms' ? raw(true) : mode === 'oslo-floor' ? floorServer(url, topic) : osloscope());
process.stdout.write('{"event":"ready"}\n');
let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  stop().finally(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.stdin.on('end', shutdown);
process.stdin.resume();
