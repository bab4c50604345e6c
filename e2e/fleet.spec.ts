/**
 * Two brokers in one dashboard, in Debian's Chromium: osloscope started with TRANSPORT_URLS naming a
 * vhost on each of two brokers (the cell's own, TEST_MANAGEMENT_URL / TEST_AMQP_HOST, and a second one,
 * TEST_SECOND_MANAGEMENT_URL / TEST_SECOND_AMQP_HOST: in the matrix cell `sid:kolla:fleet` sid's
 * RabbitMQ 4.3 and trixie's 4.0; without a second broker, two vhosts of the local RabbitMQ), a real
 * Python oslo.messaging RPC server and caller on each, traffic on both. The header's selector lists both
 * transports with their state; "All" shows both transports' messages, each row saying its transport;
 * choosing one shows only its traffic, survives a reload and is kept when moving to another page; the
 * Overview shows each transport's health; the Broker page shows each transport's own broker (its
 * RabbitMQ version, its server queue); a Console call on each transport reaches that transport's Python
 * server only; deleting one transport's vhost names that transport down and leaves the other alone.
 */
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { brokerAvailable, osloscopeLayoutOptions, PEER_LAYOUT, pythonAvailable, startPeer, uniqueName, type PythonPeer } from '../test/interop/python-peer.ts';
import { brokerVersion, createBrokerVhost, PRIMARY_BROKER, SECOND_BROKER, TWO_BROKERS, type Broker, type BrokerVhost } from '../test/support/vhosts.ts';
import { launchBrowser, type LaunchedBrowser } from './support/browser.ts';
import { startServer, type ServerHandle } from './support/server.ts';
import { BUILD_TIMEOUT_MS, buildOnce, until, waitLive } from './support/setup.ts';

const NAMES = ['cell1', 'cell2'] as const;
type Name = (typeof NAMES)[number];
/** cell1 on the cell's broker, cell2 on the second one (the same broker when there is no second) */
const BROKERS: Record<Name, Broker> = { cell1: PRIMARY_BROKER, cell2: SECOND_BROKER };
const VERSIONS = { cell1: await brokerVersion(PRIMARY_BROKER), cell2: await brokerVersion(SECOND_BROKER) } as Record<Name, string | null>;
const ready = (await brokerAvailable()) && (await pythonAvailable()) && VERSIONS.cell1 !== null && VERSIONS.cell2 !== null;
if (!ready) {
  console.warn(
    `[e2e] SKIPPED fleet.spec.ts: RabbitMQ, a broker's management API (${[PRIMARY_BROKER, SECOND_BROKER].map((b) => new URL(b.mgmt).host).join(', ')}) or python3-oslo.messaging is missing (run npm test to install them)`,
  );
}
const BROKERS_SAID = TWO_BROKERS ? `two brokers: RabbitMQ ${VERSIONS.cell1} and ${VERSIONS.cell2}` : 'two vhosts of one broker';

const AXE_SOURCE = (createRequire(import.meta.url)('axe-core') as { source: string }).source;

/** The transports of the rows the Live table shows now (each row's data-transport). */
async function rowTransports(page: Page): Promise<string[]> {
  return page.locator('[data-testid=message-row]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-transport') ?? ''));
}

/** Critical and serious axe violations on the page as it is now, one line each. */
async function axeProblems(page: Page, where: string): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: AXE_SOURCE });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, o: object) => Promise<{ violations: { id: string; impact: string | null; nodes: { target: unknown[] }[] }[] }> } }).axe;
    return (await axe.run(document, { resultTypes: ['violations'] })).violations;
  });
  return violations.filter((v) => v.impact === 'critical' || v.impact === 'serious').map((v) => `${where}: ${v.impact} ${v.id} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`);
}

