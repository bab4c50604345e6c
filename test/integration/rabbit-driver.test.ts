/**
 * rabbit driver facts that only the real broker can show: failover across
 * the hosts of a transport URL, the connection name and heartbeat the broker
 * sees, oslo's exact queue flags and arguments, and the fanout queue removed
 * on a clean stop.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { RpcClient, RpcServer, Transport } from '../../server/messaging/index.ts';
import { eventually, FAST_RETRY, MANAGEMENT_URL, mgmtJson, TEST_TRANSPORT_URL, uniqueName } from '../support/brokers.ts';

/** The broker under test (TEST_TRANSPORT_URL, so every stack of the matrix runs this) with one more option. */
const withQuery = (url: string, query: string): string => `${url}${url.includes('?') ? '&' : '?'}${query}`;

const mgmt = mgmtJson;

interface MgmtQueue {
  name: string;
  durable: boolean;
  auto_delete: boolean;
  exclusive: boolean;
  arguments: Record<string, unknown>;
}

describe('rabbit driver on the real broker', () => {
  const transports: Transport[] = [];
  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close()));
  });

  it('fails over to the next host of the URL when one is down', async () => {
    // 127.0.0.1:1 refuses connections; whichever order the hosts are shuffled into, calls must work.
    const exchange = uniqueName('failover');
    const live = new URL(TEST_TRANSPORT_URL.replace(/^rabbit:/, 'http:'));
    const hostPort = `${live.hostname}:${live.port || 5672}`;
    const t = new Transport(`rabbit://guest:guest@127.0.0.1:1,${live.username}:${live.password}@${hostPort}${live.pathname}`, { conf: { control_exchange: exchange }, retryPolicy: FAST_RETRY });
    transports.push(t);
    const topic = uniqueName('failover');
    const server = new RpcServer(t, { topic, server: 'a' }, [{ ping: () => 'pong' }]);
    await server.start(3);
    try {
      expect(await new RpcClient(t, { topic }, { timeout: 5, retry: 3 }).call({}, 'ping')).toBe('pong');
      for (const l of t.status().links) if (l.state === 'connected') expect(l.endpoint).toBe(hostPort);
    } finally {
      await server.stop();
    }
  });

  it('declares oslo topology, names its connections <prog>:<pid>:<uuid> with heartbeat 60 and frame_max 131072, and deletes the fanout queue on stop', async () => {
    const exchange = uniqueName('topo');
    const t = new Transport(withQuery(TEST_TRANSPORT_URL, 'rabbit_transient_queues_ttl=600'), { conf: { control_exchange: exchange }, programName: 'topo-test' });
    transports.push(t);
    const topic = uniqueName('topo');
    const server = new RpcServer(t, { topic, server: 'h1' }, [{ ping: () => 'pong' }]);
    await server.start(0);
    const fanoutQueue = server.queues[2];
    expect(fanoutQueue).toMatch(new RegExp(`^${topic}_fanout_[0-9a-f]{32}$`));
    const queues = await eventually(async () => {
      const all = await mgmt<MgmtQueue[]>('/queues/%2F?columns=name,durable,auto_delete,exclusive,arguments');
      const mine = all.filter((q) => q.name.startsWith(topic));
      return mine.length === 3 ? mine : undefined;
    }, 'the three server queues');
    const byName = new Map(queues.map((q) => [q.name, q]));
    for (const name of [topic, `${topic}.h1`]) {
      expect(byName.get(name)).toMatchObject({ durable: false, auto_delete: false, exclusive: false, arguments: {} });
    }
    expect(byName.get(fanoutQueue)).toMatchObject({ durable: false, auto_delete: false, exclusive: false, arguments: { 'x-expires': 600_000 } });
    const exchanges = await mgmt<{ name: string; type: string; durable: boolean; auto_delete: boolean }[]>('/exchanges/%2F?columns=name,type,durable,auto_delete');
    expect(exchanges.find((e) => e.name === exchange)).toMatchObject({ type: 'topic', durable: false, auto_delete: false });
    expect(exchanges.find((e) => e.name === `${topic}_fanout`)).toMatchObject({ type: 'fanout', durable: false, auto_delete: true });

    const names = new Set(t.status().links.map((l) => l.name));
    const conns = await eventually(async () => {
      const all = await mgmt<{ client_properties: { connection_name?: string }; timeout: number; frame_max: number }[]>('/connections?columns=client_properties,timeout,frame_max');
      const mine = all.filter((c) => names.has(c.client_properties.connection_name ?? ''));
      return mine.length > 0 ? mine : undefined;
    }, 'the server connection in the management API', 15_000);
    for (const c of conns) {
      expect(c.client_properties.connection_name).toMatch(new RegExp(`^topo-test:${process.pid}:[0-9a-f-]{36}$`));
      expect(c.timeout).toBe(60);
      // RabbitMQ 4.1+ refuses clients offering less than 8192; we ask for its own default
      expect(c.frame_max).toBe(131_072);
    }

    await server.stop();
    await eventually(async () => {
      const all = await mgmt<MgmtQueue[]>('/queues/%2F?columns=name');
      return !all.some((q) => q.name === fanoutQueue);
    }, 'the fanout queue deleted on a clean stop');
  });

  it('makes quorum topic queues and a durable control exchange with rabbit_quorum_queue', async () => {
    const exchange = uniqueName('quorum');
    const t = new Transport(withQuery(TEST_TRANSPORT_URL, 'rabbit_quorum_queue=true'), { conf: { control_exchange: exchange } });
    transports.push(t);
    const topic = uniqueName('quorum');
    const server = new RpcServer(t, { topic, server: 'q1' }, [{ ping: () => 'pong' }]);
    await server.start(0);
    try {
      expect(await new RpcClient(t, { topic }, { timeout: 5 }).call({}, 'ping')).toBe('pong');
      const q = await mgmt<MgmtQueue & { type: string }>(`/queues/%2F/${encodeURIComponent(topic)}`);
      expect(q).toMatchObject({ durable: true, arguments: { 'x-queue-type': 'quorum' } });
      const fanout = await mgmt<MgmtQueue>(`/queues/%2F/${encodeURIComponent(server.queues[2])}`);
      expect(fanout).toMatchObject({ durable: false, arguments: { 'x-expires': 1_800_000 } });
      const ex = await mgmt<{ durable: boolean }>(`/exchanges/%2F/${encodeURIComponent(exchange)}`);
      expect(ex.durable).toBe(true);
    } finally {
      await server.stop();
      // quorum queues are durable: remove them so the shared broker stays clean
      const url = new URL(MANAGEMENT_URL);
      const auth = Buffer.from(`${url.username}:${url.password}`).toString('base64');
      for (const name of [topic, `${topic}.q1`]) {
        await fetch(`${url.protocol}//${url.host}/api/queues/%2F/${encodeURIComponent(name)}`, { method: 'DELETE', headers: { authorization: `Basic ${auth}` } });
      }
      await fetch(`${url.protocol}//${url.host}/api/exchanges/%2F/${encodeURIComponent(exchange)}`, { method: 'DELETE', headers: { authorization: `Basic ${auth}` } });
    }
  });
});
