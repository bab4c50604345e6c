/**
 * Accessibility and layout of every page in Debian's Chromium: axe-core
 * (injected from the npm package) finds no critical or serious violation on
 * any page, an open drawer or the shortcut list, in the dark and the light
 * theme; every page has one h1; and at 800, 1280 and 1920 px nothing is cut
 * silently (the page does not scroll sideways, a table wider than its card
 * sits in a scrolling region). With a fleet of two transports, the header's
 * transport selector open passes axe as well.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { withOsloscopeAndBrowser } from './support/harness.ts';
import { waitLive } from './support/setup.ts';

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

/**
 * Where something is cut: the page scrolls sideways; a table overflows its card outside any scrolling
 * region; a table that scrolls sideways lets its first column go; at 1280 px and wider a table needs
 * scrolling sideways at all (every column is seen at once there); a header's words spill out of it;
 * or a cell cuts its text (an ellipsis) to fewer than about a dozen characters.
 */
async function clipping(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    const doc = document.documentElement;
    const wide = doc.clientWidth >= 1200;
    if (doc.scrollWidth > doc.clientWidth + 1) out.push(`the page is ${doc.scrollWidth}px wide in a ${doc.clientWidth}px window`);
    for (const table of Array.from(document.querySelectorAll('table'))) {
      const card = table.closest('.card, .drawer, dialog');
      if (!card) continue;
      const tname = table.getAttribute('data-testid') ?? table.className;
      const t = table.getBoundingClientRect();
      let scroller: HTMLElement | null = null;
      for (let el = table.parentElement; el && el !== card; el = el.parentElement) {
        const ox = getComputedStyle(el).overflowX;
        if ((ox === 'auto' || ox === 'scroll') && el.scrollWidth > el.clientWidth + 1) scroller = el;
      }
      if (!scroller) {
        if (t.right > card.getBoundingClientRect().right + 1) out.push(`a table (${tname}) is ${Math.round(t.right - card.getBoundingClientRect().right)}px wider than its card and does not scroll`);
      } else {
        if (wide) out.push(`a table (${tname}) needs ${scroller.scrollWidth - scroller.clientWidth}px of sideways scrolling in a ${doc.clientWidth}px window`);
        const first = table.querySelector('th');
        if (first && getComputedStyle(first).position !== 'sticky') out.push(`a table (${tname}) scrolls sideways without holding its first column`);
      }
      for (const th of Array.from(table.querySelectorAll('th'))) {
        const style = getComputedStyle(th);
        if (th.scrollWidth > th.clientWidth + 1 && style.overflowX === 'visible') out.push(`the header "${th.textContent}" of ${tname} spills out of its column`);
      }
      for (const td of Array.from(table.querySelectorAll('td'))) {
        if (td.scrollWidth <= td.clientWidth + 1 || getComputedStyle(td).textOverflow !== 'ellipsis') continue;
        if (td.clientWidth < 96) {
          out.push(`a cell of ${tname} cuts "${td.textContent?.slice(0, 40)}" to ${td.clientWidth}px`);
          break;
        }
      }
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
  const e2e = withOsloscopeAndBrowser({ viewport: { width: 1280, height: 800 } });

  it('has no critical or serious axe violation on any page, in both themes', async () => {
    const found: string[] = [];
    for (const theme of ['dark', 'light'] as const) {
      await e2e.page.emulateMedia({ colorScheme: theme });
      for (const path of PAGES) {
        await e2e.page.goto(`${e2e.osloscope.url}${path}`);
        await settle(e2e.page, path);
        // the Live page needs rows before the table is what users see
        if (path === '/live') await e2e.page.getByTestId('message-row').first().waitFor({ timeout: 20_000 });
        found.push(describeViolations(`${path} (${theme})`, await axeViolations(e2e.page)));
        expect(await e2e.page.locator('h1').count(), `one h1 on ${path}`).toBe(1);
        expect(await e2e.page.locator('th:empty').count(), `no empty table header on ${path}`).toBe(0);
      }
    }
    expect(found.filter(Boolean).join('\n')).toBe('');
  }, 240_000);

  it('has none with a drawer or the shortcut list open', async () => {
    await e2e.page.emulateMedia({ colorScheme: 'dark' });
    const found: string[] = [];
    await e2e.page.goto(`${e2e.osloscope.url}/live`);
    await settle(e2e.page, '/live');
    // rows keep arriving at the top: pause the stream so a row stands still
    await e2e.page.getByTestId('message-row').first().waitFor({ timeout: 20_000 });
    await e2e.page.getByTestId('pause').click();
    await e2e.page.getByTestId('message-row').first().click();
    await e2e.page.getByTestId('message-drawer').waitFor();
    found.push(describeViolations('live drawer', await axeViolations(e2e.page)));

    await e2e.page.goto(`${e2e.osloscope.url}/broker`);
    await settle(e2e.page, '/broker');
    await e2e.page.getByTestId('queue-row').first().click();
    await e2e.page.getByTestId('queue-drawer').waitFor();
    found.push(describeViolations('broker drawer', await axeViolations(e2e.page)));

    await e2e.page.keyboard.press('Escape');
    await e2e.page.getByTestId('queue-drawer').waitFor({ state: 'detached' });
    await e2e.page.keyboard.press('Shift+Slash');
    await e2e.page.getByTestId('shortcuts').waitFor();
    found.push(describeViolations('shortcut list', await axeViolations(e2e.page)));
    expect(found.filter(Boolean).join('\n')).toBe('');
  }, 120_000);

  it('holds at 800, 1280 and 1920 px: no page scrolls sideways, no table is cut', async () => {
    const found: string[] = [];
    // a call page too: the dead host's stuck call, the newest of its group
    await e2e.page.goto(`${e2e.osloscope.url}/calls`);
    await settle(e2e.page, '/calls');
    const newest = e2e.page.getByTestId('stuck-sample').first();
    await newest.waitFor({ timeout: 30_000 });
    const callPath = new URL((await newest.getAttribute('href')) ?? '', e2e.osloscope.url).pathname;
    expect(callPath).toMatch(/^\/calls\/[0-9a-f]{32}$/);
    for (const size of WIDTHS) {
      await e2e.page.setViewportSize(size);
      for (const path of ['/', '/broker', '/console', '/live', '/calls', callPath]) {
        await e2e.page.goto(`${e2e.osloscope.url}${path}`);
        await settle(e2e.page, path);
        // what is measured is there: the tables with rows
        if (path === '/') await e2e.page.getByTestId('top-methods-table').waitFor({ timeout: 20_000 });
        if (path === '/broker') await e2e.page.getByTestId('queue-table').waitFor({ timeout: 20_000 });
        if (path === '/live') await e2e.page.getByTestId('message-row').first().waitFor({ timeout: 20_000 });
        if (path === '/calls') await e2e.page.getByTestId('done-table').waitFor({ timeout: 20_000 });
        if (path === callPath) await e2e.page.getByTestId('call-timeline').waitFor({ timeout: 20_000 });
        for (const c of await clipping(e2e.page)) found.push(`${path} at ${size.width}px: ${c}`);
        const shot = path === '/' ? '-overview' : path === callPath ? '-call' : path.replace('/', '-');
        await e2e.page.screenshot({ path: `${process.env.E2E_SCREENSHOT_DIR ?? '/tmp'}/osloscope${shot}-${size.width}.png` });
      }
    }
    await e2e.page.setViewportSize({ width: 1280, height: 800 });
    expect(found.join('\n')).toBe('');
  }, 240_000);
});

