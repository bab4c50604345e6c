/**
 * Helpers for the tap's integration and interop tests: a throw-away RabbitMQ
 * virtual host (tracing is per vhost and must never be turned on for `/`,
 * where other suites run in parallel), management-API shortcuts, and a
 * polling wait. Test code only; nothing in the tap imports this.
 */
import { randomBytes } from 'node:crypto';
import { ManagementInspector } from './inspector.ts';
import { eventually } from '../../lib/eventually.ts';
import type { DecodedMessage } from '../../lib/tap-contracts.ts';

export const TEST_MANAGEMENT_URL = process.env.TEST_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';
export const TEST_AMQP_HOST = process.env.TEST_AMQP_HOST ?? 'guest:guest@127.0.0.1:5672';
/**
 * Every node's management listener on a cluster (scripts/stacks `env sid-cluster`). Tracing is per node:
 * a vhost traced through one node's API is traced on that node only, and the tap's auto mode rightly
 * refuses a firehose that sees a third of the traffic.
 */
const CLUSTER_MANAGEMENT_URLS = (process.env.TEST_CLUSTER_MANAGEMENT_URLS ?? '').split(',').filter(Boolean);

export interface TestVhost {
  name: string;
  /** oslo transport URL for this vhost (Python peers and osloscope) */
  url: string;
  /** amqplib URL */
  amqpUrl: string;
  mgmt: ManagementInspector;
  setTracing(on: boolean): Promise<void>;
  /** Broker-side kill of every connection whose client connection_name is in `names`. */
  killConnections(names: Iterable<string>, timeoutMs?: number): Promise<number>;
  deleteQueue(name: string): Promise<void>;
  queue(name: string): Promise<{ messages: number; consumers: number } | null>;
  remove(): Promise<void>;
}

export function randomName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/**
 * True when the management API answers with the test credentials. Patient: on a loaded machine (load
 * average 30) one read can take seconds, and a file that skipped or failed on a 2 s answer hid what it
 * tests. A refused or misconfigured API answers at once and is asked three times; a slow one up to ~30 s.
 * Under CI the API is part of the test environment (scripts/ensure-test-env.ts), so its absence throws
 * instead of skipping the caller's tests.
 */
export async function managementAvailable(url = TEST_MANAGEMENT_URL): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  let lastError: unknown;
  for (let attempt = 1; ; attempt++) {
    const t0 = Date.now();
    try {
      await new ManagementInspector({ url, vhost: '/', timeoutMs: 10_000 }).check();
      return true;
    } catch (err) {
      lastError = err;
      // a quick refusal three times is an answer; a slow one is a loaded machine, asked until the deadline
      const slow = Date.now() - t0 > 1000;
      if (Date.now() >= deadline || (attempt >= 3 && !slow)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  if (process.env.CI) {
    throw new Error(`the RabbitMQ management API is required under CI at ${url.replace(/\/\/[^@/]*@/, '//')}: ${(lastError as Error)?.message ?? String(lastError)}`);
  }
  return false;
}

export async function createTestVhost(prefix = 'osloscope-tap-test', options: { tracing?: boolean } = {}): Promise<TestVhost> {
  const name = randomName(prefix);
  const root = new ManagementInspector({ url: TEST_MANAGEMENT_URL, vhost: name });
  const enc = encodeURIComponent(name);
  await root.request(`/vhosts/${enc}`, { method: 'PUT', body: { description: 'osloscope tap test', tracing: options.tracing === true } });
  const traceEverywhere = async (on: boolean) => {
    await root.request(`/vhosts/${enc}`, { method: 'PUT', body: { description: 'osloscope tap test', tracing: on } });
    for (const url of CLUSTER_MANAGEMENT_URLS) {
      await new ManagementInspector({ url, vhost: name }).request(`/vhosts/${enc}`, { method: 'PUT', body: { description: 'osloscope tap test', tracing: on } });
    }
  };
  if (options.tracing === true) await traceEverywhere(true);
  const user = new URL(TEST_MANAGEMENT_URL).username || 'guest';
  await root.request(`/permissions/${enc}/${encodeURIComponent(user)}`, { method: 'PUT', body: { configure: '.*', write: '.*', read: '.*' } });
  const amqpUrl = `amqp://${TEST_AMQP_HOST}/${enc}`;
  return {
    name,
    url: `rabbit://${TEST_AMQP_HOST}/${enc}`,
    amqpUrl,
    mgmt: root,
    async setTracing(on) {
      await traceEverywhere(on);
    },
    async killConnections(names, timeoutMs = 15_000) {
      const wanted = new Set(names);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const list = await root.connections();
        const hits = list.filter((c) => c.connectionName !== null && wanted.has(c.connectionName));
        if (hits.length >= wanted.size || Date.now() > deadline) {
          for (const c of hits) await root.closeConnection(c.name, 'osloscope tap test');
          return hits.length;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async deleteQueue(queue) {
      await root.request(`/queues/${enc}/${encodeURIComponent(queue)}`, { method: 'DELETE' }).catch(() => undefined);
    },
    async queue(queue) {
      try {
        const q = await root.request<{ messages?: number; consumers?: number }>(`/queues/${enc}/${encodeURIComponent(queue)}`);
        return { messages: q.messages ?? 0, consumers: q.consumers ?? 0 };
      } catch {
        return null;
      }
    },
    async remove() {
      await root.request(`/vhosts/${enc}`, { method: 'DELETE' }).catch(() => undefined);
    },
  };
}

/** Poll until `check` returns a truthy value; throws `what` with the last error after `timeoutMs`. */
export function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 15_000, everyMs = 50): Promise<NonNullable<T>> {
  return eventually(check, what, timeoutMs, everyMs);
}

/** A complete decoded message for unit tests: a plain call with nothing else set, plus `over`. */
export function decodedMessage(over: Partial<DecodedMessage>): DecodedMessage {
  return {
    id: '0',
    ts: 0,
    kind: 'call',
    exchange: 'openstack',
    routingKey: 'compute',
    topic: 'compute',
    server: null,
    method: 'get',
    namespace: null,
    version: '1.0',
    msgId: 'm1',
    replyQ: 'reply_q1',
    uniqueId: null,
    callMonitorTimeout: null,
    timeoutMs: 10_000,
    args: {},
    context: {},
    requestId: null,
    result: null,
    failure: null,
    ending: null,
    eventType: null,
    priority: null,
    publisherId: null,
    messageId: null,
    timestamp: null,
    payload: null,
    properties: {},
    trace: null,
    broker: null,
    bytes: 10,
    enveloped: true,
    compression: null,
    error: null,
    raw: null,
    rawEncoding: null,
    rawTruncated: false,
    ...over,
  };
}

