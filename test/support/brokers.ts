/**
 * What the contract battery needs from a broker, for both drivers: fresh
 * transports that are cleaned up, and a way to kill a transport's
 * connections (a broker-side CONNECTION_FORCED, as on a broker restart).
 */
import { randomBytes } from 'node:crypto';
import { MemoryBroker, Transport, type TransportOptions } from '../../server/messaging/index.ts';

export const TEST_TRANSPORT_URL = process.env.TEST_TRANSPORT_URL ?? 'rabbit://guest:guest@127.0.0.1:5672/';
export const MANAGEMENT_URL = process.env.TEST_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';

/** Fast reconnects for tests (oslo's 1 s / +2 s / 30 s would make them slow). */
export const FAST_RETRY = { intervalStartMs: 50, intervalStepMs: 100, intervalMaxMs: 500, reconnectDelayMs: 0 };

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export interface BrokerHarness {
  readonly name: 'memory' | 'rabbit';
  transport(options?: TransportOptions & { url?: string }): Transport;
  /** Kill every connection of transports created by this harness whose program name matches. */
  killConnections(transport: Transport): Promise<number>;
  cleanup(): Promise<void>;
}

export function memoryHarness(): BrokerHarness {
  const broker = new MemoryBroker();
  const transports: Transport[] = [];
  return {
    name: 'memory',
    transport(options = {}) {
      const t = new Transport(options.url ?? 'memory://', { retryPolicy: FAST_RETRY, ...options, memoryBroker: broker, programName: options.programName ?? uniqueName('contract') });
      transports.push(t);
      return t;
    },
    async killConnections(transport) {
      const names = new Set(transport.status().links.map((l) => l.name));
      return broker.disconnectAll((name: string) => names.has(name));
    },
    async cleanup() {
      await Promise.all(transports.map((t) => t.close()));
    },
  };
}

interface MgmtConnection {
  name: string;
  client_properties?: { connection_name?: string };
}

async function mgmt(path: string, init: RequestInit = {}): Promise<Response> {
  const url = new URL(MANAGEMENT_URL);
  const auth = Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64');
  return fetch(`${url.protocol}//${url.host}/api${path}`, { ...init, headers: { authorization: `Basic ${auth}`, ...(init.headers ?? {}) } });
}

/** GET a management API path as JSON (TEST_MANAGEMENT_URL's broker and credentials). */
export async function mgmtJson<T>(path: string): Promise<T> {
  const res = await mgmt(path);
  if (!res.ok) throw new Error(`GET /api${path}: ${res.status}`);
  return (await res.json()) as T;
}

/** Close connections through the management API, waiting until the stats DB lists them. */
export async function killRabbitConnections(names: Set<string>, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await mgmt('/connections?columns=name,client_properties');
    const list = (await res.json()) as MgmtConnection[];
    const hits = list.filter((c) => names.has(c.client_properties?.connection_name ?? ''));
    if (hits.length >= names.size || Date.now() > deadline) {
      for (const c of hits) {
        await mgmt(`/connections/${encodeURIComponent(c.name)}`, { method: 'DELETE', headers: { 'X-Reason': 'osloscope test' } });
      }
      return hits.length;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function rabbitHarness(): BrokerHarness {
  const transports: Transport[] = [];
  return {
    name: 'rabbit',
    transport(options = {}) {
      const t = new Transport(options.url ?? TEST_TRANSPORT_URL, { retryPolicy: FAST_RETRY, ...options, programName: options.programName ?? uniqueName('contract') });
      transports.push(t);
      return t;
    },
    async killConnections(transport) {
      const names = new Set(transport.status().links.filter((l) => l.state === 'connected').map((l) => l.name));
      return killRabbitConnections(names);
    },
    async cleanup() {
      await Promise.all(transports.map((t) => t.close()));
    },
  };
}

export { eventually } from '../../lib/eventually.ts';
