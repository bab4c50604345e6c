/**
 * Records the management API answers the layout detection, broker health and
 * firehose coverage read, from a real broker with real Python oslo.messaging
 * peers declaring each layout, into server/tap/fixtures/<broker>-<layout>.json.
 * The unit tests beside server/tap/layout.ts, broker-health.ts and
 * firehose.ts replay them.
 *
 *   eval "$(scripts/stacks/stack env sid)"
 *   npx tsx scripts/record-broker-fixtures.ts sid kolla helm default
 *
 * The first argument names the broker in the file name; the others are
 * TEST_PEER_LAYOUT layouts (test/interop/python-peer.ts), or `mixed`: the
 * compute service with kolla's options and the scheduler with
 * openstack-helm's in one vhost. Each runs in a vhost of its own
 * (`osloscope-fixture-<layout>`), deleted afterwards.
 * Credentials are never written: answers are the broker's JSON as served.
 *
 *   npx tsx scripts/record-broker-fixtures.ts sid-cluster tracing-2of3 --nodes 5681:15681,5682:15682,5683:15683
 *
 * records a cluster instead: tracing turned on for a vhost on the first two
 * nodes only (a PUT to each node's own listener, as `rabbitmqctl -n <node>
 * trace_on` would), 1, 2 and 3 connections on the three nodes, and every
 * node's answers, one file per listener.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import amqplib from 'amqplib';
import { fileURLToPath } from 'node:url';
import { layoutConf, PEER_LAYOUTS, RABBIT_URL, startPeer, stopAllPeers, type PeerLayout } from '../test/interop/python-peer.ts';

const MGMT = process.env.TEST_MANAGEMENT_URL ?? process.env.TEST_RABBITMQ_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';
const OUT = fileURLToPath(new URL('../server/tap/fixtures/', import.meta.url));

function mgmt(): { base: string; auth: string } {
  const u = new URL(MGMT);
  const auth = `Basic ${Buffer.from(`${decodeURIComponent(u.username || 'guest')}:${decodeURIComponent(u.password || 'guest')}`).toString('base64')}`;
  return { base: `${u.protocol}//${u.host}/api`, auth };
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const { base, auth } = mgmt();
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

function urlFor(vhost: string): string {
  const u = new URL(RABBIT_URL);
  return `${u.protocol}//${u.username}:${u.password}@${u.host}/${encodeURIComponent(vhost)}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function record(broker: string, layout: PeerLayout | 'mixed'): Promise<void> {
  const vhost = `osloscope-fixture-${layout}`;
  const vh = encodeURIComponent(vhost);
  await api('DELETE', `/vhosts/${vh}`);
  await api('PUT', `/vhosts/${vh}`, { description: `osloscope fixture ${layout}` });
  const user = decodeURIComponent(new URL(MGMT).username || 'guest');
  await api('PUT', `/permissions/${vh}/${encodeURIComponent(user)}`, { configure: '.*', write: '.*', read: '.*' });
  const url = urlFor(vhost);
  const conf = layoutConf(layout === 'mixed' ? 'kolla' : layout);
  const common = ['--url', url, '--exchange', 'nova', ...conf];
  const scheduler = layout === 'mixed' ? ['--url', url, '--exchange', 'nova', ...layoutConf('helm')] : common;
  try {
    await startPeer('rpc-server', [...common, '--topic', 'fixture_compute', '--server', 'host-1']);
    await startPeer('rpc-server', [...common, '--topic', 'fixture_compute', '--server', 'host-2']);
    await startPeer('rpc-server', [...scheduler, '--topic', 'fixture_scheduler', '--server', 'host-1']);
    await startPeer('notify-listener', [...common, '--targets', 'fixture_notifications', '--priorities', 'info,error']);
    const client = await startPeer('rpc-client', common);
    const answer = await client.rpc({ op: 'call', target: { topic: 'fixture_compute', exchange: 'nova' }, method: 'echo', args: { value: 1 }, timeout: 20 });
    if (!answer.ok) throw new Error(`fixture call failed: ${JSON.stringify(answer)}`);
    // connections and consumers show in the management API after its next stats round (5 s)
    await sleep(6500);
    const paths = [
      '/overview?columns=rabbitmq_version,product_version,cluster_name,node,listeners',
      '/nodes?columns=name,running,mem_alarm,disk_free_alarm,partitions,uptime,applications',
      '/deprecated-features/used',
      '/whoami',
      `/vhosts/${vh}?columns=name,tracing,default_queue_type,description,tags,metadata`,
      '/vhosts?columns=name,tracing,default_queue_type',
      `/vhosts/${vh}/connections?columns=node`,
      `/queues/${vh}?disable_stats=true&enable_queue_totals=true&columns=name,type,durable,auto_delete,exclusive,arguments,policy,operator_policy,effective_policy_definition,node,leader,members,online,messages,consumers&page=1&page_size=500`,
      `/exchanges/${vh}?columns=name,type,durable,auto_delete,internal&page=1&page_size=500`,
    ];
    const answers: Record<string, { status: number; json: unknown }> = {};
    for (const p of paths) answers[p] = await api('GET', p);
    mkdirSync(OUT, { recursive: true });
    const file = `${OUT}${broker}-${layout}.json`;
    writeFileSync(file, `${JSON.stringify({ broker, layout, vhost, recordedAt: new Date().toISOString(), answers }, null, 1)}\n`);
    process.stderr.write(`recorded ${file}\n`);
  } finally {
    await stopAllPeers();
    await api('DELETE', `/vhosts/${vh}`);
  }
}

async function nodeApi(port: number, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const u = new URL(MGMT);
  const res = await fetch(`${u.protocol}//${u.hostname}:${port}/api${path}`, {
    method,
    headers: { authorization: mgmt().auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function recordCluster(broker: string, nodes: { amqp: number; http: number }[]): Promise<void> {
  const vhost = 'fh-cluster';
  const vh = encodeURIComponent(vhost);
  const [first] = nodes;
  await nodeApi(first.http, 'DELETE', `/vhosts/${vh}`);
  await nodeApi(first.http, 'PUT', `/vhosts/${vh}`, { description: 'osloscope coverage fixture' });
  const user = decodeURIComponent(new URL(MGMT).username || 'guest');
  await nodeApi(first.http, 'PUT', `/permissions/${vh}/${encodeURIComponent(user)}`, { configure: '.*', write: '.*', read: '.*' });
  for (const n of nodes.slice(0, 2)) await nodeApi(n.http, 'PUT', `/vhosts/${vh}`, { description: 'osloscope coverage fixture', tracing: true });
  const u = new URL(MGMT);
  const conns: amqplib.ChannelModel[] = [];
  try {
    for (const [i, n] of nodes.entries()) {
      for (let k = 0; k <= i; k++) conns.push(await amqplib.connect(`amqp://${u.username}:${u.password}@${u.hostname}:${n.amqp}/${vh}`));
    }
    await sleep(6500);
    for (const n of nodes) {
      const answers: Record<string, { status: number; json: unknown }> = {};
      for (const p of ['/overview?columns=rabbitmq_version,cluster_name,node,listeners', '/nodes?columns=name,running', '/vhosts?disable_stats=true&columns=name,tracing,default_queue_type', `/vhosts/${vh}/connections?columns=node`, '/whoami']) {
        answers[p] = await nodeApi(n.http, 'GET', p);
      }
      const file = `${OUT}${broker}-${n.http}-tracing-2of3.json`;
      writeFileSync(file, `${JSON.stringify({ broker, layout: 'tracing-2of3', vhost, recordedAt: new Date().toISOString(), answers }, null, 1)}\n`);
      process.stderr.write(`recorded ${file}\n`);
    }
  } finally {
    for (const c of conns) await c.close().catch(() => undefined);
    await nodeApi(first.http, 'DELETE', `/vhosts/${vh}`);
  }
}

async function main(): Promise<void> {
  const nodesAt = process.argv.indexOf('--nodes');
  if (nodesAt > 0) {
    const nodes = (process.argv[nodesAt + 1] ?? '').split(',').map((p) => {
      const [amqp, http] = p.split(':').map(Number);
      return { amqp, http };
    });
    await recordCluster(process.argv[2], nodes);
    return;
  }
  const [broker, ...layouts] = process.argv.slice(2);
  if (!broker || layouts.length === 0) throw new Error('usage: record-broker-fixtures.ts BROKER LAYOUT...');
  for (const l of layouts) {
    if (l !== 'mixed' && !(PEER_LAYOUTS as string[]).includes(l)) throw new Error(`unknown layout ${l} (${PEER_LAYOUTS.join(', ')}, mixed)`);
    await record(broker, l as PeerLayout | 'mixed');
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
