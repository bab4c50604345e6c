/**
 * The brokers a fleet test or e2e spec may use: the cell's own (TEST_MANAGEMENT_URL / TEST_AMQP_HOST, the local
 * RabbitMQ by default) and a second one when the matrix brings one up beside it
 * (TEST_SECOND_MANAGEMENT_URL / TEST_SECOND_AMQP_HOST: trixie's RabbitMQ 4.0 in the cell
 * `sid:kolla:fleet`). Without a second broker the second is the first, so a fleet spec still runs on
 * two vhosts of one broker. Vhosts are made and removed through each broker's management API.
 */
import { randomBytes } from 'node:crypto';

export interface Broker {
  /** management API base URL, with its credentials */
  mgmt: string;
  /** `user:password@host:port` of its AMQP listener */
  amqp: string;
}

export const PRIMARY_BROKER: Broker = {
  mgmt: process.env.TEST_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672',
  amqp: process.env.TEST_AMQP_HOST ?? 'guest:guest@127.0.0.1:5672',
};

export const SECOND_BROKER: Broker = {
  mgmt: process.env.TEST_SECOND_MANAGEMENT_URL ?? PRIMARY_BROKER.mgmt,
  amqp: process.env.TEST_SECOND_AMQP_HOST ?? PRIMARY_BROKER.amqp,
};

/** True when the second broker is another RabbitMQ, not the first one again. */
export const TWO_BROKERS = SECOND_BROKER.mgmt !== PRIMARY_BROKER.mgmt || SECOND_BROKER.amqp !== PRIMARY_BROKER.amqp;

export interface BrokerVhost {
  name: string;
  /** rabbit:// transport URL of the vhost */
  url: string;
  broker: Broker;
  remove(): Promise<void>;
}

async function mgmtApi(base: string, path: string, method = 'GET', body?: unknown): Promise<Response> {
  const u = new URL(base);
  const auth = `Basic ${Buffer.from(`${decodeURIComponent(u.username || 'guest')}:${decodeURIComponent(u.password || 'guest')}`).toString('base64')}`;
  return fetch(`${u.protocol}//${u.host}/api${path}`, {
    method,
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
}

/** The broker's management API answers, with its RabbitMQ version (null when it does not answer). */
export async function brokerVersion(broker: Broker): Promise<string | null> {
  try {
    const res = await mgmtApi(broker.mgmt, '/overview');
    if (!res.ok) return null;
    return ((await res.json()) as { rabbitmq_version?: string }).rabbitmq_version ?? 'unknown';
  } catch {
    return null;
  }
}

/** A fresh vhost on `broker`, with every permission for the management user. */
export async function createBrokerVhost(broker: Broker, prefix: string): Promise<BrokerVhost> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  const enc = encodeURIComponent(name);
  const user = decodeURIComponent(new URL(broker.mgmt).username || 'guest');
  const put = await mgmtApi(broker.mgmt, `/vhosts/${enc}`, 'PUT', { description: 'osloscope e2e' });
  if (!put.ok) throw new Error(`cannot create vhost ${name} on ${new URL(broker.mgmt).host}: HTTP ${put.status}`);
  const perm = await mgmtApi(broker.mgmt, `/permissions/${enc}/${encodeURIComponent(user)}`, 'PUT', { configure: '.*', write: '.*', read: '.*' });
  if (!perm.ok) throw new Error(`cannot grant ${user} vhost ${name} on ${new URL(broker.mgmt).host}: HTTP ${perm.status}`);
  return {
    name,
    url: `rabbit://${broker.amqp}/${enc}`,
    broker,
    async remove() {
      await mgmtApi(broker.mgmt, `/vhosts/${enc}`, 'DELETE').catch(() => undefined);
    },
  };
}
