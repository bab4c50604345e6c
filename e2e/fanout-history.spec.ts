/**
 * Fanout history in the browser: broadcasts a real Python oslo.messaging
 * client sent before osloscope started, read back from the `<topic>_fanout`
 * stream (rabbit_stream_fanout) on the Live page, opened in the drawer with
 * their stream offset, secrets redacted. Needs a layout with streams
 * (TEST_PEER_LAYOUT=kolla or kolla50 on a stack's broker).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { createTestVhost, managementAvailable, TEST_MANAGEMENT_URL, type TestVhost } from '../server/tap/test-support.ts';
import { brokerAvailable, LAYOUT, PEER_LAYOUT, pythonAvailable, startPeer, uniqueName, type PythonPeer } from '../test/interop/python-peer.ts';
import { launchBrowser, type LaunchedBrowser } from './support/browser.ts';
import { startServer, type ServerHandle } from './support/server.ts';
import { BUILD_TIMEOUT_MS, buildOnce, waitLive } from './support/setup.ts';

const ready = (await brokerAvailable()) && (await pythonAvailable()) && (await managementAvailable());
if (!LAYOUT.streamFanout) console.warn(`[e2e] SKIPPED fanout-history.spec.ts: TEST_PEER_LAYOUT=${PEER_LAYOUT} has no rabbit_stream_fanout, so no broadcast is kept`);
else if (!ready) console.warn('[e2e] SKIPPED fanout-history.spec.ts: RabbitMQ, its management API or Python oslo.messaging is missing');

const SECRET = `gAAAAAB-${Math.random().toString(36).slice(2)}-e2e`;

describe.skipIf(!LAYOUT.streamFanout || (!ready && !process.env.CI))('fanout history on the Live page', () => {
  const topic = uniqueName('e2e-hist');
  let vh: TestVhost;
  let server: PythonPeer;
  let osloscope: ServerHandle;
  let browser: LaunchedBrowser;
  let page: Page;

  beforeAll(async () => {
    await buildOnce();
    vh = await createTestVhost('osloscope-e2e-hist');
    server = await startPeer('rpc-server', ['--url', vh.url, '--topic', topic, '--server', 'node-1']);
    const client = await startPeer('rpc-client', ['--url', vh.url]);
    for (let i = 0; i < 3; i++) {
      await client.rpc({ op: 'cast', target: { topic, fanout: true }, method: 'refresh_cache', args: { n: i }, ctxt: { auth_token: SECRET, request_id: `req-e2e-${i}` } });
    }
    await client.stop();
    // osloscope starts after the broadcasts were sent
    [osloscope, browser] = await Promise.all([
      startServer({ TRANSPORT_URL: vh.url, RABBITMQ_MANAGEMENT_URL: TEST_MANAGEMENT_URL, TAP_MODE: 'bindings' }),
      launchBrowser(),
    ]);
    page = await browser.context.newPage();
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await osloscope?.stop();
    await vh?.remove();
  });

  it('reads the broadcasts sent before osloscope started and opens one in the drawer', async () => {
    await page.goto(`${osloscope.url}/live`);
    await waitLive(page);
    await page.getByTestId('view-history').click();
    await page.getByTestId('history-topic').fill(topic);
    await page.getByTestId('history-load').click();
    const rows = page.getByTestId('history-row');
    await rows.nth(2).waitFor({ timeout: 20_000 });
    expect(await rows.count()).toBe(3);
    expect(await page.getByTestId('history-summary').innerText()).toMatch(new RegExp(`3 broadcasts of ${topic} from ${topic}_fanout, offsets 0–2`));
    // newest first; times are ranges bracketed by the stream's timestamps
    expect(await rows.first().getAttribute('data-method')).toBe('refresh_cache');
    expect(await rows.first().innerText()).toContain('{"n":2}');
    await rows.first().click();
    const drawer = page.getByTestId('message-drawer');
    await drawer.waitFor();
    expect(await page.getByTestId('drawer-broker').innerText()).toMatch(/stream offset \(x-stream-offset\)\s*2/);
    expect(await drawer.innerText()).toContain('req-e2e-2');
    expect(await page.content()).not.toContain(SECRET);
  });

  it('says why a topic has no history', async () => {
    await page.getByTestId('history-topic').fill('no-such-topic');
    await page.getByTestId('history-load').click();
    const err = page.getByTestId('history-error');
    await err.waitFor({ timeout: 15_000 });
    expect(await err.innerText()).toMatch(/no-such-topic has no fanout stream/);
  });
});
