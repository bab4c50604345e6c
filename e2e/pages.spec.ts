/**
 * The shell and the Overview and Broker pages in a real browser: theme
 * (system, toggle, persisted), keyboard shortcuts, the Broker table (regex
 * filter, sorting, rates column, keyboard rows, drawer, cross-links), the
 * bindings-mode wording and the unreachable-broker banner.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, type LaunchedBrowser } from './support/browser.ts';
import { freePort, startServer, type ServerHandle } from './support/server.ts';
import { BUILD_TIMEOUT_MS, buildOnce, until, waitLive } from './support/setup.ts';

const bodyBackground = (page: Page) => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
/** Relative luminance-ish: the sum of the RGB channels. */
const brightness = (rgb: string) => (rgb.match(/\d+/g) ?? []).slice(0, 3).reduce((a, n) => a + Number(n), 0);

describe('shell, Overview and Broker on the embedded demo', () => {
  let osloscope: ServerHandle;
  let browser: LaunchedBrowser;
  let page: Page;

  beforeAll(async () => {
    await buildOnce();
    [osloscope, browser] = await Promise.all([startServer(), launchBrowser({ width: 1280, height: 800 })]);
    page = await browser.context.newPage();
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    await osloscope?.stop();
  });

  it('serves /favicon.ico', async () => {
    const res = await fetch(`${osloscope.url}/favicon.ico`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).subarray(0, 4)).toEqual(Buffer.from([0, 0, 1, 0]));
  });

  it('follows the system theme until one is chosen, and keeps the choice', async () => {
    await page.emulateMedia({ colorScheme: 'light' });
    await page.goto(osloscope.url);
    await waitLive(page);
    expect(brightness(await bodyBackground(page))).toBeGreaterThan(600);
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(brightness(await bodyBackground(page))).toBeLessThan(150);
    // system → light → dark
    await page.getByTestId('theme-toggle').click();
    expect(await page.getAttribute('html', 'data-theme')).toBe('light');
    expect(brightness(await bodyBackground(page))).toBeGreaterThan(600);
    await page.reload();
    await waitLive(page);
    expect(await page.getAttribute('html', 'data-theme')).toBe('light');
    expect(brightness(await bodyBackground(page))).toBeGreaterThan(600);
    await page.getByTestId('theme-toggle').click();
    expect(await page.getAttribute('html', 'data-theme')).toBe('dark');
    await page.getByTestId('theme-toggle').click();
    expect(await page.getAttribute('html', 'data-theme')).toBeNull();
  }, 90_000);

  it('lists the shortcuts on ?, closes them on Esc, and navigates with g b', async () => {
    await page.goto(osloscope.url);
    await waitLive(page);
    expect(await page.getByTestId('page-title').innerText()).toBe('Overview');
    await page.keyboard.press('Shift+Slash');
    await page.getByTestId('shortcuts').waitFor();
    expect(await page.getByTestId('shortcuts').innerText()).toMatch(/focus the search box/);
    await page.keyboard.press('Escape');
    await page.getByTestId('shortcuts').waitFor({ state: 'hidden' });
    await page.keyboard.press('g');
    await page.keyboard.press('b');
    await page.waitForURL(`${osloscope.url}/broker`);
    expect(await page.getByTestId('page-title').innerText()).toBe('Broker');
  }, 60_000);

  it('links Top methods to the Live page filtered on the method', async () => {
    await page.goto(osloscope.url);
    await waitLive(page);
    const link = page.getByTestId('top-method-link').first();
    await link.waitFor({ timeout: 20_000 });
    const href = (await link.getAttribute('href')) ?? '';
    const filter = new URL(href, osloscope.url).searchParams.get('filter') ?? '';
    expect(filter).toMatch(/method:\S+/);
    expect(filter).toContain(`method:${await link.innerText()}`);
  }, 60_000);

  it('filters Broker queues by regex (a bad one says why), sorts, and opens a row from the keyboard', async () => {
    await page.goto(`${osloscope.url}/broker`);
    await waitLive(page);
    await page.getByTestId('queue-row').first().waitFor({ timeout: 20_000 });
    const names = () => page.getByTestId('queue-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-queue') ?? ''));
    const all = await names();
    expect(all.length).toBeGreaterThan(3);

    await page.getByTestId('queue-filter').fill('^compute\\.');
    const filtered = await until(names, (n) => n.length > 0 && n.length < all.length, 'the regex to filter');
    expect(filtered.every((n) => /^compute\./i.test(n))).toBe(true);
    await page.getByTestId('queue-filter').fill('compute(');
    expect(await page.getByTestId('queue-filter-error').innerText()).toMatch(/not a regular expression/);
    expect(await page.getByTestId('queue-filter').getAttribute('aria-invalid')).toBe('true');
    expect((await names()).length).toBe(all.length);
    await page.getByTestId('queue-filter').fill('');

    // sort by name, ascending then descending
    await page.getByTestId('sort-name').click();
    const asc = await names();
    expect(asc).toEqual([...asc].sort((a, b) => a.localeCompare(b)));
    await page.getByTestId('sort-name').click();
    const desc = await names();
    expect(desc).toEqual([...asc].sort((a, b) => b.localeCompare(a)));
    // depth sorts biggest first
    await page.getByTestId('sort-depth').click();
    const depths = await page.getByTestId('queue-row').evaluateAll((rows) => rows.map((r) => Number(r.children[4]?.textContent?.replace(/\D.*$/, '') ?? 0)));
    expect(depths).toEqual([...depths].sort((a, b) => b - a));
    expect(await page.locator('th[aria-sort="descending"]').count()).toBe(1);

    // rows by keyboard: focus the first, ↓ moves, Enter opens the drawer, Esc closes it
    await page.getByTestId('queue-row').first().focus();
    await page.keyboard.press('ArrowDown');
    const second = await page.evaluate(() => document.activeElement?.getAttribute('data-queue'));
    expect(second).toBe((await names())[1]);
    await page.keyboard.press('Enter');
    await page.getByTestId('queue-drawer').waitFor();
    expect(await page.getByTestId('queue-drawer').innerText()).toContain(second);
    await page.keyboard.press('Escape');
    await page.getByTestId('queue-drawer').waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-queue'))).toBe(second);
  }, 60_000);

  it('links a queue to its live traffic and stuck calls, a server queue to its ping', async () => {
    await page.goto(`${osloscope.url}/broker`);
    await page.getByTestId('queue-filter').fill('^compute\\.');
    const row = page.locator('[data-testid=queue-row][data-queue^="compute."]').first();
    await row.waitFor({ timeout: 20_000 });
    const queue = (await row.getAttribute('data-queue')) ?? '';
    const server = queue.slice('compute.'.length);
    const live = new URL((await row.getByTestId('queue-live-link').getAttribute('href')) ?? '', osloscope.url);
    expect(live.pathname).toBe('/live');
    expect(live.searchParams.get('filter')).toBe(`topic:compute server:${server}`);
    const stuck = new URL((await row.getByTestId('queue-stuck-link').getAttribute('href')) ?? '', osloscope.url);
    expect(stuck.pathname).toBe('/calls');
    expect(stuck.searchParams.get('queue')).toBe(queue);
    await row.getByTestId('queue-ping-link').click();
    await page.waitForURL(/\/console\?/);
    // the form fills from the URL once the page has hydrated
    await until(() => page.getByTestId('field-topic').inputValue(), (v) => v === 'compute', 'the prefilled topic');
    expect(await page.getByTestId('field-server').inputValue()).toBe(server);
    expect(await page.getByTestId('field-method').inputValue()).toBe('oslo_rpc_server_ping');
  }, 60_000);
});

