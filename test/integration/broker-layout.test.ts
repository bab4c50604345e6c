/**
 * Layout awareness, broker health and firehose detection against a real
 * broker with real Python oslo.messaging peers, per stack of the test matrix:
 *
 *   TEST_TRANSPORT_URL / TEST_MANAGEMENT_URL   the broker (default: host 3.10 on 5672/15672)
 *   TEST_PYTHON / TEST_PEER_LAYOUT            the peers' oslo.messaging and options
 *
 * e.g. `eval "$(scripts/stacks/stack env sid)"; TEST_PEER_LAYOUT=kolla npx vitest run test/integration/broker-layout.test.ts`.
 * Every test runs in a throw-away vhost: tracing is never turned on for `/`.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerHealthReportSchema, type LayoutName } from '../../lib/broker-contracts.ts';
import { eventually } from '../../lib/eventually.ts';
import { silentLogger, Transport, type Logger } from '../../server/messaging/index.ts';
import { ManagementInspector } from '../../server/tap/inspector.ts';
import { statusLine } from '../../bin/commands/tap.ts';
import { Tap, type TapOptions } from '../../server/tap/tap.ts';
import {
  LAYOUT as LAYOUT_FLAGS,
  assertLayoutSupported,
  brokerAvailable,
  layoutConf,
  PEER_LAYOUT,
  pythonAvailable,
  RABBIT_URL,
  startPeer,
  stopAllPeers,
  type PythonPeer,
} from '../interop/python-peer.ts';

const MGMT_URL = process.env.TEST_MANAGEMENT_URL ?? process.env.TEST_RABBITMQ_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';
const FAST_RETRY = { intervalStartMs: 50, intervalStepMs: 100, intervalMaxMs: 500, reconnectDelayMs: 0 };

/** Under CI, asked for up to 20 s: at a load average of 34 one 3 s read timed out and failed the whole file. */
async function managementUp(): Promise<boolean> {
  const deadline = Date.now() + (process.env.CI ? 20_000 : 0);
  for (;;) {
    try {
      await new ManagementInspector({ url: MGMT_URL, vhost: '/', timeoutMs: 5000 }).request('/overview?columns=node');
      return true;
    } catch {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

const ready = (await managementUp()) && (await brokerAvailable()) && (await pythonAvailable());
if (!ready && process.env.CI) throw new Error(`broker (${RABBIT_URL}), management API or Python peers not available`);
if (!ready) console.warn(`SKIPPED broker-layout: broker ${RABBIT_URL}, management API or ${process.env.TEST_PYTHON ?? '/usr/bin/python3'} not available`);

/**
 * TEST_TRANSPORT_URL with another vhost (and, given `user`, other credentials on
 * its first host). Works for multi-host URLs (`rabbit://u:p@h1:5681,u:p@h2:5682/`).
 */
function transportUrlFor(vhost: string, user?: string): string {
  const m = /^([a-z]+:\/\/)(.*)\/[^/]*$/.exec(RABBIT_URL);
  if (!m) throw new Error(`cannot parse TEST_TRANSPORT_URL ${RABBIT_URL}`);
  const hosts = m[2].split(',');
  const list = user ? [`${user}@${hosts[0].replace(/^.*@/, '')}`] : hosts;
  return `${m[1]}${list.join(',')}/${encodeURIComponent(vhost)}`;
}

const CLUSTER_MGMT = (process.env.TEST_CLUSTER_MANAGEMENT_URLS ?? '').split(',').filter(Boolean);
/** every node's management listener (one for a single broker) */
const NODE_URLS = CLUSTER_MGMT.length > 0 ? CLUSTER_MGMT : [MGMT_URL];

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** What each TEST_PEER_LAYOUT must be named. */
const EXPECTED: Record<string, { name: LayoutName; letters: string }> = {
  default: { name: 'oslo-defaults', letters: '' },
  quorum: { name: 'kolla-2024.1', letters: 'Q' },
  kolla: { name: 'kolla', letters: 'Q+T+S+M' },
  kolla50: { name: 'kolla', letters: 'Q+T+S+M' },
  helm: { name: 'openstack-helm', letters: 'D+T+M' },
};

describe.skipIf(!ready)(`layout and firehose on ${RABBIT_URL} with ${PEER_LAYOUT} peers`, () => {
  // generous: a loaded broker's management API can take seconds (the matrix runs stacks side by side)
  const root = new ManagementInspector({ url: MGMT_URL, vhost: '/', timeoutMs: 20_000 });
  const vhost = `osloscope-layout-${randomBytes(4).toString('hex')}`;
  const vh = encodeURIComponent(vhost);
  const extraVhosts: string[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  let version = '';
  let client: PythonPeer;
  const urlFor = (v: string, user?: string) => transportUrlFor(v, user);

  async function makeVhost(name: string): Promise<void> {
    await root.request(`/vhosts/${encodeURIComponent(name)}`, { method: 'PUT', body: { description: 'osloscope layout test' } });
    const user = decodeURIComponent(new URL(MGMT_URL).username || 'guest');
    await root.request(`/permissions/${encodeURIComponent(name)}/${encodeURIComponent(user)}`, { method: 'PUT', body: { configure: '.*', write: '.*', read: '.*' } });
  }

  /** tracing for the vhost on every node (single broker: the one node) */
  async function tracing(name = vhost): Promise<boolean> {
    const all = await Promise.all(NODE_URLS.map(async (u) => (await new ManagementInspector({ url: u, vhost: name, timeoutMs: 20_000 }).vhostInfo())?.tracing === true));
    if (all.every((x) => x === all[0])) return all[0];
    throw new Error(`tracing differs between nodes: ${all.join(', ')}`);
  }

  /** rabbitmqctl -n <node> trace_on -p <vhost> on every node: a PUT to each node's own listener */
  async function traceOn(name: string): Promise<void> {
    for (const u of NODE_URLS) {
      await new ManagementInspector({ url: u, vhost: name, timeoutMs: 20_000 }).request(`/vhosts/${encodeURIComponent(name)}`, { method: 'PUT', body: { description: 'osloscope layout test', tracing: true } });
    }
  }

  async function startTap(url: string, options: Partial<TapOptions> = {}): Promise<Tap> {
    const transport = new Transport(url, { programName: 'osloscope', retryPolicy: FAST_RETRY });
    const tap = new Tap({ transport, managementUrl: MGMT_URL, connectRetry: 0, intervals: { tickMs: 200, discoveryMs: 500, modeCheckMs: 500 }, ...options });
    closers.push(async () => {
      await tap.stop();
      await transport.close();
    });
    await tap.start();
    return tap;
  }

  beforeAll(async () => {
    assertLayoutSupported();
    version = (await root.request<{ rabbitmq_version: string }>('/overview?columns=rabbitmq_version')).rabbitmq_version;
    await makeVhost(vhost);
    const common = ['--url', urlFor(vhost), '--exchange', 'nova', ...layoutConf()];
    await startPeer('rpc-server', [...common, '--topic', 'layout_compute', '--server', 'host-1']);
    await startPeer('rpc-server', [...common, '--topic', 'layout_compute', '--server', 'host-2']);
    await startPeer('notify-listener', [...common, '--targets', 'layout_notifications', '--priorities', 'info']);
    client = await startPeer('rpc-client', common);
    const answer = await client.rpc({ op: 'call', target: { topic: 'layout_compute', exchange: 'nova' }, method: 'echo', args: { value: 7 }, timeout: 20 });
    expect(answer.ok).toBe(true);
  }, 120_000);

  afterAll(async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    await stopAllPeers();
    for (const v of [vhost, ...extraVhosts]) await root.request(`/vhosts/${encodeURIComponent(v)}`, { method: 'DELETE' }).catch(() => undefined);
    await root.request('/users/osloscope-layout-monitor', { method: 'DELETE' }).catch(() => undefined);
  });

  it(`names the layout the ${PEER_LAYOUT} peers declared`, async () => {
    const tap = await startTap(urlFor(vhost), { mode: 'bindings', exchanges: ['nova'] });
    const report = brokerHealthReportSchema.parse(await tap.brokerHealth(true));
    const layout = report.layout;
    expect(layout?.source).toBe('management');
    expect(layout?.error).toBeNull();
    expect({ name: layout?.name, letters: layout?.letters }).toEqual(EXPECTED[PEER_LAYOUT]);
    expect(layout?.counts.server.total).toBe(2);
    expect(layout?.counts.reply.total).toBeGreaterThanOrEqual(1);
    // osloscope's own reply and tap queues are exclusive and never counted as a service's
    expect(layout?.exchanges.control).toEqual([{ name: 'nova', durable: PEER_LAYOUT !== 'default' }]);
    expect(report.health?.version).toBe(version);
    const quorumNotifications = PEER_LAYOUT === 'quorum' || PEER_LAYOUT.startsWith('kolla');
    const v4 = Number(version.split('.')[0]) >= 4;
    expect(report.health?.quorum.notificationsUnderDefaultLimit).toEqual(quorumNotifications && v4 ? ['layout_notifications.info'] : []);
    expect(report.health?.deprecatedFeatures.supported).toBe(!version.startsWith('3.10') && !version.startsWith('3.11') && !version.startsWith('3.12'));
    expect(tap.brokerHealthSummary()).toMatchObject({ layout: { name: EXPECTED[PEER_LAYOUT].name }, version });
  });

  it('without the management API: the layout from passive declares of names seen in traffic', async () => {
    const tap = await startTap(urlFor(vhost), { mode: 'bindings', exchanges: ['nova'], managementUrl: null });
    const answer = await client.rpc({ op: 'call', target: { topic: 'layout_compute', exchange: 'nova' }, method: 'echo', args: { value: 8 }, timeout: 20 });
    expect(answer.ok).toBe(true);
    await waitUntil(async () => (await tap.brokerHealth(true)).layout?.counts.topic.total === 1, 'the topic queue seen and checked');
    const report = await tap.brokerHealth(true);
    expect(report.layout).toMatchObject({ source: 'passive', complete: false });
    expect(report.layout?.counts.reply.total).toBe(1);
    // what names alone tell: one `<topic>_fanout` stream (S) and queue-manager reply names (M)
    expect(report.layout?.flags.streamFanout).toBe(LAYOUT_FLAGS.streamFanout ? true : null);
    expect(report.layout?.flags.queueManager).toBe(LAYOUT_FLAGS.queueManager);
    expect(report.health).toMatchObject({ source: 'passive', error: expect.stringMatching(/needs the management API/) });
    expect(report.firehose).toBeNull();
  });

  it('auto mode reads tracing right on this version, also through a guessed management URL', async () => {
    const traced = `${vhost}-fh`;
    extraVhosts.push(traced);
    await makeVhost(traced);
    await traceOn(traced);
    // what the taps warned about (a management read that timed out, a guess refused) goes with a failed expectation
    const warnings: string[] = [];
    const log: Logger = { ...silentLogger, warn: (o, msg) => void warnings.push(`${msg} ${JSON.stringify(o)}`), info: (o, msg) => void warnings.push(`${msg} ${JSON.stringify(o)}`) };
    const why = () => `tap log: ${warnings.join('\n') || '(nothing)'}`;
    const explicit = await startTap(urlFor(traced), { mode: 'auto', log });
    expect(explicit.status(), why()).toMatchObject({ mode: 'firehose', firehose: { on: true, detectedBy: 'management' } });
    expect(explicit.firehoseCoverage?.summary, why()).toMatch(/^tracing on/);
    // no RABBITMQ_MANAGEMENT_URL: the guess must find this broker's API, not another broker's on the same host
    const guessed = await startTap(urlFor(traced), { mode: 'auto', managementUrl: undefined, log });
    expect(guessed.status(), why()).toMatchObject({ mode: 'firehose', firehose: { on: true } });
    expect(guessed.brokerInspector?.describe(), why()).toBe(`management API ${new URL(MGMT_URL).protocol}//${new URL(MGMT_URL).host}`);
    const off = await startTap(urlFor(vhost), { mode: 'auto', log });
    expect(off.status(), why()).toMatchObject({ mode: 'bindings', firehose: { on: false, detectedBy: 'management' } });
    expect(statusLine(off, 'here')).toContain('bindings mode');
  });

  let attempt = 0;
  it('turns tracing on for every node when asked, and off again after the set time and at stop', async () => {
    // a fresh vhost per attempt: a retry must not meet the tracing a failed attempt left on
    const v = `${vhost}-on${++attempt}`;
    extraVhosts.push(v);
    await makeVhost(v);
    expect(await tracing(v)).toBe(false);
    // long enough for a loaded broker to answer every read below before the auto-off: at a load average of 33 a
    // management read takes seconds, and one that times out (5 s) is retried at the next check (every 500 ms)
    const tap = await startTap(urlFor(v), { mode: 'auto', firehoseEnable: true, firehoseAutoOffMs: 15_000 });
    // a node whose API timed out during the enable gets tracing from the next check (the tap keeps it wanted)
    await waitUntil(() => tracing(v).catch(() => false), 'tracing on', 12_000);
    await waitUntil(async () => tap.status().mode === 'firehose', 'the tap in firehose mode', 12_000);
    // a node whose management API is slow to answer counts as unknown until the next check reads it
    await waitUntil(async () => tap.firehoseCoverage?.on === NODE_URLS.length, 'tracing on every node in the coverage', 12_000);
    expect(tap.firehoseCoverage?.nodes.every((n) => n.enabledByOsloscope)).toBe(true);
    expect(tap.firehoseCoverage?.autoOffAt).toBeGreaterThan(Date.now());
    const offAt = tap.firehoseCoverage?.autoOffAt ?? 0;
    // node by node: wait until every node has it off, which must not come before the set time
    await waitUntil(async () => !(await tracing(v).catch(() => true)), 'tracing turned off by FIREHOSE_AUTO_OFF', Math.max(0, offAt - Date.now()) + 10_000);
    expect(Date.now()).toBeGreaterThanOrEqual(offAt);

    // the dashboard's button, then a clean stop
    const again = await startTap(urlFor(v), { mode: 'auto' });
    expect(again.status().mode).toBe('bindings');
    // each press reads every node first; on a loaded broker one of those reads can time out (5 s, seen at a load
    // average of ~30: "management API unreachable", from FirehoseControl.nodes()), and the user presses again
    // a press that resolves is true: tracing on and the tap in firehose mode (one that could not finish says so and throws)
    const pressed = await eventually(() => again.enableFirehose(), 'the enable button to turn tracing on', 30_000, 500);
    expect(pressed.mode).toBe('firehose');
    expect(again.status().mode).toBe('firehose');
    expect(await tracing(v)).toBe(true);
    await again.stop();
    expect(await tracing(v)).toBe(false);
  }, 90_000);

  it('never turns off tracing the operator turned on', async () => {
    const v = `${vhost}-op`;
    extraVhosts.push(v);
    await makeVhost(v);
    await traceOn(v);
    // FIREHOSE_ENABLE sets the auto-off (its log line says when) and the auto-off runs, which drops that time from the
    // coverage; on a loaded machine it may have run before start() returns
    let autoOffAt: unknown;
    const log: Logger = {
      ...silentLogger,
      info(o, msg) {
        if (msg.startsWith('FIREHOSE_ENABLE')) autoOffAt = (o as { autoOffAt?: unknown }).autoOffAt;
      },
    };
    const tap = await startTap(urlFor(v), { mode: 'auto', firehoseEnable: true, firehoseAutoOffMs: 1000, log });
    expect(autoOffAt).toEqual(expect.any(Number));
    await waitUntil(async () => tap.firehoseCoverage?.autoOffAt === null, 'the 1 s FIREHOSE_AUTO_OFF to run');
    expect(await tracing(v)).toBe(true);
    await tap.stop();
    expect(await tracing(v)).toBe(true);
  });

  it('a user without the administrator tag gets a clear refusal and tracing stays off', async () => {
    const v = `${vhost}-mon`;
    extraVhosts.push(v);
    await makeVhost(v);
    const user = 'osloscope-layout-monitor';
    const password = randomBytes(8).toString('hex');
    await root.request(`/users/${user}`, { method: 'PUT', body: { password, tags: 'monitoring' } });
    await root.request(`/permissions/${encodeURIComponent(v)}/${user}`, { method: 'PUT', body: { configure: '.*', write: '.*', read: '.*' } });
    const m = new URL(MGMT_URL);
    const tap = await startTap(urlFor(v, `${user}:${password}`), {
      mode: 'auto',
      firehoseEnable: true,
      managementUrl: `${m.protocol}//${user}:${password}@${m.host}`,
    });
    expect(tap.status()).toMatchObject({ mode: 'bindings', firehose: { on: false, canEnable: false } });
    expect(tap.status().hint).toMatch(/Could not turn the firehose on: .*administrator tag/);
    expect(await tracing(v)).toBe(false);
    await expect(tap.enableFirehose()).rejects.toThrow(/administrator tag/);
  });
});

describe.skipIf(!ready || CLUSTER_MGMT.length < 3)('firehose coverage on a 3-node cluster', () => {
  const vhost = `osloscope-cover-${randomBytes(4).toString('hex')}`;
  const nodes = CLUSTER_MGMT.map((url) => new ManagementInspector({ url, vhost }));
  const closers: (() => Promise<unknown>)[] = [];

  async function tracingPerNode(): Promise<boolean[]> {
    return Promise.all(nodes.map(async (n) => (await n.vhostInfo())?.tracing === true));
  }

  beforeAll(async () => {
    await nodes[0].request(`/vhosts/${encodeURIComponent(vhost)}`, { method: 'PUT', body: { description: 'osloscope coverage test' } });
    const user = decodeURIComponent(new URL(CLUSTER_MGMT[0]).username || 'guest');
    await nodes[0].request(`/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`, { method: 'PUT', body: { configure: '.*', write: '.*', read: '.*' } });
    // what `rabbitmqctl -n <node> trace_on -p <vhost>` does on the first two nodes: each PUT starts tracing on the node that serves it
    for (const n of nodes.slice(0, 2)) await n.request(`/vhosts/${encodeURIComponent(vhost)}`, { method: 'PUT', body: { description: 'osloscope coverage test', tracing: true } });
  });

  afterAll(async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    await nodes[0].request(`/vhosts/${encodeURIComponent(vhost)}`, { method: 'DELETE' }).catch(() => undefined);
  });

  it('tracing on 2 of 3 nodes: coverage shown, auto stays in bindings; enabling covers all three and stop undoes only its own', async () => {
    expect(await tracingPerNode()).toEqual([true, true, false]);
    const transport = new Transport(transportUrlFor(vhost), { programName: 'osloscope', retryPolicy: FAST_RETRY });
    const tap = new Tap({ transport, managementUrl: CLUSTER_MGMT[0], connectRetry: 0, mode: 'auto' });
    closers.push(async () => {
      await tap.stop();
      await transport.close();
    });
    await tap.start();
    expect(tap.firehoseCoverage).toMatchObject({ on: 2, known: 3, total: 3 });
    expect(tap.firehoseCoverage?.summary).toMatch(/^tracing on 2 of 3 nodes/);
    expect(tap.status()).toMatchObject({ mode: 'bindings', firehose: { on: false } });
    expect(tap.status().hint).toMatch(/Firehose: tracing on 2 of 3 nodes.*Staying in bindings mode/);
    expect(statusLine(tap, 'cluster')).toMatch(/tracing on 2 of 3 nodes.*tracing is per node, turn it on for all 3/);
    const health = await tap.brokerHealth(true);
    expect(health.health?.nodes.map((n) => n.name)).toEqual(CLUSTER_MGMT.length === 3 ? (process.env.TEST_CLUSTER_NODES ?? '').split(',').sort() : expect.anything());

    await tap.enableFirehose();
    expect(await tracingPerNode()).toEqual([true, true, true]);
    expect(tap.firehoseCoverage?.summary).toBe('tracing on all 3 nodes');
    expect(tap.status().mode).toBe('firehose');
    await tap.stop();
    // the operator's two nodes keep tracing; the one osloscope turned on is off again
    expect(await tracingPerNode()).toEqual([true, true, false]);
  });
});
