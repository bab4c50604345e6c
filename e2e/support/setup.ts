/**
 * Shared by the e2e specs: build the pages once per run (only when needed,
 * under a lock so parallel spec files wait for one build), and small page
 * helpers.
 */
import type { Page } from 'playwright-core';
import { ensureBuilt } from '../../scripts/build-if-needed.ts';

/** `beforeAll` timeout covering a cold `next build` on a busy 2-core machine. */
export const BUILD_TIMEOUT_MS = 300_000;

const built = new Map<string, Promise<boolean>>();

/** Build the pages once per run; `basePath` (BASE_PATH) has its own build directory. */
export function buildOnce(basePath = ''): Promise<boolean> {
  let b = built.get(basePath);
  if (!b) {
    b = ensureBuilt((line) => process.stderr.write(`[e2e build${basePath ? ` ${basePath}` : ''}] ${line}\n`), basePath);
    built.set(basePath, b);
  }
  return b;
}

/** Wait until the page's socket is live (the header indicator). */
export async function waitLive(page: Page, timeout = 20_000): Promise<void> {
  await page.locator('[data-testid=socket-state][data-state=connected]').waitFor({ timeout });
}

/** Poll a page value until `accept` takes it; returns it (Playwright's expect is not available under Vitest). */
export async function until<T>(read: () => Promise<T>, accept: (v: T) => boolean, what: string, timeout = 20_000, every = 200): Promise<T> {
  const end = Date.now() + timeout;
  let last: T | undefined;
  for (;;) {
    try {
      last = await read();
      if (accept(last)) return last;
    } catch {
      // the element may not exist yet
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}; last value: ${JSON.stringify(last)?.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