describe('what the Overview says in bindings mode', () => {
  let osloscope: ServerHandle;
  let browser: LaunchedBrowser;

  beforeAll(async () => {
    await buildOnce();
    [osloscope, browser] = await Promise.all([startServer({ TAP_MODE: 'bindings' }), launchBrowser({ width: 1280, height: 800 })]);
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    await osloscope?.stop();
  });

  it('counts calls as sent with their reply not observable, without alarm colours', async () => {
    const page = await browser.context.newPage();
    await page.goto(osloscope.url);
    await waitLive(page);
    await until(() => page.getByTestId('tap-mode').innerText(), (m) => m === 'bindings', 'bindings mode');
    const stat = page.getByTestId('inflight-stat');
    expect(await stat.innerText()).toMatch(/Calls sent/i);
    expect(await page.getByTestId('inflight-blind').innerText()).toBe('sent, reply not observable');
    expect(await stat.innerText()).not.toMatch(/in flight/i);
    expect(await page.getByTestId('overview-page').innerText()).not.toMatch(/\(or \)/);
    expect(await page.locator('.stat.tone-bad').count()).toBe(0);
    await page.close();
  }, 60_000);
});

describe('the banner when the broker cannot be reached', () => {
  let osloscope: ServerHandle;
  let browser: LaunchedBrowser;
  let port = 0;

  beforeAll(async () => {
    await buildOnce();
    port = await freePort(); // nothing listens there
    [osloscope, browser] = await Promise.all([
      startServer({ TRANSPORT_URL: `rabbit://watcher:s3cret-pass@127.0.0.1:${port}/`, TAP_MODE: 'bindings' }),
      launchBrowser({ width: 1280, height: 800 }),
    ]);
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    await osloscope?.stop();
  });

  it('says why, which attempt and when the next one comes, and never the password', async () => {
    const page = await browser.context.newPage();
    await page.goto(osloscope.url);
    await waitLive(page);
    const banner = page.getByTestId('broker-banner');
    await banner.waitFor({ timeout: 30_000 });
    const text = await until(() => banner.innerText(), (t) => /^broker unreachable: /.test(t), 'the retry banner', 30_000);
    expect(text).toMatch(new RegExp(`^broker unreachable: .*ECONNREFUSED.*${port}.*, retrying \\(attempt \\d+, next in \\d+ s\\)$`));
    const first = Number(/attempt (\d+)/.exec(text)?.[1]);
    await until(() => banner.innerText(), (t) => Number(/attempt (\d+)/.exec(t)?.[1]) > first, 'a later attempt', 30_000);
    expect(await page.content()).not.toContain('s3cret-pass');
    await page.close();
  }, 90_000);
});
