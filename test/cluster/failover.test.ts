/**
 * A 3-node RabbitMQ cluster (sid's broker, `scripts/stacks/stack up sid-cluster`) with a Python
 * oslo.messaging server on kolla's layout (quorum topic queues replicated on every node). osloscope
 * connects through a multi-host transport_url, taps with the firehose on for every node and fires
 * calls; then the node osloscope is connected to is stopped. What an operator must see:
 * - calls pending at the cut fail at once with a clear error (no 60 s timeout), nothing hangs;
 * - the transport and the tap reconnect to a surviving node, fired calls succeed again within seconds;
 * - the tap follows calls on the surviving nodes, and every call it classifies as stuck is one the
 *   caller saw fail at the cut (the tap explains failures, it does not invent them).
 *
 * Runs only in the matrix's sid-cluster cell (TEST_STACK=sid-cluster); the node is started again
 * afterwards so the cluster is whole for whatever runs next.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessagingTimeout, RpcClient, Transport } from '../../server/messaging/index.ts';
import { ManagementInspector, Tap } from '../../server/tap/index.ts';
import { startPeer, stopAllPeers, uniqueName, type PythonPeer } from '../interop/python-peer.ts';
import { eventually } from '../support/brokers.ts';

const run = promisify(execFile);
const STACK = fileURLToPath(new URL('../../scripts/stacks/stack', import.meta.url));
const inCluster = process.env.TEST_STACK === 'sid-cluster';
const AMQP = (process.env.TEST_CLUSTER_AMQP_URLS ?? '').split(',').filter(Boolean).map((u) => new URL(u));
const MGMT = (process.env.TEST_CLUSTER_MANAGEMENT_URLS ?? '').split(',').filter(Boolean);
const NODES = (process.env.TEST_CLUSTER_NODES ?? '').split(',').filter(Boolean);
if (inCluster && (AMQP.length !== 3 || MGMT.length !== 3 || NODES.length !== 3)) {
  throw new Error('TEST_STACK=sid-cluster needs TEST_CLUSTER_AMQP_URLS, TEST_CLUSTER_MANAGEMENT_URLS and TEST_CLUSTER_NODES for 3 nodes (scripts/stacks/stack env sid-cluster)');
}

const FAST_RETRY = { intervalStartMs: 50, intervalStepMs: 100, intervalMaxMs: 500, reconnectDelayMs: 0 };
const CALL_TIMEOUT_S = 10;

/** `rabbit://u:p@h1:p1,u:p@h2:p2,…/vhost` with the nodes in the given order. */
function multiHostUrl(order: number[], vhost: string): string {
  const hosts = order.map((i) => `${AMQP[i].username}:${AMQP[i].password}@${AMQP[i].host}`);
  return `rabbit://${hosts.join(',')}/${encodeURIComponent(vhost)}`;
}

function mgmtFor(node: number, vhost: string): ManagementInspector {
  return new ManagementInspector({ url: MGMT[node], vhost });
}

interface MgmtConnection {
  node?: string;
  vhost?: string;
  client_properties?: { connection_name?: string };
}

/** Nodes (indexes into NODES) holding connections whose connection_name starts with `prog:`. */
async function nodesOf(inspector: ManagementInspector, prog: string): Promise<number[]> {
  const list = await inspector.request<MgmtConnection[]>('/connections?columns=node,vhost,client_properties');
  const nodes = list.filter((c) => (c.client_properties?.connection_name ?? '').startsWith(`${prog}:`)).map((c) => NODES.indexOf(c.node ?? ''));
  return [...new Set(nodes)].filter((i) => i >= 0).sort();
}

async function stack(...args: string[]): Promise<void> {
  await run(STACK, args, { timeout: 240_000 });
}

