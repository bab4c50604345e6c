/**
 * The dashboard against the real RabbitMQ and a real Python oslo.messaging
 * RPC server: fire from the form, see results and remote tracebacks, see
 * casts in the live stream, Python traffic in the rate chart, and a stuck
 * call classified on the Calls page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { brokerAvailable, deleteBrokerEntities, pythonAvailable, startPeer, uniqueName, type PythonPeer } from '../test/interop/python-peer.ts';
import { launchBrowser, type LaunchedBrowser } from './support/browser.ts';
import { startServer, type ServerHandle } from './support/server.ts';
import { BUILD_TIMEOUT_MS, buildOnce, until, waitLive } from './support/setup.ts';

const RABBIT = process.env.TEST_TRANSPORT_URL ?? 'rabbit://guest:guest@127.0.0.1:5672/';
/** How the server must log RABBIT: every host's password masked. */
const RABBIT_REDACTED = RABBIT.replace(/(\/\/|,)([^:@,/]+):[^@,/]*@/g, '$1$2:***@');
/** A stack's broker has its management API on its own port, not the transport host's 15672. */
const MANAGEMENT = process.env.TEST_MANAGEMENT_URL;
const ready = (await brokerAvailable()) && (await pythonAvailable());
if (!ready) console.warn('[e2e] SKIPPED rabbit.spec.ts: RabbitMQ or python3-oslo.messaging is missing (run npm test to install them)');

