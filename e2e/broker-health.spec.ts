/**
 * The Broker page's layout and health panel against a real broker with real
 * Python oslo.messaging servers declaring TEST_PEER_LAYOUT's layout in a
 * throw-away vhost: the layout's name, its evidence, per-node tracing and
 * the broker's version as RabbitMQ reports them.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ManagementInspector } from '../server/tap/inspector.ts';
import { brokerAvailable, layoutConf, PEER_LAYOUT, pythonAvailable, RABBIT_URL, startPeer, stopAllPeers } from '../test/interop/python-peer.ts';
import { launchBrowser, type LaunchedBrowser } from './support/browser.ts';
import { startServer, type ServerHandle } from './support/server.ts';
import { BUILD_TIMEOUT_MS, buildOnce, until } from './support/setup.ts';

const MANAGEMENT = process.env.TEST_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';
const ready = (await brokerAvailable()) && (await pythonAvailable());
if (!ready) console.warn('[e2e] SKIPPED broker-health.spec.ts: RabbitMQ or python3-oslo.messaging is missing (run npm test to install them)');

const LABEL: Record<string, RegExp> = {
  default: /oslo\.messaging defaults/,
  quorum: /quorum queues only \(Q\)/,
  kolla: /kolla-ansible 2025\.1\+ \(Q\+T\+S\+M\)/,
  kolla50: /kolla-ansible 2025\.1\+ \(Q\+T\+S\+M\)/,
  helm: /openstack-helm \(D\+T\+M/,
};

describe.skipIf(!ready && !process.env.CI)(`Broker page: layout and health (${PEER_LAYOUT} peers)`, () => {
  const vhost = `osloscope-e2e-layout-${randomBytes(3).toString('hex')}`;
  const root = new ManagementInspector({ url: MANAGEMENT, vhost: '/' });
  let osloscope: ServerHandle;
  let browser: LaunchedBrowser;
  let page: Page;
  let version = '';

  /** TEST_TRANSPORT_URL (one or several hosts) with the test's vhost. */
  const url = RABBIT_URL.replace(/\/[^/]*$/, `/${encodeURIComponent(vhost)}`);

  beforeAll(async () => {
    version = (await root.request<{ rabbitmq_version: string }>('/overview?columns=rabbitmq_version')).rabbitmq_version;
    await root.request(`/vhosts/${encodeURIComponent(vhost)}`, { method: 'PUT', body: { description: 'osloscope e2e' } });
    const user = decodeURIComponent(new URL(MANAGEMENT).username || 'guest');
    await root.request(`/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`, { method: 'PUT', body: { configure: '.*', write: '.*', read: '.*' } });
    const common = ['--url', url, ...layoutConf()];
    await Promise.all([buildOnce(), startPeer('rpc-server', [...common, '--topic', 'e2e_layout', '--server', 'host-1'])]);
    // a caller too: with use_queue_manager only its reply queue (reply_<host>:<proc>:<n>) shows the M of a
    // stream-fanout layout, as in a cloud where some service always calls
    const caller = await startPeer('rpc-client', common);
    expect(await caller.rpc({ op: 'call', target: { topic: 'e2e_layout' }, method: 'echo', args: { value: 1 }, timeout: 30 })).toMatchObject({ ok: true });
    [osloscope, browser] = await Promise.all([startServer({ TRANSPORT_URL: url, TAP_MODE: 'auto', RABBITMQ_MANAGEMENT_URL: MANAGEMENT }), launchBrowser()]);
    page = await browser.context.newPage();
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    await osloscope?.stop();
    await stopAllPeers();
    await root.request(`/vhosts/${encodeURIComponent(vhost)}`, { method: 'DELETE' }).catch(() => undefined);
  });

  it('names the layout, shows per-node tracing and the broker version', async () => {
    await page.goto(`${osloscope.url}/broker`);
    const name = page.getByTestId('layout-name');
    await until(() => name.innerText().catch(() => ''), (t) => LABEL[PEER_LAYOUT].test(t), 'the layout name', 75_000);
    const topics = page.getByTestId('layout-topics');
    expect(await topics.locator('tr[data-topic="e2e_layout"]').count()).toBe(1);
    // a node whose tracing read failed (a timeout on a loaded broker) says so and is asked again at the next
    // health read (the server reads at most every 15 s, the page polls every 15 s): what settles is the truth
    const coverage = page.getByTestId('firehose-coverage');
    await until(() => coverage.innerText().catch(() => ''), (t) => /^tracing (off|off on all \d+ nodes)$/.test(t), 'the per-node tracing state', 45_000);
    expect(await page.getByTestId('health-version').innerText()).toBe(version);
    if (PEER_LAYOUT === 'helm') expect(await page.locator('[data-testid="layout-drift"][data-code="quorum-expected-classic-found"]').count()).toBe(1);
    await page.screenshot({ path: `${process.env.E2E_SCREENSHOT_DIR ?? '/tmp'}/broker-layout-${PEER_LAYOUT}.png`, fullPage: true });
  }, 150_000);
});