describe.skipIf(!ready && !process.env.CI)(`a fleet of two transports in one dashboard (${BROKERS_SAID}, layout ${PEER_LAYOUT})`, () => {
  // one topic on both brokers: only the transport tells their traffic apart
  const topic = uniqueName('e2e-fleet');
  const vhosts = {} as Record<Name, BrokerVhost>;
  const servers = {} as Record<Name, PythonPeer>;
  const callers = {} as Record<Name, PythonPeer>;
  let osloscope: ServerHandle;
  let browser: LaunchedBrowser;
  let page: Page;
  let traffic: ReturnType<typeof setInterval> | undefined;
  const storeDir = mkdtempSync(join(tmpdir(), 'osloscope-fleet-'));

  beforeAll(async () => {
    await buildOnce();
    console.info(`[fleet] ${NAMES.map((n) => `${n} on ${new URL(BROKERS[n].mgmt).host} (RabbitMQ ${VERSIONS[n]})`).join(', ')}, layout ${PEER_LAYOUT}`);
    for (const name of NAMES) vhosts[name] = await createBrokerVhost(BROKERS[name], `osloscope-e2e-${name}`);
    // osloscope configured like the services (the layout's [oslo_messaging_rabbit] options) through a file
    const conf = join(storeDir, 'osloscope.conf');
    writeFileSync(conf, `[oslo_messaging_rabbit]\n${Object.entries(osloscopeLayoutOptions()).map(([k, v]) => `${k} = ${String(v)}`).join('\n')}\n`);
    const peers = await Promise.all(
      NAMES.flatMap((name) => [
        startPeer('rpc-server', ['--url', vhosts[name].url, '--topic', topic, '--server', `node-${name}`]),
        startPeer('rpc-client', ['--url', vhosts[name].url]),
      ]),
    );
    NAMES.forEach((name, i) => {
      servers[name] = peers[2 * i];
      callers[name] = peers[2 * i + 1];
    });
    [osloscope, browser] = await Promise.all([
      startServer({
        TRANSPORT_URLS: NAMES.map((n) => `${n}=${vhosts[n].url}`).join(','),
        RABBITMQ_MANAGEMENT_URLS: NAMES.map((n) => `${n}=${BROKERS[n].mgmt}`).join(','),
        OSLO_CONFIG_FILES: conf,
        TAP_MODE: 'auto',
        HISTORY_DATABASE: join(storeDir, 'history.sqlite'),
      }),
      launchBrowser({ width: 1440, height: 900 }),
    ]);
    page = await browser.context.newPage();
    // steady traffic on both brokers: a call answered by each broker's own server, every 700 ms
    let n = 0;
    traffic = setInterval(() => {
      n++;
      for (const name of NAMES) void callers[name].rpc({ op: 'call', target: { topic }, method: 'echo', args: { value: `${name}-${n}` }, timeout: 5 }).catch(() => undefined);
    }, 700);
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    if (traffic) clearInterval(traffic);
    await browser?.close();
    for (const name of NAMES) {
      callers[name]?.endInput();
      await callers[name]?.stop();
      await servers[name]?.stop();
    }
    await osloscope?.stop();
    for (const name of NAMES) await vhosts[name]?.remove();
    rmSync(storeDir, { recursive: true, force: true });
  });

  it('lists both transports in the selector, with their state, and the server lists them', async () => {
    const list = (await (await fetch(`${osloscope.url}/api/transports`)).json()) as { ok: boolean; data: { transports: { name: string; url: string; state: string }[] } };
    expect(list.ok).toBe(true);
    expect(list.data.transports.map((t) => t.name)).toEqual([...NAMES]);
    // URLs are shown without their password
    for (const t of list.data.transports) expect(t.url).not.toContain('guest:guest');

    await page.goto(`${osloscope.url}/live`);
    await waitLive(page);
    const selector = page.getByTestId('transport-selector');
    await selector.waitFor({ timeout: 20_000 });
    expect(await selector.getAttribute('data-choice')).toBe('all');
    await selector.click();
    expect(await selector.getAttribute('aria-expanded')).toBe('true');
    const options = page.getByTestId('transport-option');
    expect(await options.evaluateAll((els) => els.map((e) => e.getAttribute('data-name')))).toEqual(['all', ...NAMES]);
    // each transport's dot says its state: both brokers are up
    await until(
      () => options.evaluateAll((els) => els.map((e) => e.getAttribute('data-state')).filter(Boolean)),
      (states) => states.length === 2 && states.every((s) => s === 'connected'),
      'both transports to be connected in the selector',
      30_000,
    );
    // the open list passes axe, in both themes
    const problems: string[] = [];
    for (const theme of ['dark', 'light'] as const) {
      await page.emulateMedia({ colorScheme: theme });
      problems.push(...(await axeProblems(page, `open transport selector (${theme})`)));
    }
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(problems.join('\n')).toBe('');
    // Escape closes the list and gives the focus back to the button
    await page.keyboard.press('Escape');
    expect(await selector.getAttribute('aria-expanded')).toBe('false');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('transport-selector');
  });

  it('shows both transports’ messages under "All", each row naming its transport', async () => {
    await page.goto(`${osloscope.url}/live?filter=${encodeURIComponent(`topic:${topic}`)}`);
    await waitLive(page);
    const seen = await until(
      () => rowTransports(page),
      (ts) => NAMES.every((n) => ts.includes(n)),
      'messages of both transports in the Live table',
      60_000,
      500,
    );
    expect(new Set(seen)).toEqual(new Set(NAMES));
    expect(await page.locator('th', { hasText: 'Transport' }).count()).toBe(1);
    expect(await page.getByTestId('message-transport').first().innerText()).toMatch(/^cell[12]$/);
    await page.screenshot({ path: `${process.env.E2E_SCREENSHOT_DIR ?? '/tmp'}/osloscope-fleet-live.png` });
  });

  it('narrows every page to the chosen transport, by keyboard, and keeps the choice across a reload and the nav', async () => {
    await page.goto(`${osloscope.url}/live?filter=${encodeURIComponent(`topic:${topic}`)}`);
    await waitLive(page);
    // open the selector and choose cell2 with the keyboard: down from "All" to cell1, then cell2
    await page.getByTestId('transport-selector').focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('transport-menu').waitFor();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-name'))).toBe('cell2');
    await page.keyboard.press('Enter');
    await until(() => Promise.resolve(new URL(page.url()).searchParams.get('transport')), (t) => t === 'cell2', 'the URL to carry transport=cell2');
    // the filter stays in the URL beside it
    expect(new URL(page.url()).searchParams.get('filter')).toBe(`topic:${topic}`);

    const onlyCell2 = async (what: string) =>
      until(
        () => rowTransports(page),
        (ts) => ts.length >= 2 && ts.every((t) => t === 'cell2'),
        what,
        45_000,
        500,
      );
    await onlyCell2('only cell2 messages after choosing cell2');
    // the one transport is said in the header, not in every row
    expect(await page.locator('th', { hasText: 'Transport' }).count()).toBe(0);
    // new traffic keeps arriving, still only cell2's
    await page.waitForTimeout(2000);
    expect(new Set(await rowTransports(page))).toEqual(new Set(['cell2']));

    await page.reload();
    await waitLive(page);
    await until(() => page.getByTestId('transport-selector').getAttribute('data-choice'), (c) => c === 'cell2', 'the selector to show cell2 after a reload');
    await onlyCell2('only cell2 messages after a reload');

    // the nav keeps the choice: the Calls page's URL and its rows
    await page.getByTestId('nav-calls').click();
    await page.getByTestId('calls-page').waitFor();
    await until(() => Promise.resolve(new URL(page.url()).searchParams.get('transport')), (t) => t === 'cell2', 'the Calls page URL to keep transport=cell2');
    expect(await page.getByTestId('transport-selector').getAttribute('data-choice')).toBe('cell2');
    const callsOf = await until(
      () => page.locator('[data-testid=call-row]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-transport') ?? '')),
      (ts) => ts.length > 0,
      'calls on the Calls page',
      30_000,
      500,
    );
    expect(new Set(callsOf)).toEqual(new Set(['cell2']));

    // back to the whole fleet: both again
    await page.getByTestId('transport-selector').click();
    await page.locator('[data-testid=transport-option][data-name=all]').click();
    await until(() => Promise.resolve(new URL(page.url()).searchParams.get('transport')), (t) => t === null, 'the URL to drop transport=');
    expect(await page.getByTestId('transport-selector').getAttribute('data-choice')).toBe('all');
  });

  it('shows each transport’s health on the Overview', async () => {
    await page.goto(`${osloscope.url}/`);
    await waitLive(page);
    const rows = page.getByTestId('fleet-transport');
    await until(
      () => rows.evaluateAll((els) => els.map((e) => `${e.getAttribute('data-name')}=${e.getAttribute('data-state')}`)),
      (v) => v.join(',') === 'cell1=connected,cell2=connected',
      'both transports connected on the Overview',
      30_000,
    );
    // no broker banner while both are up
    expect(await page.getByTestId('broker-banner').count()).toBe(0);
    expect((await axeProblems(page, 'overview of a fleet')).join('\n')).toBe('');
  });

  it('fires a Console call on each transport, and it reaches that transport’s server only', async () => {
    for (const name of NAMES) {
      const other = NAMES.find((n) => n !== name) as Name;
      const value = `console-${name}-${Date.now()}`;
      const sinceHere = servers[name].mark();
      const sinceOther = servers[other].mark();
      // a Console link with the transport chosen: the form's transport field starts with it
      await page.goto(`${osloscope.url}/console?transport=${name}`);
      await waitLive(page);
      const field = page.getByTestId('field-transport');
      await until(() => field.inputValue(), (v) => v === name, `the Console's transport field to be ${name}`);
      await page.getByTestId('field-topic').fill(topic);
      await page.getByTestId('field-method').fill('echo');
      await page.getByTestId('field-args').fill(JSON.stringify({ value }));
      await page.getByTestId('field-timeout').fill('10');
      await page.getByTestId('fire-submit').click();
      await page.getByTestId('result-ok').waitFor({ timeout: 20_000 });
      expect(await page.getByTestId('result-card').innerText()).toContain(value);
      if (name === 'cell2') await page.screenshot({ path: `${process.env.E2E_SCREENSHOT_DIR ?? '/tmp'}/osloscope-fleet-console.png` });
      const invoked = await servers[name].waitFor((e) => e.event === 'invoked' && (e.args as { value?: string } | undefined)?.value === value, 10_000, sinceHere);
      expect(invoked.server).toBe(`node-${name}`);
      expect(servers[other].events.slice(sinceOther).some((e) => e.event === 'invoked' && (e.args as { value?: string } | undefined)?.value === value)).toBe(false);
    }

    // the whole fleet chosen: the Console asks which transport before it sends anything
    await page.goto(`${osloscope.url}/console?transport=all`);
    await waitLive(page);
    await page.getByTestId('field-transport').waitFor();
    expect(await page.getByTestId('field-transport').inputValue()).toBe('');
    await page.getByTestId('field-topic').fill(topic);
    await page.getByTestId('field-method').fill('echo');
    await page.getByTestId('fire-submit').click();
    await page.getByTestId('form-invalid').waitFor();
    expect(await page.getByTestId('result-ok').count()).toBe(0);
  });

  it('shows one transport’s broker at a time on the Broker page under "All", and each transport’s own broker version when chosen', async () => {
    await page.goto(`${osloscope.url}/broker`);
    await waitLive(page);
    const tabs = page.getByTestId('broker-transport');
    await until(() => tabs.allTextContents(), (t) => t.map((x) => x.trim()).join(',') === NAMES.join(','), 'a choice of both transports on the Broker page', 20_000);
    const serverQueues = () => page.locator('[data-testid=queue-row]').evaluateAll((rows, t) => rows.map((r) => r.getAttribute('data-queue') ?? '').filter((q) => q.startsWith(`${t}.`)), topic);
    // each broker has its own Python server: its queue, not the other's
    for (const name of NAMES) {
      await tabs.filter({ hasText: name }).click();
      const queues = await until(serverQueues, (qs) => qs.length > 0, `${name}'s server queue`, 20_000);
      expect(queues).toEqual([`${topic}.node-${name}`]);
      // and the health panel reports that same broker (its own RabbitMQ version), not the fleet's first
      const versions = await until(
        () => page.locator('[data-testid=health-nodes] tbody tr td:nth-child(2)').allInnerTexts(),
        (v) => v.length > 0 && v.every((x) => x.trim() === VERSIONS[name]),
        `${name}'s broker version in the health panel under All`,
        45_000,
        500,
      );
      expect(new Set(versions.map((v) => v.trim()))).toEqual(new Set([VERSIONS[name]]));
    }
    // one transport chosen: the broker health lists that transport's own broker, with its RabbitMQ version
    // (sid's 4.3 and trixie's 4.0 in the cell sid:kolla:fleet)
    for (const name of NAMES) {
      await page.goto(`${osloscope.url}/broker?transport=${name}`);
      await waitLive(page);
      const versions = await until(
        () => page.locator('[data-testid=health-nodes] tbody tr td:nth-child(2)').allInnerTexts(),
        (v) => v.length > 0 && v.every((x) => x.trim() !== ''),
        `${name}'s broker nodes with their version`,
        45_000,
        500,
      );
      expect(new Set(versions.map((v) => v.trim()))).toEqual(new Set([VERSIONS[name]]));
    }
    if (TWO_BROKERS) console.info(`[fleet] Broker page: cell1 on RabbitMQ ${VERSIONS.cell1}, cell2 on RabbitMQ ${VERSIONS.cell2}`);
  }, 120_000);

  it('names the transport whose broker is down, with the server’s reason (and next attempt when it has one), and leaves the other alone', async () => {
    await page.screenshot({ path: `${process.env.E2E_SCREENSHOT_DIR ?? '/tmp'}/osloscope-fleet-broker.png` });
    // the vhost goes away under cell2's connections: osloscope retries, and is refused
    await vhosts.cell2.remove();
    await page.goto(`${osloscope.url}/`);
    await waitLive(page);
    const banner = page.locator('[data-testid=broker-banner][data-transport=cell2]');
    await banner.waitFor({ timeout: 60_000 });
    // what the server says of cell2 (GET /api/transports), and the banner says the same
    const entry = await until(
      async () => ((await (await fetch(`${osloscope.url}/api/transports`)).json()) as { data: { transports: { name: string; state: string; reason: string | null; attempt: number | null }[] } }).data.transports.find((t) => t.name === 'cell2'),
      (t) => !!t && t.state !== 'connected' && (t.reason !== null || t.attempt !== null),
      'the server to say why cell2 is down',
      60_000,
    );
    console.info(`[fleet] cell2 after its vhost was deleted: ${JSON.stringify(entry)}`);
    const text = await until(
      () => banner.innerText(),
      (t) => (entry?.attempt != null ? /attempt \d+, next in \d+ s/.test(t) : t.includes(entry?.reason ?? '')),
      'the banner to say why cell2 is down (and the next attempt when the server has one)',
      30_000,
    );
    expect(text).toMatch(/^Transport cell2: /);
    expect(text).not.toContain('guest:guest');
    expect(await page.locator('[data-testid=broker-banner][data-transport=cell1]').count()).toBe(0);
    const states = await until(
      () => page.getByTestId('fleet-transport').evaluateAll((els) => Object.fromEntries(els.map((e) => [e.getAttribute('data-name'), e.getAttribute('data-state')]))),
      (v) => v.cell1 === 'connected' && v.cell2 !== 'connected',
      'cell2 down and cell1 up on the Overview',
      30_000,
    );
    expect(states.cell1).toBe('connected');
    const health = await page.locator('[data-testid=fleet-transport][data-name=cell2] [data-testid=fleet-health-text]').innerText();
    if (entry?.attempt != null) expect(health).toMatch(/attempt \d+/);
    else expect(health).toContain(entry?.reason ?? '');
    // the header's dot for the whole fleet is no longer green, and the selector says which transport is down
    expect(await page.getByTestId('broker-state').getAttribute('data-state')).not.toBe('connected');
    await page.getByTestId('transport-selector').click();
    expect(await page.locator('[data-testid=transport-option][data-name=cell2]').getAttribute('data-state')).not.toBe('connected');
    expect(await page.locator('[data-testid=transport-option][data-name=cell1]').getAttribute('data-state')).toBe('connected');
    await page.screenshot({ path: `${process.env.E2E_SCREENSHOT_DIR ?? '/tmp'}/osloscope-fleet-down.png` });
    await page.keyboard.press('Escape');
  }, 150_000);
});
