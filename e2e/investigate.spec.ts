/**
 * Investigating a call after the fact, in Debian's Chromium against the real
 * RabbitMQ and a real Python oslo.messaging caller: the caller's timeout log
 * line pasted into the header search box lands on the call's page with the
 * tap's cause; the page survives a reload and opens in a fresh browser. Live
 * filters and the open message live in the URL; stuck calls are grouped; a
 * replay link fills the Console in a fresh browser; a Console call that
 * times out shows why. axe finds no critical or serious violation on the
 * pages this adds.
 *
 * The whole story runs twice: on the default SQLite file (HISTORY_DATABASE)
 * and with DATABASE_URL on PostgreSQL (a database this spec creates on
 * TEST_DATABASE_URL's server, 127.0.0.1:5432 by default, and drops), where
 * the call is found again after the restart from the rows PostgreSQL holds.
 * Without PostgreSQL the second pass skips loudly, except under CI, where it
 * fails.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { createTestDb, postgresAvailable, TEST_PG_ADMIN_URL, type TestDb } from '../server/store/test-db.ts';
import { brokerAvailable, pythonAvailable, startPeer, uniqueName, type PythonPeer } from '../test/interop/python-peer.ts';
import { launchBrowser, type LaunchedBrowser } from './support/browser.ts';
import { startServer, type ServerHandle } from './support/server.ts';
import { BUILD_TIMEOUT_MS, buildOnce, until, waitLive } from './support/setup.ts';

const RABBIT = process.env.TEST_TRANSPORT_URL ?? 'rabbit://guest:guest@127.0.0.1:5672/';
const MANAGEMENT = process.env.TEST_MANAGEMENT_URL;
const AXE_SOURCE = (createRequire(import.meta.url)('axe-core') as { source: string }).source;
const ready = (await brokerAvailable()) && (await pythonAvailable());
if (!ready) console.warn('[e2e] SKIPPED investigate.spec.ts: RabbitMQ or python3-oslo.messaging is missing (run npm test to install them)');
const HAVE_PG = await postgresAvailable();
const PG_SERVER = redactedDbUrl(TEST_PG_ADMIN_URL);
if (!HAVE_PG && !process.env.CI) console.warn(`[e2e] SKIPPED investigate.spec.ts on PostgreSQL: no PostgreSQL answers at ${PG_SERVER} (TEST_DATABASE_URL names another server)`);

/** A database URL without its password. */
function redactedDbUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

const BACKENDS = [
  { backend: 'sqlite', label: 'the SQLite file (HISTORY_DATABASE)' },
  { backend: 'postgres', label: 'PostgreSQL (DATABASE_URL)' },
] as const;

/** Critical and serious axe violations on the page as it is now, one line each. */
async function axeProblems(page: Page, where: string): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: AXE_SOURCE });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, o: object) => Promise<{ violations: { id: string; impact: string | null; nodes: { target: unknown[] }[] }[] }> } }).axe;
    return (await axe.run(document, { resultTypes: ['violations'] })).violations;
  });
  return violations.filter((v) => v.impact === 'critical' || v.impact === 'serious').map((v) => `${where}: ${v.impact} ${v.id} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`);
}

