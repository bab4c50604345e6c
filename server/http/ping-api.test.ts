/**
 * POST /api/ping end to end in one process: the composition root on the
 * memory transport, real RpcServers (two answering oslo_rpc_server_ping, one
 * without rpc_ping_enabled), servers found from the broker's queues.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBroker, RpcServer, Transport } from '../messaging/index.ts';
import { loadConfig } from '../config.ts';
import { startOsloscope, type RunningServer } from '../index.ts';
import { fleetPingSchema, type FleetPing } from '../../lib/ping-contracts.ts';
import { tempHistoryDatabase } from '../store/test-db.ts';

const silent = pino({ level: 'silent' });
const TOPIC = 'ping-api';

async function service(server: string, pingEnabled: boolean): Promise<{ stop(): Promise<void> }> {
  const t = new Transport('memory://', { memoryBroker: MemoryBroker.shared('/'), conf: { control_exchange: 'openstack' }, programName: `svc-${server}` });
  const s = new RpcServer(t, { topic: TOPIC, server }, [{ echo: (_c: unknown, a: Record<string, unknown>) => a.value }], { pingEnabled });
  await s.start(0);
  return {
    async stop() {
      await s.stop();
      await t.close();
    },
  };
}

describe('POST /api/ping', () => {
  let srv: RunningServer;
  const services: Record<string, { stop(): Promise<void> }> = {};
  const ping = async (body: unknown) => {
    const res = await fetch(`${srv.url}/api/ping`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { ok: boolean; data?: FleetPing; error?: { code: string; message: string } } };
  };

  beforeAll(async () => {
    srv = await startOsloscope(loadConfig({ PORT: '0', DEMO_FLEET: 'off', AUDIT_LOG: '', RPC_RESPONSE_TIMEOUT: '5', HISTORY_DATABASE: tempHistoryDatabase() }), { withoutPages: true, log: silent });
    services.a = await service('host-a', true);
    services.b = await service('host-b', true);
    services.c = await service('host-noping', false);
  });
  afterAll(async () => {
    for (const s of Object.values(services)) await s.stop().catch(() => undefined);
    await srv?.close();
  });

  it('pings every server of the topic found on the broker', async () => {
    const { status, body } = await ping({ topic: TOPIC, timeout: 5 });
    expect(status).toBe(200);
    const data = fleetPingSchema.parse(body.data);
    expect(data.servers.map((s) => [s.server, s.status, s.answered])).toEqual([
      ['host-a', 'pong', true],
      ['host-b', 'pong', true],
      ['host-noping', 'error', true],
    ]);
    expect(data.servers[0].sources).toContain('queue');
    expect(data.servers[2].message).toMatch(/rpc_ping_enabled/);
    expect(data).toMatchObject({ answered: 3, missing: 0, discovery: { queueSource: 'memory' } });
  });

  it('names a server that stopped as not answering', async () => {
    await services.b.stop();
    const { body } = await ping({ topic: TOPIC, timeout: 0.5 });
    const b = body.data?.servers.find((s) => s.server === 'host-b');
    expect(b).toBeDefined();
    expect(b?.answered).toBe(false);
    expect(['timeout', 'no_queue']).toContain(b?.status);
    expect(body.data?.missing).toBe(1);
  });

  it('pings only the servers asked for, an unknown one included', async () => {
    const { body } = await ping({ topic: TOPIC, servers: ['host-a', 'ghost'], timeout: 0.5 });
    expect(body.data?.servers.map((s) => [s.server, s.answered])).toEqual([
      ['ghost', false],
      ['host-a', true],
    ]);
  });

  it('refuses a request without a topic or with a timeout out of bounds', async () => {
    const none = await ping({ timeout: 1 });
    expect(none.status).toBe(400);
    expect(none.body.error?.code).toBe('validation_failed');
    const long = await ping({ topic: TOPIC, timeout: 1000 });
    expect(long.status).toBe(400);
    expect(long.body.error?.message).toMatch(/at most 120/);
  });
});
