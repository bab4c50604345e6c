/**
 * The server half of `osloscope bench`, run as its own process so client and
 * server use separate cores, as the Python pair does.
 *   osloscope mode: an RpcServer with ping(n) → n on <topic>.
 *   raw mode: a minimal amqplib request/reply server on queue <topic>:
 *     ack on receipt, reply to `replyTo` with the same `correlationId`.
 *   raw-confirms mode: the same on a confirm channel (replies confirmed by
 *     the broker, as oslo's protocol requires).
 * Prints {"event":"ready"} on stdout, stops on SIGTERM or stdin EOF.
 */
import amqplib from 'amqplib';
import { RpcServer, Transport, TransportURL } from '../../server/messaging/index.ts';

const [mode, url, topic] = process.argv.slice(2);

async function osloscope(): Promise<() => Promise<void>> {
  const transport = new Transport(url, { programName: 'osloscope-bench-server' });
  const server = new RpcServer(transport, { topic, server: 'bench' }, [{ ping: (_c: unknown, args: Record<string, unknown>) => args.n }], { fanout: false });
  await server.start(0);
  return async () => {
    await server.stop();
    await transport.close();
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

const stop = await (mode === 'raw' ? raw(false) : mode === 'raw-confirms' ? raw(true) : osloscope());
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