for (const { backend, label } of BACKENDS) describe.skipIf((!ready || (backend === 'postgres' && !HAVE_PG)) && !process.env.CI)(`investigating a call from a pasted log line, stored in ${label}`, () => {
  const topic = uniqueName(`e2e-why-${backend}`);
  const requestId = `req-${randomUUID()}`;
  let osloscope: ServerHandle;
  let caller: PythonPeer;
  let browser: LaunchedBrowser;
  let page: Page;
  let msgId = '';
  let logLine = '';
  // the history store of this run (a SQLite file, or a PostgreSQL database made for it), kept across the restart below
  let db: TestDb | undefined;
  let serverEnv: Record<string, string> = {};

  beforeAll(async () => {
    if (backend === 'postgres' && !HAVE_PG) throw new Error(`PostgreSQL is required under CI: nothing answers at ${PG_SERVER} (TEST_DATABASE_URL)`);
    db = await createTestDb(backend);
    serverEnv = {
      TRANSPORT_URL: RABBIT,
      TAP_MODE: 'auto',
      RPC_RESPONSE_TIMEOUT: '10',
      ...(backend === 'postgres' ? { DATABASE_URL: db.target.url } : { HISTORY_DATABASE: db.target.url }),
      ...(MANAGEMENT ? { RABBITMQ_MANAGEMENT_URL: MANAGEMENT } : {}),
    };
    await buildOnce();
    [osloscope, browser, caller] = await Promise.all([
      startServer(serverEnv),
      launchBrowser({ width: 1280, height: 800 }),
      startPeer('rpc-client', []),
    ]);
    page = await browser.context.newPage();
    await page.goto(`${osloscope.url}/calls`);
    await waitLive(page);
    // on a fresh vhost the control exchange appears with the first publish and the tap binds it a moment
    // later: warm up on another topic until the tap has seen a call, so the one under test is not missed
    await until(
      async () => {
        const warm = await caller.rpc({ op: 'call', target: { topic: `${topic}-warm` }, method: 'warm_up', timeout: 1 });
        const id = warm.ok ? '' : (/message ID ([0-9a-f]{32})/.exec(warm.message)?.[1] ?? '');
        return id ? (await fetch(`${osloscope.url}/api/calls?msgId=${id}`)).status : 0;
      },
      (status) => status === 200,
      'the tap to see a call of the Python caller',
      60_000,
      500,
    );
    // no server ever listened on this topic: the Python caller times out, as nova-api would
    const answer = await caller.rpc({ op: 'call', target: { topic }, method: 'get_console_output', args: { instance: 'vm-1' }, ctxt: { request_id: requestId }, timeout: 2 });
    if (answer.ok) throw new Error('the call to a topic without servers was answered');
    expect(answer.type).toBe('MessagingTimeout');
    msgId = /message ID ([0-9a-f]{32})/.exec(answer.message)?.[1] ?? '';
    expect(msgId).toMatch(/^[0-9a-f]{32}$/);
    // the line as oslo's caller logs it (nova-api's log format around the exception text)
    logLine = `2026-11-30 03:12:44.123 4242 ERROR nova.api.openstack.wsgi [${requestId} 1a2b admin - default default] Unexpected exception in API method: oslo_messaging.exceptions.MessagingTimeout: ${answer.message}`;
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    caller?.endInput();
    await caller?.stop();
    await browser?.close();
    await osloscope?.stop();
    await db?.drop();
  });

  async function causeOnPage(p: Page): Promise<string> {
    await p.locator('[data-testid=call-page][data-found=true]').waitFor({ timeout: 20_000 });
    return until(() => p.getByTestId('call-page').getAttribute('data-cause'), (c) => !!c, 'the call to be classified', 30_000).then((c) => c ?? '');
  }

  it('lands on the call page from the pasted log line, with the right cause, and the page survives a reload and a fresh browser', async () => {
    // the tap's own verdict, read over HTTP: the page must say the same
    const tapCause = await until(
      async () => ((await (await fetch(`${osloscope.url}/api/calls/${msgId}`)).json()) as { data?: { call: { cause: string | null } } }).data?.call.cause ?? null,
      (c) => c !== null,
      'the tap to classify the call',
      30_000,
    );
    expect(tapCause).toBe('unroutable');

    await page.goto(`${osloscope.url}/live`);
    await waitLive(page);
    await page.locator('body').click({ position: { x: 5, y: 200 } });
    await page.keyboard.press('/');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('search-input');
    await page.keyboard.insertText(logLine);
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/calls/${msgId}`, { timeout: 20_000 });
    expect(await causeOnPage(page)).toBe(tapCause);
    const words = await page.getByTestId('call-cause-words').innerText();
    expect(words).toContain('Unroutable');
    expect(words).toContain(topic);
    expect(await page.getByTestId('call-next-steps').locator('li').count()).toBeGreaterThan(0);
    expect(await page.getByTestId('call-target').innerText()).toContain(`topic=${topic}`);
    expect(await page.getByTestId('call-timeline').innerText()).toMatch(/published/i);
    expect(JSON.parse(await page.getByTestId('call-request-body').innerText())).toEqual({ instance: 'vm-1' });

    await page.reload();
    expect(await causeOnPage(page)).toBe(tapCause);

    const fresh = await launchBrowser({ width: 1920, height: 1080 });
    try {
      const p = await fresh.context.newPage();
      await p.goto(`${osloscope.url}/calls/${msgId}`);
      expect(await causeOnPage(p)).toBe(tapCause);
      expect(await axeProblems(p, 'call page')).toEqual([]);
    } finally {
      await fresh.close();
    }
  }, 120_000);

  it('says what it searched when nothing matches', async () => {
    const ghost = 'f'.repeat(32);
    await page.goto(`${osloscope.url}/search?q=${encodeURIComponent(`Timed out waiting for a reply to message ID ${ghost}`)}&from=2026-01-01T00:00:00.000Z`);
    await page.getByTestId('search-empty').waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('search-parsed').innerText()).toContain(ghost);
    expect(await page.getByTestId('search-range').innerText()).toContain('2026-01-01T00:00:00.000Z');
    expect(await page.getByTestId('search-from').inputValue()).toBe('2026-01-01T00:00');
    expect(await axeProblems(page, 'search page')).toEqual([]);
  }, 60_000);

  it('keeps Live filters and the open message in the URL; a request_id finds the call, Esc closes the drawer', async () => {
    await page.goto(`${osloscope.url}/live?filter=${encodeURIComponent(`msg_id:${msgId.slice(0, 8)}`)}`);
    await waitLive(page);
    expect(await page.getByTestId('filter-query').innerText()).toBe(`msg_id:${msgId.slice(0, 8)}`);
    const row = page.locator('[data-testid=message-row][data-kind=call][data-method=get_console_output]');
    await row.first().waitFor({ timeout: 20_000 });
    // keyboard: Tab reaches the rows, Enter opens one, and the URL names it
    await row.first().focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('message-drawer').waitFor();
    // the URL names the message by its stored id (`<run>.<n>`), which a restart does not reuse
    await page.waitForURL((u) => /^[^.]+\.\d+$/.test(u.searchParams.get('m') ?? ''));
    const id = new URL(page.url()).searchParams.get('m');
    expect(await axeProblems(page, 'live drawer')).toEqual([]);
    await page.reload();
    await page.getByTestId('message-drawer').waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('message-drawer').getAttribute('data-message-id')).toBe(id);
    expect(await page.getByTestId('filter-query').innerText()).toBe(`msg_id:${msgId.slice(0, 8)}`);
    await page.keyboard.press('Escape');
    await page.getByTestId('message-drawer').waitFor({ state: 'detached' });
    await page.waitForURL((u) => !u.searchParams.has('m'));

    // the request_id field, typed: the URL follows
    await page.getByTestId('filter-requestId').fill(requestId);
    await page.waitForURL((u) => u.searchParams.get('request_id') === requestId, { timeout: 10_000 });
    await page.locator(`[data-testid=message-row][data-kind=call]`).first().waitFor({ timeout: 20_000 });
  }, 90_000);

  it('groups stuck calls by target and cause, and a group opens its newest call', async () => {
    // a second timeout of the same method: one group, two calls
    const again = await caller.rpc({ op: 'call', target: { topic }, method: 'get_console_output', args: { instance: 'vm-2' }, timeout: 1 });
    expect(again.ok).toBe(false);
    const second = /message ID ([0-9a-f]{32})/.exec(again.ok ? '' : again.message)?.[1];
    await page.goto(`${osloscope.url}/calls?q=${encodeURIComponent(topic)}`);
    await waitLive(page);
    const group = page.locator(`[data-testid=stuck-group][data-method=get_console_output]`);
    await until(() => group.first().getAttribute('data-count'), (n) => n === '2', 'both calls in one group', 30_000);
    expect(await group.count()).toBe(1);
    expect(await group.first().getAttribute('data-cause')).toBe('unroutable');
    expect(await group.first().getAttribute('data-msg-id')).toBe(second);
    expect(await axeProblems(page, 'calls page')).toEqual([]);
    await group.first().focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/calls/${second}`);
    expect(await causeOnPage(page)).toBe('unroutable');
  }, 90_000);

  it('a replay link fills the Console in a fresh browser, and a Console call that times out shows its cause', async () => {
    await page.goto(`${osloscope.url}/live?filter=${encodeURIComponent(`msg_id:${msgId}`)}`);
    await waitLive(page);
    const row = page.locator('[data-testid=message-row][data-kind=call]');
    await row.first().waitFor({ timeout: 20_000 });
    await row.first().click();
    await page.getByTestId('replay-call').click();
    await page.waitForURL('**/console?**');
    const link = page.url();
    const fresh = await launchBrowser();
    try {
      const p = await fresh.context.newPage();
      await p.goto(link);
      await until(() => p.getByTestId('field-topic').inputValue(), (v) => v === topic, 'the topic from the link');
      expect(await p.getByTestId('field-method').inputValue()).toBe('get_console_output');
      expect(JSON.parse(await p.getByTestId('field-args').inputValue())).toEqual({ instance: 'vm-1' });
      expect(await p.getByTestId('replay-note').innerText()).toContain('Replaying message');
      // fire it with a short timeout: nobody serves the topic
      await p.getByTestId('field-timeout').fill('1');
      await p.getByTestId('fire-submit').click();
      await p.getByTestId('result-error').waitFor({ timeout: 15_000 });
      expect(await p.getByTestId('result-error').getAttribute('data-outcome')).toBe('timeout');
      await until(() => p.getByTestId('timeout-cause').getAttribute('data-cause'), (c) => c === 'unroutable', 'the cause under the timeout', 30_000);
      expect(await p.getByTestId('timeout-cause').innerText()).toContain('Unroutable');
    } finally {
      await fresh.close();
    }
  }, 90_000);

  it('finds the call again after osloscope restarts, from the history store', async () => {
    expect(await osloscope.stop()).toBe(0);
    // the stopped server's store holds the call: on PostgreSQL, read its row straight from the database
    if (backend === 'postgres') {
      const client = new pg.Client({ connectionString: db?.target.url });
      await client.connect();
      try {
        const rows = (await client.query<{ cause: string | null; method: string | null }>('SELECT cause, method FROM calls WHERE msg_id = $1', [msgId])).rows;
        expect(rows).toEqual([{ cause: 'unroutable', method: 'get_console_output' }]);
      } finally {
        await client.end();
      }
    }
    osloscope = await startServer(serverEnv, 60_000, osloscope.port);
    // the new server stores where the old one did
    const status = ((await (await fetch(`${osloscope.url}/api/history`)).json()) as { data: { backend: string | null; location: string | null; state: string } }).data;
    expect(status.backend).toBe(backend);
    expect(status.state).toBe('ok');
    // the SQLite file, or postgres://user@host:port/<this spec's database>
    const where = backend === 'postgres' ? new URL(db?.target.url ?? '').pathname : (db?.target.url ?? '');
    expect(status.location?.slice(-where.length)).toBe(where);
    // nothing in the tap's memory now: the answer comes from the store
    await page.goto(`${osloscope.url}/live`);
    await waitLive(page);
    await page.getByTestId('search-input').fill(logLine);
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/calls/${msgId}`, { timeout: 20_000 });
    expect(await causeOnPage(page)).toBe('unroutable');
    expect(JSON.parse(await page.getByTestId('call-request-body').innerText())).toEqual({ instance: 'vm-1' });
  }, 120_000);
});
