/**
 * Access control in the browser (login, viewer vs operator) and the socket's
 * visible, automatic reconnection when the server goes away and comes back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../server/auth/users.ts';
import { launchBrowser, type LaunchedBrowser } from './support/browser.ts';
import { startServer, type ServerHandle } from './support/server.ts';
import { BUILD_TIMEOUT_MS, buildOnce, until, waitLive } from './support/setup.ts';

describe('login and roles', () => {
  let osloscope: ServerHandle;
  let browser: LaunchedBrowser;

  beforeAll(async () => {
    await buildOnce();
    const users = `ada:operator:${await hashPassword('ada-password')},val:viewer:${await hashPassword('val-password')}`;
    [osloscope, browser] = await Promise.all([startServer({ AUTH_USERS: users, SESSION_SECRET: 'e2e-'.repeat(10) }), launchBrowser()]);
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    await osloscope?.stop();
  });

  async function login(user: string, password: string) {
    const page = await browser.context.newPage();
    await page.context().clearCookies();
    await page.goto(`${osloscope.url}/console`);
    // pages need a session: redirected to the login form, keeping where we were going
    await page.getByTestId('login-form').waitFor();
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.getByTestId('login-user').fill(user);
    await page.getByTestId('login-password').fill(password);
    await page.getByTestId('login-submit').click();
    return page;
  }

  it('refuses a wrong password', async () => {
    const page = await login('ada', 'nope');
    expect(await page.getByTestId('login-error').innerText()).toMatch(/Wrong user name or password/);
    await page.close();
  });

  it('lets a viewer watch but not fire', async () => {
    const page = await login('val', 'val-password');
    await page.getByTestId('console-page').waitFor();
    await waitLive(page);
    expect(await page.getByTestId('user-box').innerText()).toContain('val');
    await page.getByTestId('cannot-fire').waitFor();
    expect(await page.getByTestId('fire-submit').isDisabled()).toBe(true);
    await page.close();
  });

  it('lets an operator fire', async () => {
    const page = await login('ada', 'ada-password');
    await page.getByTestId('console-page').waitFor();
    await waitLive(page);
    await page.getByTestId('field-exchange').fill('nova');
    await page.getByTestId('field-topic').fill('conductor');
    await page.getByTestId('field-version').fill('3.0');
    await page.getByTestId('field-method').fill('ping');
    await page.getByTestId('field-args').fill('{"arg": "ada"}');
    await until(() => page.getByTestId('fire-submit').isEnabled(), (v) => v, 'the fire button');
    await page.getByTestId('fire-submit').click();
    await page.getByTestId('result-ok').waitFor({ timeout: 10_000 });
    expect(JSON.parse(await page.getByTestId('result-value').innerText())).toMatchObject({ arg: 'ada' });
    await page.close();
  });
});

describe('bindings mode and socket reconnection', () => {
  let osloscope: ServerHandle;
  let browser: LaunchedBrowser;

  beforeAll(async () => {
    await buildOnce();
    [osloscope, browser] = await Promise.all([startServer({ TAP_MODE: 'bindings' }), launchBrowser()]);
  }, BUILD_TIMEOUT_MS);

  it('says plainly that bindings mode cannot see replies, and how to turn on the firehose', async () => {
    const page = await browser.context.newPage();
    await page.goto(osloscope.url);
    await waitLive(page);
    await until(() => page.getByTestId('tap-mode').innerText(), (m) => m === 'bindings', 'bindings mode');
    const note = await page.getByTestId('tap-no-replies').innerText();
    expect(note).toMatch(/Replies are invisible in bindings mode/);
    expect(note).toContain('rabbitmqctl trace_on -p /');
    expect(note).toContain('TAP_MODE=firehose');
    // the stream shows no replies, and says why
    await page.goto(`${osloscope.url}/live`);
    await waitLive(page);
    await page.getByTestId('message-row').first().waitFor();
    expect(await page.locator('[data-testid=message-row][data-kind=reply]').count()).toBe(0);
    await page.close();
  });

  afterAll(async () => {
    await browser?.close();
    await osloscope?.stop();
  });

  it('shows the lost connection, marks data stale, and comes back by itself', async () => {
    const page = await browser.context.newPage();
    await page.goto(osloscope.url);
    await waitLive(page);
    await until(() => page.getByTestId('rate-chart').getAttribute('data-keys'), (k) => !!k, 'traffic');

    const port = osloscope.port;
    expect(await osloscope.stop()).toBe(0);
    await page.getByTestId('socket-banner').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('socket-banner').innerText()).toMatch(/reconnecting automatically/);
    expect(['reconnecting', 'disconnected']).toContain(await page.getByTestId('socket-state').getAttribute('data-state'));
    await until(() => page.getByTestId('rate-card').getAttribute('data-stale'), (v) => v === 'true', 'the chart to look stale', 10_000);

    osloscope = await startServer({ TAP_MODE: 'bindings' }, 60_000, port);
    await waitLive(page, 30_000);
    await until(() => page.getByTestId('socket-banner').count(), (n) => n === 0, 'the banner to go');
    await until(() => page.getByTestId('rate-card').getAttribute('data-stale'), (v) => v === 'false', 'fresh data again', 10_000);
  }, 90_000);
});