describe.skipIf(!ready && !process.env.CI)('dashboard on RabbitMQ with a Python oslo.messaging server', () => {
  const topic = uniqueName('e2e-topic');
  const server = 'py-1';
  const deadServer = 'py-dead';
  let osloscope: ServerHandle;
  let peer: PythonPeer;
  let browser: LaunchedBrowser;
  let page: Page;

  beforeAll(async () => {
    await buildOnce();
    // a server that declared its queue and died: topic.py-dead stays with no consumer
    const dead = await startPeer('rpc-server', ['--topic', topic, '--server', deadServer, '--no-fanout']);
    await dead.stop();
    [peer, osloscope, browser] = await Promise.all([
      startPeer('rpc-server', ['--topic', topic, '--server', server]),
      startServer({ TRANSPORT_URL: RABBIT, TAP_MODE: 'auto', RPC_RESPONSE_TIMEOUT: '10', ...(MANAGEMENT ? { RABBITMQ_MANAGEMENT_URL: MANAGEMENT } : {}) }),
      launchBrowser(),
    ]);
    page = await browser.context.newPage();
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    await peer?.stop();
    const code = await osloscope?.stop();
    await deleteBrokerEntities({ queues: [topic, `${topic}.${server}`, `${topic}.${deadServer}`], exchanges: [`${topic}_fanout`] }).catch(() => undefined);
    // a clean SIGTERM shutdown, and the transport password never reached the logs
    expect(code).toBe(0);
    expect(osloscope.output()).toContain(RABBIT_REDACTED);
    expect(osloscope.output()).not.toMatch(/guest:guest@/);
  });

  async function fill(p: Page, fields: Record<string, string>): Promise<void> {
    for (const [testId, value] of Object.entries(fields)) await p.getByTestId(testId).fill(value);
  }

  it('fires a call from the form and shows the result with its timing', async () => {
    await page.goto(`${osloscope.url}/console`);
    await waitLive(page);
    await page.getByTestId('type-call').click();
    await fill(page, { 'field-topic': topic, 'field-server': server, 'field-method': 'echo', 'field-args': '{"value": {"hello": "from the form", "n": 42}}', 'field-timeout': '10' });
    await page.getByTestId('fire-submit').click();
    const ok = page.getByTestId('result-ok');
    await ok.waitFor({ timeout: 15_000 });
    expect(JSON.parse(await page.getByTestId('result-value').innerText())).toEqual({ hello: 'from the form', n: 42 });
    expect(await page.getByTestId('result-elapsed').innerText()).toMatch(/\d+(\.\d+)? (ms|s)/);
    // the Python server really ran it
    const invoked = await peer.waitFor((e) => e.event === 'invoked' && e.method === 'echo');
    expect(invoked.args).toEqual({ value: { hello: 'from the form', n: 42 } });
    // and it is in the history
    await page.getByTestId('history-row').first().waitFor();
    expect(await page.getByTestId('history-row').first().getAttribute('data-outcome')).toBe('ok');
  });

  it('shows field errors at the field and sends nothing until the form is valid', async () => {
    await page.goto(`${osloscope.url}/console`);
    await waitLive(page);
    const before = peer.events.length;
    await fill(page, { 'field-topic': '', 'field-method': 'echo', 'field-args': '{"value": ' });
    await page.getByTestId('fire-submit').click();
    await page.getByTestId('form-invalid').waitFor();
    const errors = await page.getByTestId('field-error').allInnerTexts();
    expect(errors).toContain('a topic is required');
    expect(errors.some((e) => e.startsWith('args is not valid JSON'))).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(peer.events.length).toBe(before);
  });

  it('shows the remote exception and its Python traceback', async () => {
    await page.goto(`${osloscope.url}/console`);
    await waitLive(page);
    await fill(page, { 'field-topic': topic, 'field-method': 'fail', 'field-args': '{"message": "disk on fire"}', 'field-timeout': '10' });
    await page.getByTestId('fire-submit').click();
    await page.getByTestId('result-error').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('result-error').getAttribute('data-outcome')).toBe('remote_error');
    expect(await page.getByTestId('remote-class').innerText()).toContain('ValueError');
    const tb = await page.getByTestId('remote-traceback').innerText();
    expect(tb).toMatch(/^Traceback \(most recent call last\):/);
    expect(tb).toContain('oslo_peer.py');
    expect(tb).toContain('disk on fire');
  });

  it('fires a cast and sees it in the live stream', async () => {
    const live = await browser.context.newPage();
    await live.goto(`${osloscope.url}/live`);
    await waitLive(live);
    await live.getByTestId('filter-topic').fill(topic);
    await until(() => live.getByTestId('filter-query').innerText(), (t) => t.includes(`topic:${topic}`), 'the filter to apply');

    await page.goto(`${osloscope.url}/console`);
    await waitLive(page);
    await page.getByTestId('type-cast').click();
    await fill(page, { 'field-topic': topic, 'field-method': 'echo', 'field-args': '{"value": "cast-from-e2e"}' });
    await page.getByTestId('fire-submit').click();
    await page.getByTestId('result-ok').waitFor({ timeout: 15_000 });

    const row = live.locator(`[data-testid=message-row][data-kind=cast][data-method=echo][data-topic="${topic}"]`);
    await row.first().waitFor({ timeout: 15_000 });
    await row.first().click();
    await live.getByTestId('message-drawer').waitFor();
    expect(JSON.parse(await live.getByTestId('drawer-body').innerText())).toEqual({ value: 'cast-from-e2e' });
    await peer.waitFor((e) => e.event === 'invoked' && (e.args as { value?: string })?.value === 'cast-from-e2e');
    await live.close();
  });

  it('shows Python-generated traffic in the rate chart', async () => {
    await page.goto(`${osloscope.url}/`);
    await waitLive(page);
    await page.getByTestId('rate-focus').fill(topic);
    const client = await startPeer('rpc-client', []);
    try {
      await Promise.all(Array.from({ length: 20 }, (_, i) => client.rpc({ op: 'call', target: { topic }, method: 'add', args: { a: i, b: 1 }, timeout: 10 })));
    } finally {
      client.endInput();
      await client.stop();
    }
    const keys = await until(() => page.getByTestId('rate-chart').getAttribute('data-keys'), (k) => (k ?? '').split(',').includes(topic), 'the topic in the rate chart', 15_000);
    expect(keys).toContain(topic);
    // the series is drawn, not just listed
    expect(await page.locator('[data-testid=rate-chart] .recharts-area').count()).toBeGreaterThan(0);
  });

  it('shows a stuck call on Calls with its cause', async () => {
    await page.goto(`${osloscope.url}/console`);
    await waitLive(page);
    await page.getByTestId('type-call').click();
    await fill(page, { 'field-topic': topic, 'field-server': deadServer, 'field-method': 'echo', 'field-args': '{"value": 1}', 'field-timeout': '2' });
    await page.getByTestId('fire-submit').click();
    await page.getByTestId('result-error').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('result-error').getAttribute('data-outcome')).toBe('timeout');
    expect(await page.getByTestId('error-message').innerText()).toMatch(/Timed out waiting for a reply to message ID [0-9a-f]{32}/);

    await page.goto(`${osloscope.url}/calls`);
    await waitLive(page);
    const row = page.locator(`[data-testid=stuck-table] [data-testid=stuck-group][data-method=echo]`).filter({ hasText: `${topic}.${deadServer}` });
    await row.first().waitFor({ timeout: 20_000 });
    expect(await row.first().getAttribute('data-cause')).toBe('no_consumer');
    expect(await row.first().getByTestId('call-cause').innerText()).toContain('No consumer');
    // the group opens its newest call's page
    await row.first().click();
    await page.waitForURL('**/calls/*');
    expect(await page.getByTestId('call-cause-words').innerText()).toContain(`${topic}.${deadServer}`);
    const timeline = await page.getByTestId('call-timeline').innerText();
    expect(timeline).toMatch(/published/i);
    expect(timeline).toMatch(/timeout/i);
  });
});
