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
  /** reply queues of Python callers that exited: they would expire by themselves, the test removes them */
  const orphanReplyQueues: string[] = [];

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
    await deleteBrokerEntities({ queues: [topic, `${topic}.${server}`, `${topic}.${deadServer}`, ...NOTIFICATION_QUEUES, ...orphanReplyQueues], exchanges: [`${topic}_fanout`] }).catch(() => undefined);
    // a clean SIGTERM shutdown, and the transport password never reached the logs
    expect(code).toBe(0);
    expect(osloscope.output()).toContain(RABBIT_REDACTED);
    expect(osloscope.output()).not.toMatch(/guest:guest@/);
  });

  /** nova's two notification topics; the notifier's first publish declares `<topic>.info` (impl_rabbit notify_send), removed after */
  const NOTIFICATION_TOPICS = ['notifications', 'versioned_notifications'];
  const NOTIFICATION_QUEUES = NOTIFICATION_TOPICS.map((t) => `${t}.info`);

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

  it('suggests in the Console the exchange, topic, server and method the Python traffic named, and no demo names nor notification topics', async () => {
    const client = await startPeer('rpc-client', []);
    // a Python notifier on the same control exchange: its topics carry no RPC server
    const notifier = await startPeer('notify', []);
    try {
      await client.rpc({ op: 'call', target: { topic, server }, method: 'add', args: { a: 1, b: 2 }, timeout: 10 });
      const sent = await notifier.notify({ topics: NOTIFICATION_TOPICS, publisher_id: 'compute.py-1', event_type: 'compute.instance.update', priority: 'info', payload: { state: 'active' } });
      expect(sent.ok).toBe(true);
    } finally {
      client.endInput();
      notifier.endInput();
      await Promise.all([client.stop(), notifier.stop()]);
    }
    await page.goto(`${osloscope.url}/console`);
    const options = (id: string) => page.getByTestId(id).locator('option').evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value));
    // the tap saw the notifications before the page asks (so leaving them out below is the suggestions' doing, not a tap that missed them)
    const targets = () => page.evaluate(async () => (await (await fetch('/api/targets')).json()).data as { topics: string[]; notificationTopics: string[] });
    await until(targets, (t) => NOTIFICATION_TOPICS.every((n) => t.notificationTopics.includes(n)), 'the notification topics seen by the tap', 30_000);
    await page.reload();
    await waitLive(page);
    // the suggestions refresh every 15 s
    await until(() => options('suggest-topics'), (t) => t.includes(topic), 'the Python topic among the suggestions', 40_000);
    for (const n of NOTIFICATION_TOPICS) expect(await options('suggest-topics'), n).not.toContain(n);
    expect((await targets()).topics).not.toContain('notifications');
    // typed anyway: a warning, and the first press sends nothing
    await page.getByTestId('field-topic').fill('notifications');
    await page.getByTestId('field-method').fill('add');
    expect(await page.getByTestId('topic-warning').getAttribute('data-reason')).toBe('notification');
    expect(await page.getByTestId('topic-warning').innerText()).toContain('No RPC server behind this topic');
    await page.getByTestId('fire-submit').click();
    await until(() => page.getByTestId('fire-submit').innerText(), (t) => t === 'Fire call anyway', 'the second press asked for');
    // a fired call would show "Waiting for the reply…" here for the whole timeout
    expect(await page.getByTestId('result-card').innerText()).toContain('Fire a message to see its result here.');
    await page.getByTestId('field-method').fill('');
    expect(await options('suggest-exchanges')).toContain('openstack');
    await page.getByTestId('field-topic').fill(topic);
    await until(() => options('suggest-servers'), (v) => v.includes(server), 'the Python server of the topic', 20_000);
    expect(await options('suggest-methods')).toContain('add');
    // the placeholders come from this broker's traffic, never from the demo fleet
    expect(await page.getByTestId('field-server').getAttribute('placeholder')).toBe(server);
    expect(await options('suggest-servers')).not.toContain('compute-01');
    for (const id of ['field-server', 'field-method']) expect(await page.getByTestId(id).getAttribute('placeholder'), id).not.toMatch(/compute-01|get_host_uptime/);
  }, 120_000);

  it("gives the Live filter examples from this broker's traffic, not OpenStack's", async () => {
    const live = await browser.context.newPage();
    try {
      await live.goto(`${osloscope.url}/live`);
      await waitLive(live);
      type Targets = { exchanges: string[]; topics: string[]; notificationTopics: string[]; servers: { topic: string; server: string }[]; methods: { method: string }[] };
      const targets = await live.evaluate(async () => (await (await fetch('/api/targets')).json()).data as Targets);
      // the earlier tests' Python traffic is there to draw from
      expect(targets.topics).toContain(topic);
      const placeholder = (k: string) => live.getByTestId(`filter-${k}`).getAttribute('placeholder');
      // each example is a name the traffic carried (a long one is cut, ending in …)
      const named = (names: string[], hint: string | null) => hint !== null && names.some((n) => n === hint || (hint.endsWith('…') && n.startsWith(hint.slice(0, -1))));
      const topicHint = await until(() => placeholder('topic'), (t) => t !== null && t !== 'a topic', 'a topic from the traffic as the example', 20_000);
      expect(named([...targets.topics, ...targets.notificationTopics], topicHint), topicHint ?? '').toBe(true);
      for (const [k, names] of [
        ['server', targets.servers.map((x) => x.server)],
        ['method', targets.methods.map((x) => x.method)],
        ['exchange', targets.exchanges],
      ] as const) {
        const hint = await placeholder(k);
        expect(named([...names], hint), `${k}: ${hint}`).toBe(true);
      }
    } finally {
      await live.close();
    }
  }, 60_000);

  it("shows an exited Python caller's empty reply queue as expiring, not as a problem", async () => {
    const client = await startPeer('rpc-client', []);
    try {
      await client.rpc({ op: 'call', target: { topic }, method: 'add', args: { a: 20, b: 22 }, timeout: 10 });
    } finally {
      client.endInput();
      await client.stop();
    }
    // the tap saw the call: its reply queue is the caller's
    const replyQ = await until(
      () => page.evaluate(async (t) => {
        type Call = { method: string; target: { topic: string | null }; caller: { replyQ: string | null } };
        const calls = ((await (await fetch('/api/calls/snapshot')).json()) as { data: { inflight: Call[]; stuck: Call[]; done: Call[] } }).data;
        return [...calls.inflight, ...calls.stuck, ...calls.done].filter((c) => c.method === 'add' && c.target.topic === t).map((c) => c.caller.replyQ).filter(Boolean) as string[];
      }, topic),
      (qs) => qs.length > 0,
      "the call's reply queue",
    );
    orphanReplyQueues.push(...replyQ);
    await page.goto(`${osloscope.url}/broker`);
    await waitLive(page);
    // the broker view is read every few seconds: the caller's queue shows once it has lost its consumer
    const row = await until(
      async () => {
        for (const q of replyQ) {
          const r = page.locator(`[data-testid=orphan-reply][data-queue="${q}"]`);
          if ((await r.count()) > 0) return { health: await r.getAttribute('data-health'), text: await r.innerText() };
        }
        return null;
      },
      (r) => r !== null,
      'the exited caller\'s reply queue on the Broker page',
      40_000,
    );
    expect(row?.health).toBe('expiring');
    expect(row?.text).toMatch(/expiring/);
    expect(row?.text).not.toMatch(/never be read/);
  }, 90_000);

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
