/**
 * The shell and the Overview and Broker pages in a real browser: theme
 * (system, toggle, persisted), keyboard shortcuts, the Broker table (regex
 * filter, sorting, rates column, keyboard rows, drawer, cross-links), the
 * bindings-mode wording and the unreachable-broker banner.
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { withOsloscopeAndBrowser } from './support/harness.ts';
import { freePort } from './support/server.ts';
import { until, waitLive } from './support/setup.ts';

const bodyBackground = (page: Page) => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
/** Relative luminance-ish: the sum of the RGB channels. */
const brightness = (rgb: string) => (rgb.match(/\d+/g) ?? []).slice(0, 3).reduce((a, n) => a + Number(n), 0);

describe('shell, Overview and Broker on the embedded demo', () => {
  const e2e = withOsloscopeAndBrowser({ viewport: { width: 1280, height: 800 } });

  it('serves /favicon.ico', async () => {
    const res = await fetch(`${e2e.osloscope.url}/favicon.ico`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).subarray(0, 4)).toEqual(Buffer.from([0, 0, 1, 0]));
  });

  it('follows the system theme until one is chosen, and keeps the choice', async () => {
    await e2e.page.emulateMedia({ colorScheme: 'light' });
    await e2e.page.goto(e2e.osloscope.url);
    await waitLive(e2e.page);
    expect(brightness(await bodyBackground(e2e.page))).toBeGreaterThan(600);
    await e2e.page.emulateMedia({ colorScheme: 'dark' });
    expect(brightness(await bodyBackground(e2e.page))).toBeLessThan(150);
    // system → light → dark
    await e2e.page.getByTestId('theme-toggle').click();
    expect(await e2e.page.getAttribute('html', 'data-theme')).toBe('light');
    expect(brightness(await bodyBackground(e2e.page))).toBeGreaterThan(600);
    await e2e.page.reload();
    await waitLive(e2e.page);
    expect(await e2e.page.getAttribute('html', 'data-theme')).toBe('light');
    expect(brightness(await bodyBackground(e2e.page))).toBeGreaterThan(600);
    await e2e.page.getByTestId('theme-toggle').click();
    expect(await e2e.page.getAttribute('html', 'data-theme')).toBe('dark');
    await e2e.page.getByTestId('theme-toggle').click();
    expect(await e2e.page.getAttribute('html', 'data-theme')).toBeNull();
  }, 90_000);

  it('lists the shortcuts on ?, closes them on Esc, and navigates with g b', async () => {
    await e2e.page.goto(e2e.osloscope.url);
    await waitLive(e2e.page);
    expect(await e2e.page.getByTestId('page-title').innerText()).toBe('Overview');
    await e2e.page.keyboard.press('Shift+Slash');
    await e2e.page.getByTestId('shortcuts').waitFor();
    expect(await e2e.page.getByTestId('shortcuts').innerText()).toMatch(/focus the search box/);
    await e2e.page.keyboard.press('Escape');
    await e2e.page.getByTestId('shortcuts').waitFor({ state: 'hidden' });
    await e2e.page.keyboard.press('g');
    await e2e.page.keyboard.press('b');
    await e2e.page.waitForURL(`${e2e.osloscope.url}/broker`);
    expect(await e2e.page.getByTestId('page-title').innerText()).toBe('Broker');
  }, 60_000);

  it('reaches Live and Calls rows with Tab, moves with the arrows, opens with Enter, closes with Esc; / focuses the search', async () => {
    const page = e2e.page;
    /** Tab until the focused element is one of `selector` (at most 80 presses); its index among them. */
    const tabTo = async (selector: string) => {
      for (let i = 0; i < 80; i++) {
        await page.keyboard.press('Tab');
        const at = await page.evaluate((sel) => Array.from(document.querySelectorAll(sel)).indexOf(document.activeElement as Element), selector);
        if (at >= 0) return at;
      }
      throw new Error(`Tab never reached ${selector}`);
    };
    await page.goto(`${e2e.osloscope.url}/live`);
    await waitLive(page);
    await page.getByTestId('message-row').first().waitFor({ timeout: 20_000 });
    await page.getByTestId('pause').click();
    await page.locator('body').click({ position: { x: 1, y: 1 } });
    expect(await tabTo('[data-testid=message-row]')).toBe(0);
    await page.keyboard.press('ArrowDown');
    const second = await page.evaluate(() => document.activeElement?.getAttribute('data-id'));
    expect(second).toBe(await page.getByTestId('message-row').nth(1).getAttribute('data-id'));
    await page.keyboard.press('Enter');
    await page.getByTestId('message-drawer').waitFor();
    expect(await page.getByTestId('message-drawer').getAttribute('data-message-id')).toMatch(new RegExp(`^(\\w+\\.)?${second}$`));
    await page.keyboard.press('Escape');
    await page.getByTestId('message-drawer').waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-id'))).toBe(second);
    // `/` from anywhere but a field focuses the header search
    await page.keyboard.press('/');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('search-input');

    await page.goto(`${e2e.osloscope.url}/calls`);
    await waitLive(page);
    // the finished calls: a table with many rows
    const done = '[data-testid=done-table] [data-testid=call-row]';
    await page.locator(done).nth(1).waitFor({ timeout: 20_000 });
    await page.locator('body').click({ position: { x: 1, y: 1 } });
    await tabTo(done);
    const focused = () => page.evaluate(() => (document.activeElement?.getAttribute('data-testid') === 'call-row' ? document.activeElement.getAttribute('data-msg-id') : null));
    const before = await focused();
    // (the rows re-sort as calls come and go: the focus moves to another call row, not to a fixed index)
    await page.keyboard.press('ArrowDown');
    const msgId = await focused();
    expect(msgId).toMatch(/^[0-9a-f]{32}$/);
    expect(msgId).not.toBe(before);
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/calls/${msgId}`);
  }, 90_000);

  it('links Top methods to the Live page filtered on the method', async () => {
    await e2e.page.goto(e2e.osloscope.url);
    await waitLive(e2e.page);
    const link = e2e.page.getByTestId('top-method-link').first();
    await link.waitFor({ timeout: 20_000 });
    const href = (await link.getAttribute('href')) ?? '';
    const filter = new URL(href, e2e.osloscope.url).searchParams.get('filter') ?? '';
    expect(filter).toMatch(/method:\S+/);
    expect(filter).toContain(`method:${await link.innerText()}`);
  }, 60_000);

  it('filters Broker queues by regex (a bad one says why), sorts, and opens a row from the keyboard', async () => {
    await e2e.page.goto(`${e2e.osloscope.url}/broker`);
    await waitLive(e2e.page);
    await e2e.page.getByTestId('queue-row').first().waitFor({ timeout: 20_000 });
    const names = () => e2e.page.getByTestId('queue-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-queue') ?? ''));
    const all = await names();
    expect(all.length).toBeGreaterThan(3);

    await e2e.page.getByTestId('queue-filter').fill('^compute\\.');
    const filtered = await until(names, (n) => n.length > 0 && n.length < all.length, 'the regex to filter');
    expect(filtered.every((n) => /^compute\./i.test(n))).toBe(true);
    await e2e.page.getByTestId('queue-filter').fill('compute(');
    expect(await e2e.page.getByTestId('queue-filter-error').innerText()).toMatch(/not a regular expression/);
    expect(await e2e.page.getByTestId('queue-filter').getAttribute('aria-invalid')).toBe('true');
    expect((await names()).length).toBe(all.length);
    await e2e.page.getByTestId('queue-filter').fill('');

    // sort by name, ascending then descending
    await e2e.page.getByTestId('sort-name').click();
    const asc = await names();
    expect(asc).toEqual([...asc].sort((a, b) => a.localeCompare(b)));
    await e2e.page.getByTestId('sort-name').click();
    const desc = await names();
    expect(desc).toEqual([...asc].sort((a, b) => b.localeCompare(a)));
    // depth sorts biggest first
    await e2e.page.getByTestId('sort-depth').click();
    const depths = await e2e.page.getByTestId('queue-row').evaluateAll((rows) => rows.map((r) => Number(r.children[4]?.textContent?.replace(/\D.*$/, '') ?? 0)));
    expect(depths).toEqual([...depths].sort((a, b) => b - a));
    expect(await e2e.page.locator('th[aria-sort="descending"]').count()).toBe(1);

    // rows by keyboard: focus the first, ↓ moves, Enter opens the drawer, Esc closes it
    await e2e.page.getByTestId('queue-row').first().focus();
    await e2e.page.keyboard.press('ArrowDown');
    const second = await e2e.page.evaluate(() => document.activeElement?.getAttribute('data-queue'));
    expect(second).toBe((await names())[1]);
    await e2e.page.keyboard.press('Enter');
    await e2e.page.getByTestId('queue-drawer').waitFor();
    expect(await e2e.page.getByTestId('queue-drawer').innerText()).toContain(second);
    await e2e.page.keyboard.press('Escape');
    await e2e.page.getByTestId('queue-drawer').waitFor({ state: 'detached' });
    expect(await e2e.page.evaluate(() => document.activeElement?.getAttribute('data-queue'))).toBe(second);
  }, 60_000);

  it('links a queue to its live traffic and stuck calls, a server queue to its ping', async () => {
    await e2e.page.goto(`${e2e.osloscope.url}/broker`);
    await e2e.page.getByTestId('queue-filter').fill('^compute\\.');
    const row = e2e.page.locator('[data-testid=queue-row][data-queue^="compute."]').first();
    await row.waitFor({ timeout: 20_000 });
    const queue = (await row.getAttribute('data-queue')) ?? '';
    const server = queue.slice('compute.'.length);
    const live = new URL((await row.getByTestId('queue-live-link').getAttribute('href')) ?? '', e2e.osloscope.url);
    expect(live.pathname).toBe('/live');
    expect(live.searchParams.get('filter')).toBe(`topic:compute server:${server}`);
    const stuck = new URL((await row.getByTestId('queue-stuck-link').getAttribute('href')) ?? '', e2e.osloscope.url);
    expect(stuck.pathname).toBe('/calls');
    expect(stuck.searchParams.get('queue')).toBe(queue);
    await row.getByTestId('queue-ping-link').click();
    await e2e.page.waitForURL(/\/console\?/);
    // the form fills from the URL once the page has hydrated
    await until(() => e2e.page.getByTestId('field-topic').inputValue(), (v) => v === 'compute', 'the prefilled topic');
    expect(await e2e.page.getByTestId('field-server').inputValue()).toBe(server);
    expect(await e2e.page.getByTestId('field-method').inputValue()).toBe('oslo_rpc_server_ping');
  }, 60_000);
});

describe('what the Overview says in bindings mode', () => {
  const e2e = withOsloscopeAndBrowser({ env: { TAP_MODE: 'bindings' }, viewport: { width: 1280, height: 800 } });

  it('counts calls as sent with their reply not observable, without alarm colours', async () => {
    const page = await e2e.browser.context.newPage();
    await page.goto(e2e.osloscope.url);
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
  let port = 0;
  const e2e = withOsloscopeAndBrowser({
    env: async () => {
      port = await freePort(); // nothing listens there
      return { TRANSPORT_URL: `rabbit://watcher:s3cret-pass@127.0.0.1:${port}/`, TAP_MODE: 'bindings' };
    },
    viewport: { width: 1280, height: 800 },
  });

  it('says why, which attempt and when the next one comes, and never the password', async () => {
    const page = await e2e.browser.context.newPage();
    await page.goto(e2e.osloscope.url);
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

  it('does not blame bindings mode or the firehose on Overview, Live and Calls while the broker is unreachable', async () => {
    const page = await e2e.browser.context.newPage();
    const bindingsWords = /bindings mode|reply not observable|turn on the firehose|without replies/i;
    await page.goto(e2e.osloscope.url);
    await waitLive(page);
    await page.getByTestId('broker-banner').waitFor({ timeout: 30_000 });
    await until(() => page.getByTestId('tap-sub').innerText(), (t) => /not tapping yet/.test(t), 'the tap stat to say it waits for its broker');
    expect(await page.getByTestId('inflight-stat').innerText()).toMatch(/Calls in flight/i);
    expect(await page.getByTestId('overview-page').innerText()).not.toMatch(bindingsWords);
    for (const [path, testId] of [
      ['/calls', 'calls-page'],
      ['/live', 'live-page'],
    ] as const) {
      await page.goto(`${e2e.osloscope.url}${path}`);
      await waitLive(page);
      await page.getByTestId('broker-banner').waitFor({ timeout: 30_000 });
      // the status (the banner is drawn from it) and the page's own snapshot have arrived: what it says now it keeps saying
      const text = await until(() => page.getByTestId(testId).innerText(), (t) => !t.includes('Loading…'), `${path} to load`);
      expect(text, path).not.toMatch(bindingsWords);
    }
    await page.close();
  }, 90_000);

  it('offers no demo names as Console placeholders outside the demo', async () => {
    const page = await e2e.browser.context.newPage();
    await page.goto(`${e2e.osloscope.url}/console`);
    await waitLive(page);
    await page.getByTestId('broker-banner').waitFor({ timeout: 30_000 });
    const placeholder = (id: string) => page.getByTestId(id).getAttribute('placeholder');
    expect(await placeholder('field-topic')).toBe('a topic, e.g. conductor');
    expect(await placeholder('field-server')).toBe('(any server of the topic)');
    expect(await placeholder('field-method')).toBe('a method of the topic');
    const demoNames = /compute-01|get_host_uptime|\bcompute\b|\bnova\b/;
    for (const id of ['field-exchange', 'field-topic', 'field-server', 'field-method']) expect(await placeholder(id), id).not.toMatch(demoNames);
    // nothing seen on this transport: the Live filter's examples are generic, not OpenStack's
    await page.goto(`${e2e.osloscope.url}/live`);
    await waitLive(page);
    await page.getByTestId('filter-bar').waitFor();
    const hints = await Promise.all(['exchange', 'topic', 'server', 'method'].map((k) => placeholder(`filter-${k}`)));
    expect(hints).toEqual(['openstack', 'a topic', 'host*', 'get_*']);
    for (const h of hints) expect(h).not.toMatch(demoNames);
    await page.close();
  }, 60_000);
});
