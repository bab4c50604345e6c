/**
 * Accessibility and layout of every page in Debian's Chromium: axe-core
 * (injected from the npm package) finds no critical or serious violation on
 * any page, an open drawer or the shortcut list, in the dark and the light
 * theme; every page has one h1; and at 800, 1280 and 1920 px nothing is cut
 * silently (the page does not scroll sideways, a table wider than its card
 * sits in a scrolling region).
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, type LaunchedBrowser } from './support/browser.ts';
import { startServer, type ServerHandle } from './support/server.ts';
import { BUILD_TIMEOUT_MS, buildOnce, waitLive } from './support/setup.ts';

const AXE_SOURCE = (createRequire(import.meta.url)('axe-core') as { source: string }).source;
const PAGES = ['/', '/live', '/console', '/calls', '/broker', '/login'];
const WIDTHS = [
  { width: 800, height: 900 },
  { width: 1280, height: 800 },
  { width: 1920, height: 1080 },
];

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[]; failureSummary?: string }[];
}

/** Critical and serious axe violations of what the page shows now. */
export async function axeViolations(page: Page): Promise<Violation[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: AXE_SOURCE });
  const result = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, o: object) => Promise<{ violations: Violation[] }> } }).axe;
    return axe.run(document, { resultTypes: ['violations'] });
  });
  return result.violations
    .filter((v) => v.impact === 'critical' || v.impact === 'serious')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target, failureSummary: n.failureSummary })) }));
}

function describeViolations(where: string, vs: Violation[]): string {
  return vs.map((v) => `${where}: ${v.impact} ${v.id} (${v.help}) at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`).join('\n');
}

/** Where something is cut: the page scrolls sideways, or a table overflows its card outside any scrolling region. */
async function clipping(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    const doc = document.documentElement;
    if (doc.scrollWidth > doc.clientWidth + 1) out.push(`the page is ${doc.scrollWidth}px wide in a ${doc.clientWidth}px window`);
    for (const table of Array.from(document.querySelectorAll('table'))) {
      const card = table.closest('.card, .drawer, dialog');
      if (!card) continue;
      const t = table.getBoundingClientRect();
      const c = card.getBoundingClientRect();
      if (t.right <= c.right + 1) continue;
      let el: HTMLElement | null = table.parentElement;
      let scrolls = false;
      while (el && el !== card) {
        const ox = getComputedStyle(el).overflowX;
        if ((ox === 'auto' || ox === 'scroll') && el.scrollWidth > el.clientWidth) scrolls = true;
        el = el.parentElement;
      }
      if (!scrolls) out.push(`a table (${table.getAttribute('data-testid') ?? table.className}) is ${Math.round(t.right - c.right)}px wider than its card and does not scroll`);
    }
    return out;
  });
}

async function settle(page: Page, path: string): Promise<void> {
  if (path !== '/login') await waitLive(page);
  // let the first snapshots render
  await page.waitForLoadState('networkidle').catch(() => undefined);
}

describe('accessibility and layout of every page', () => {
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

  it('has no critical or serious axe violation on any page, in both themes', async () => {
    const found: string[] = [];
    for (const theme of ['dark', 'light'] as const) {
      await page.emulateMedia({ colorScheme: theme });
      for (const path of PAGES) {
        await page.goto(`${osloscope.url}${path}`);
        await settle(page, path);
        // the Live page needs rows before the table is what users see
        if (path === '/live') await page.getByTestId('message-row').first().waitFor({ timeout: 20_000 });
        found.push(describeViolations(`${path} (${theme})`, await axeViolations(page)));
        expect(await page.locator('h1').count(), `one h1 on ${path}`).toBe(1);
        expect(await page.locator('th:empty').count(), `no empty table header on ${path}`).toBe(0);
      }
    }
    expect(found.filter(Boolean).join('\n')).toBe('');
  }, 240_000);

  it('has none with a drawer or the shortcut list open', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    const found: string[] = [];
    await page.goto(`${osloscope.url}/live`);
    await settle(page, '/live');
    // rows keep arriving at the top: pause the stream so a row stands still
    await page.getByTestId('message-row').first().waitFor({ timeout: 20_000 });
    await page.getByTestId('pause').click();
    await page.getByTestId('message-row').first().click();
    await page.getByTestId('message-drawer').waitFor();
    found.push(describeViolations('live drawer', await axeViolations(page)));

    await page.goto(`${osloscope.url}/broker`);
    await settle(page, '/broker');
    await page.getByTestId('queue-row').first().click();
    await page.getByTestId('queue-drawer').waitFor();
    found.push(describeViolations('broker drawer', await axeViolations(page)));

    await page.keyboard.press('Escape');
    await page.getByTestId('queue-drawer').waitFor({ state: 'detached' });
    await page.keyboard.press('Shift+Slash');
    await page.getByTestId('shortcuts').waitFor();
    found.push(describeViolations('shortcut list', await axeViolations(page)));
    expect(found.filter(Boolean).join('\n')).toBe('');
  }, 120_000);

  it('holds at 800, 1280 and 1920 px: no page scrolls sideways, no table is cut', async () => {
    const found: string[] = [];
    for (const size of WIDTHS) {
      await page.setViewportSize(size);
      for (const path of ['/', '/broker', '/console', '/live', '/calls']) {
        await page.goto(`${osloscope.url}${path}`);
        await settle(page, path);
        if (path === '/') await page.getByTestId('top-methods-table').waitFor({ timeout: 20_000 });
        if (path === '/broker') await page.getByTestId('queue-table').waitFor({ timeout: 20_000 });
        for (const c of await clipping(page)) found.push(`${path} at ${size.width}px: ${c}`);
        await page.screenshot({ path: `${process.env.E2E_SCREENSHOT_DIR ?? '/tmp'}/osloscope${path === '/' ? '-overview' : path.replace('/', '-')}-${size.width}.png` });
      }
    }
    await page.setViewportSize({ width: 1280, height: 800 });
    expect(found.join('\n')).toBe('');
  }, 240_000);
});
