/**
 * The setup most specs share, once: build the pages (once per run), start
 * osloscope and Chromium side by side before the describe block's tests, open
 * a page, and close both afterwards. Call it inside `describe`; its fields are
 * set once `beforeAll` has run.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, type LaunchedBrowser } from './browser.ts';
import { startServer, type ServerHandle } from './server.ts';
import { BUILD_TIMEOUT_MS, buildOnce } from './setup.ts';

export interface HarnessOptions {
  /** the server's environment, or a function that makes it (a free port, a vhost) before the start */
  env?: Record<string, string> | (() => Promise<Record<string, string>>);
  /** Chromium's window; launchBrowser's default when absent */
  viewport?: { width: number; height: number };
  /** assert that the server exits with 0 when stopped */
  cleanExit?: boolean;
  /** more checks once the server has stopped (its output, say) */
  afterStop?: (osloscope: ServerHandle) => void;
}

export interface Harness {
  readonly osloscope: ServerHandle;
  readonly browser: LaunchedBrowser;
  /** a page opened in the browser's context, shared by the block's tests */
  readonly page: Page;
}

export function withOsloscopeAndBrowser(options: HarnessOptions = {}): Harness {
  let osloscope: ServerHandle | undefined;
  let browser: LaunchedBrowser | undefined;
  let page: Page | undefined;

  beforeAll(async () => {
    await buildOnce();
    const env = typeof options.env === 'function' ? await options.env() : (options.env ?? {});
    [osloscope, browser] = await Promise.all([startServer(env), launchBrowser(options.viewport)]);
    page = await browser.context.newPage();
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    const code = await osloscope?.stop();
    if (!osloscope) return;
    if (options.cleanExit) expect(code).toBe(0);
    options.afterStop?.(osloscope);
  });

  const ready = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${what} is not started: use the harness inside a test of its describe block`);
    return v;
  };
  return {
    get osloscope() {
      return ready(osloscope, 'osloscope');
    },
    get browser() {
      return ready(browser, 'the browser');
    },
    get page() {
      return ready(page, 'the page');
    },
  };
}