describe('accessibility of a fleet of transports', () => {
  // two in-process brokers: the header's transport selector and the Overview's transport list appear
  const e2e = withOsloscopeAndBrowser({ viewport: { width: 1280, height: 800 }, env: { TRANSPORT_URLS: 'nova=memory://,neutron=memory://' } });

  it('has no critical or serious axe violation with the transport selector open, in both themes', async () => {
    const found: string[] = [];
    for (const theme of ['dark', 'light'] as const) {
      await e2e.page.emulateMedia({ colorScheme: theme });
      await e2e.page.goto(`${e2e.osloscope.url}/`);
      await settle(e2e.page, '/');
      await e2e.page.getByTestId('fleet-health').waitFor({ timeout: 20_000 });
      await e2e.page.getByTestId('transport-selector').click();
      await e2e.page.getByTestId('transport-menu').waitFor();
      found.push(describeViolations(`open transport selector (${theme})`, await axeViolations(e2e.page)));
      await e2e.page.screenshot({ path: `${process.env.E2E_SCREENSHOT_DIR ?? '/tmp'}/osloscope-fleet-selector-${theme}.png` });
      await e2e.page.keyboard.press('Escape');
      expect(await e2e.page.getByTestId('transport-menu').count()).toBe(0);
    }
    expect(found.filter(Boolean).join('\n')).toBe('');
  }, 120_000);
});
