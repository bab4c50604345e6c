/**
 * Screenshots of every page against the embedded demo, into
 * docs/screenshots/*.png (laptop 1440×900; the Overview also at 2560×1440).
 *
 *   node --import tsx scripts/screenshots.ts [--url http://127.0.0.1:3000]
 *
 * Without --url it builds the pages when needed and starts its own server.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBuilt, ROOT } from './build-if-needed.ts';
import { launchBrowser } from '../e2e/support/browser.ts';
import { startServer, type ServerHandle } from '../e2e/support/server.ts';

const { values } = parseArgs({ options: { url: { type: 'string' }, wait: { type: 'string', default: '25' } } });
const OUT = join(ROOT, 'docs', 'screenshots');
mkdirSync(OUT, { recursive: true });

let server: ServerHandle | null = null;
let base = values.url;
if (!base) {
  await ensureBuilt();
  server = await startServer({});
  base = server.url;
  // let the demo fleet fill the charts and produce a stuck call
  await new Promise((r) => setTimeout(r, Number(values.wait) * 1000));
}

const shots: { name: string; path: string; viewport?: { width: number; height: number }; prepare?: (page: import('playwright-core').Page) => Promise<void> }[] = [
  { name: 'overview', path: '/' },
  { name: 'overview-wide', path: '/', viewport: { width: 2560, height: 1440 } },
  {
    name: 'live',
    path: '/live',
    prepare: async (page) => {
      await page.getByTestId('message-row').first().waitFor();
      await page.getByTestId('message-row').filter({ has: page.locator('text=call') }).first().click();
      await page.getByTestId('message-drawer').waitFor();
    },
  },
  {
    name: 'console',
    path: '/console',
    prepare: async (page) => {
      await page.getByTestId('field-exchange').fill('nova');
      await page.getByTestId('field-topic').fill('conductor');
      await page.getByTestId('field-version').fill('3.0');
      await page.getByTestId('field-method').fill('instance_get_by_uuid');
      await page.getByTestId('field-args').fill('{"instance_uuid": "00000000-0000-0000-0000-000000000000"}');
      // the demo conductor answers InstanceNotFound now and then; fire until a traceback shows
      for (let i = 0; i < 20; i++) {
        await page.getByTestId('fire-submit').click();
        await page.locator('[data-testid=result-ok], [data-testid=result-error]').first().waitFor();
        if (await page.getByTestId('remote-traceback').count()) break;
      }
    },
  },
  {
    name: 'calls',
    path: '/calls',
    // the stuck calls grouped by target, method and cause (the demo's dead compute host makes some)
    prepare: async (page) => {
      await page.getByTestId('stuck-table').getByTestId('stuck-group').first().waitFor({ timeout: 60_000 });
    },
  },
  { name: 'broker', path: '/broker' },
];

const browser = await launchBrowser();
try {
  for (const s of shots) {
    const page = await browser.context.newPage();
    if (s.viewport) await page.setViewportSize(s.viewport);
    await page.goto(base + s.path);
    await page.getByTestId('socket-state').and(page.locator('[data-state=connected]')).waitFor({ timeout: 15_000 });
    if (s.prepare) await s.prepare(page);
    await page.waitForTimeout(1500);
    await page.screenshot({ path: join(OUT, `${s.name}.png`), fullPage: s.name !== 'overview-wide' });
    process.stdout.write(`docs/screenshots/${s.name}.png\n`);
    await page.close();
  }
} finally {
  await browser.close();
  await server?.stop();
}