describe.skipIf(!inCluster)('a 3-node cluster: tap and fire through a multi-host transport_url, then lose a node', () => {
  const vhost = uniqueName('osloscope-cluster');
  const topic = uniqueName('cl-srv');
  let closers: (() => Promise<unknown>)[] = [];
  let stopped: number | null = null;
  let victim = -1;
  let server: PythonPeer;
  let transport: Transport;
  let tap: Tap;

  const client = () => new RpcClient(transport, { topic }, { timeout: CALL_TIMEOUT_S });
  const survivor = () => (victim + 1) % 3;

  beforeAll(async () => {
    // a node left stopped by an earlier run would make the cut below a second loss
    await stack('up', 'sid-cluster');
    const admin = mgmtFor(0, vhost);
    await admin.request(`/vhosts/${encodeURIComponent(vhost)}`, { method: 'PUT', body: { description: 'osloscope cluster test' } });
    await admin.request(`/permissions/${encodeURIComponent(vhost)}/guest`, { method: 'PUT', body: { configure: '.*', write: '.*', read: '.*' } });
    // One transport for the tap and the fired calls, as in the dashboard (server/index.ts); oslo shuffles
    // the hosts once per connection object, so find out where it landed.
    transport = new Transport(multiHostUrl([0, 1, 2], vhost), { programName: 'osloscope-cluster', retryPolicy: FAST_RETRY });
    closers.push(() => transport.close());
    // a cast opens the send connection, which shows the node (to a scratch exchange: declaring the control
    // exchange before the services would give it osloscope's flags instead of the layout's)
    await client().prepare({ exchange: `${vhost}-connect` }).cast({}, 'echo', { value: 'connect' });
    const nodes = await eventually(async () => {
      const n = await nodesOf(mgmtFor(0, vhost), 'osloscope-cluster');
      return n.length ? n : null;
    }, "osloscope's connection listed by the management API", 20_000, 250);
    expect(nodes).toHaveLength(1);
    victim = nodes[0];
    // The Python service runs on another node, so the cut hits osloscope alone.
    server = await startPeer('rpc-server', ['--topic', topic, '--server', 'py1', '--url', multiHostUrl([survivor()], vhost)]);
    tap = new Tap({
      transport,
      // RABBITMQ_MANAGEMENT_URL on a node that stays up (tracing is still turned on for every node)
      managementUrl: MGMT[survivor()],
      mode: 'auto',
      firehoseEnable: true,
      intervals: { tickMs: 200, discoveryMs: 500, modeCheckMs: 1000, rebuildAfterMs: 1000 },
    });
    closers.push(() => tap.stop());
    await tap.start();
  }, 360_000);

  afterAll(async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    closers = [];
    await stopAllPeers();
    if (stopped !== null) await stack('node-start', 'sid-cluster', String(stopped + 1)).catch((err) => console.error('restarting the stopped node failed:', err));
    await mgmtFor(survivor(), vhost).request(`/vhosts/${encodeURIComponent(vhost)}`, { method: 'DELETE' }).catch(() => undefined);
  }, 300_000);


  it('taps with tracing on every node and fires through the multi-host URL', async () => {
    await eventually(() => tap.status().mode === 'firehose', 'the tap in firehose mode with tracing on all nodes', 30_000, 200);
    const coverage = await eventually(() => (tap.firehoseCoverage?.on === 3 ? tap.firehoseCoverage : null), 'tracing on 3 of 3 nodes', 20_000, 200);
    expect(coverage.nodes.every((n) => n.tracing === true && n.enabledByOsloscope)).toBe(true);
    expect(await client().call({}, 'echo', { value: 'before' })).toBe('before');
    const seen = await eventually(
      () => tap.calls({ state: 'done' }).find((c) => c.target.topic === topic && c.method === 'echo'),
      'the tap correlating the call with its reply',
      15_000,
      100,
    );
    expect(seen.outcome).toBe('result');
    expect(server.stderr()).not.toMatch(/Traceback/);
  }, 60_000);

  it('fails over when the node osloscope is connected to stops: pending calls fail at once, then calls work again and the tap follows', async () => {
    const inspector = mgmtFor(survivor(), vhost);
    // the Python service's connections (oslo names them `<argv0>:<pid>:<uuid>`) are elsewhere
    expect(await nodesOf(inspector, 'oslo_peer.py')).not.toContain(victim);

    // Steady traffic: one call every 50 ms, some slow ones (sleep 2 s) so calls are pending at the cut.
    const results: { startedAt: number; endedAt: number; ok: boolean; error?: Error }[] = [];
    const sent: string[] = [];
    const answered = new Set<string>();
    const off = transport.events.on((e) => {
      if (e.type === 'rpc:sent' && e.kind === 'call' && e.msgId) sent.push(e.msgId);
      if (e.type === 'rpc:reply') answered.add(e.msgId);
    });
    let firing = true;
    const loop = (async () => {
      const inflight: Promise<void>[] = [];
      for (let i = 0; firing; i++) {
        const startedAt = Date.now();
        const slow = i % 4 === 0;
        inflight.push(
          client()
            .call({}, slow ? 'sleep' : 'echo', slow ? { secs: 2 } : { value: i })
            .then(
              () => void results.push({ startedAt, endedAt: Date.now(), ok: true }),
              (error: Error) => {
                results.push({ startedAt, endedAt: Date.now(), ok: false, error });
              },
            ),
        );
        await new Promise((r) => setTimeout(r, 50));
      }
      await Promise.all(inflight);
    })();

    await new Promise((r) => setTimeout(r, 3_000));
    const cutAt = Date.now();
    stopped = victim;
    await stack('node-stop', 'sid-cluster', String(victim + 1));
    const stoppedAt = Date.now();

    // Calls succeed again through a surviving node.
    await eventually(() => results.some((r) => r.ok && r.startedAt > stoppedAt), 'a call started after the cut succeeding', 30_000, 100);
    const recoveredAt = results.filter((r) => r.ok && r.startedAt > stoppedAt).map((r) => r.endedAt).sort((a, b) => a - b)[0];
    await new Promise((r) => setTimeout(r, 3_000));
    firing = false;
    await loop;
    off();

    const failed = results.filter((r) => !r.ok);
    // Nothing hung: no call waited for its 10 s timeout; every failure came within a few seconds of the cut.
    expect(failed.filter((r) => r.error instanceof MessagingTimeout)).toEqual([]);
    for (const r of failed) {
      expect(r.endedAt - Math.max(r.startedAt, cutAt)).toBeLessThan(CALL_TIMEOUT_S * 1000 - 2_000);
      expect(r.error?.message).toMatch(/\S/);
    }
    // Calls before the cut and after the recovery all succeeded.
    expect(results.filter((r) => r.endedAt < cutAt).every((r) => r.ok)).toBe(true);
    expect(results.filter((r) => r.startedAt > recoveredAt).every((r) => r.ok)).toBe(true);
    expect(results.filter((r) => r.ok && r.startedAt > recoveredAt).length).toBeGreaterThan(10);
    console.log(`[cluster] node stop took ${stoppedAt - cutAt} ms; first call after it answered ${recoveredAt - stoppedAt} ms later; ${failed.length} of ${results.length} calls failed at the cut`);

    // The client now lives on a surviving node.
    const now = await nodesOf(inspector, 'osloscope-cluster');
    expect(now.length).toBeGreaterThan(0);
    expect(now).not.toContain(victim);

    // The tap follows: it is running again and correlates calls fired after the recovery.
    await eventually(() => tap.status().state === 'running', 'the tap running again after the node stopped', 30_000, 200);
    const after = sent.slice(-5);
    await eventually(() => after.every((id) => tap.call(id)?.state === 'done'), 'the tap seeing the last calls and their replies', 20_000, 200);
    // Every call the tap calls stuck is one the caller saw fail (wait past the calls' deadlines first).
    await new Promise((r) => setTimeout(r, CALL_TIMEOUT_S * 1000));
    await tap.tick();
    const stuck = tap.calls({ state: 'stuck' }).filter((c) => c.target.topic === topic);
    console.log(`[cluster] the tap classified ${stuck.length} call(s) as stuck: ${stuck.map((c) => `${c.msgId} ${c.cause}`).join(', ') || 'none'}`);
    expect(stuck.filter((c) => answered.has(c.msgId))).toEqual([]);
    expect(stuck.length).toBeLessThanOrEqual(failed.length);
    for (const c of stuck) expect(c.cause).not.toBeNull();
  }, 180_000);

  it('re-checks tracing when the node comes back: osloscope turns it on again there (tracing does not survive a node restart)', async () => {
    expect(stopped).not.toBeNull();
    const during = await eventually(() => (tap.firehoseCoverage && tap.firehoseCoverage.on < 3 ? tap.firehoseCoverage : null), 'coverage below 3 nodes while one is down', 30_000, 200);
    expect(during.summary).toMatch(/of 3 nodes/);
    await stack('node-start', 'sid-cluster', String(victim + 1));
    stopped = null;
    const back = await eventually(() => (tap.firehoseCoverage?.on === 3 ? tap.firehoseCoverage : null), 'tracing on 3 of 3 nodes again after the node restarted', 90_000, 500);
    expect(back.nodes.find((n) => n.node === NODES[victim])).toMatchObject({ tracing: true, enabledByOsloscope: true });
  }, 240_000);
});
