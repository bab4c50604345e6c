/**
 * The embedded default: no broker configured, the memory transport and the
 * demo fleet. Every page shows live, moving data; the dead compute host
 * produces a stuck call the Calls page explains.
 */
import { describe, expect, it } from 'vitest';
import { withOsloscopeAndBrowser } from './support/harness.ts';
import { until, waitLive } from './support/setup.ts';

describe('embedded demo (no TRANSPORT_URL)', () => {
  const e2e = withOsloscopeAndBrowser({
    cleanExit: true,
    // the demo's auth tokens (gAAAAAB…) never reach the logs
    afterStop: (osloscope) => expect(e2e.osloscope.output()).not.toContain('gAAAAAB'),
  });

  it('says it runs the embedded demo transport', async () => {
    await e2e.page.goto(e2e.osloscope.url);
    await waitLive(e2e.page);
    expect(await e2e.page.getByTestId('transport-banner').innerText()).toMatch(/Embedded demo transport/);
    expect(await e2e.page.locator('[data-testid=broker-state]').getAttribute('data-state')).toBe('connected');
  });

  it('shows moving charts with no broker configured', async () => {
    await e2e.page.goto(e2e.osloscope.url);
    await waitLive(e2e.page);
    const chart = e2e.page.getByTestId('rate-chart');
    const keys = await until(() => chart.getAttribute('data-keys'), (k) => (k ?? '').split(',').filter(Boolean).length >= 3, 'demo topics in the chart');
    expect(keys?.split(',')).toEqual(expect.arrayContaining(['conductor', 'compute']));
    const first = Number(await chart.getAttribute('data-updated-at'));
    // the chart keeps updating: a later snapshot replaces the data, and drawn areas exist
    await until(async () => Number(await chart.getAttribute('data-updated-at')), (t) => t > first, 'a chart update', 5000);
    expect(await e2e.page.locator('[data-testid=rate-chart] .recharts-area').count()).toBeGreaterThanOrEqual(3);
    const rate = await until(async () => Number(await e2e.page.getByTestId('total-rate').innerText()), (r) => r > 1, 'a total rate above 1 msg/s');
    expect(rate).toBeGreaterThan(1);
    // firehose on the embedded broker: replies are visible
    expect(await e2e.page.getByTestId('tap-mode').innerText()).toBe('firehose');
    expect(await e2e.page.getByTestId('rate-card').getAttribute('data-stale')).toBe('false');
  });

  it('explains the dead host’s stuck call on Calls', async () => {
    await e2e.page.goto(`${e2e.osloscope.url}/calls`);
    await waitLive(e2e.page);
    // the demo calls compute-dead every ~15 s with a 10 s timeout; do not wait for it: ask too, with 1 s
    const answer = await e2e.page.evaluate(async () => {
      const res = await fetch('/api/rpc', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ target: { exchange: 'nova', topic: 'compute', server: 'compute-dead', version: '6.0' }, method: 'get_host_uptime', timeout: 1 }),
      });
      return res.json();
    });
    expect(answer.error.code).toBe('timeout');
    // stuck calls come grouped by target and cause; a group opens its newest call's page
    const row = e2e.page.locator('[data-testid=stuck-table] [data-testid=stuck-group][data-method=get_host_uptime]');
    await row.first().waitFor({ timeout: 20_000 });
    expect(await row.first().getAttribute('data-cause')).toBe('no_consumer');
    await row.first().click();
    await e2e.page.waitForURL('**/calls/*');
    expect(await e2e.page.getByTestId('call-cause-words').innerText()).toContain('compute.compute-dead');
  }, 60_000);

  it('streams live traffic with details and redacted tokens', async () => {
    await e2e.page.goto(`${e2e.osloscope.url}/live`);
    await waitLive(e2e.page);
    await e2e.page.getByTestId('filter-kind').selectOption('call');
    const row = e2e.page.locator('[data-testid=message-row][data-kind=call]');
    await row.first().waitFor({ timeout: 10_000 });
    // the rows shown before the filter went out give way to the filtered stream
    await until(() => e2e.page.locator('[data-testid=message-row]:not([data-kind=call])').count(), (n) => n === 0, 'only calls listed', 10_000);
    await row.first().click();
    const context = JSON.parse(await e2e.page.getByTestId('drawer-context').innerText());
    expect(context.auth_token).toBe('***');
    // nor anywhere else the browser can read: the page, the message API, the export
    expect(await e2e.page.content()).not.toContain('gAAAAAB');
    const everything = await e2e.page.evaluate(async () => (await (await fetch('/api/messages?limit=5000')).text()) + (await (await fetch('/api/messages?format=ndjson')).text()));
    expect(everything).toContain('"auth_token":"***"');
    expect(everything).not.toContain('gAAAAAB');
    // pausing freezes the list
    await e2e.page.getByTestId('pause').click();
    const frozen = await e2e.page.getByTestId('message-row').count();
    await e2e.page.waitForTimeout(1500);
    expect(await e2e.page.getByTestId('message-row').count()).toBe(frozen);
    expect(await e2e.page.getByTestId('resume').innerText()).toMatch(/Resume \(\d+ new\)/);
    await e2e.page.getByTestId('resume').click();
  }, 60_000);

  it('links a reply to its call, and the call back to its reply', async () => {
    await e2e.page.goto(`${e2e.osloscope.url}/live`);
    await waitLive(e2e.page);
    await e2e.page.getByTestId('filter-kind').selectOption('reply');
    const reply = e2e.page.locator('[data-testid=message-row][data-kind=reply]');
    await reply.first().waitFor({ timeout: 20_000 });
    await e2e.page.getByTestId('pause').click();
    const replyId = (await reply.first().getAttribute('data-id')) ?? '';
    await reply.first().click();
    const toCall = e2e.page.getByTestId('message-call-link');
    expect(await toCall.innerText()).toBe('The call this answers');
    await toCall.click();
    await e2e.page.waitForURL('**/calls/*');
    const msgId = decodeURIComponent(new URL(e2e.page.url()).pathname.split('/').pop() ?? '');
    expect(msgId).toMatch(/^[0-9a-f]{32}$/);
    // the call page names the reply it got, and links to that very message
    const back = e2e.page.getByTestId('call-reply-link');
    await back.waitFor({ timeout: 20_000 });
    // (the Live row carries the tap's id, links the stable <session>.<id> form)
    const replyPath = new URL((await back.getAttribute('href')) ?? '', e2e.osloscope.url).pathname;
    expect(replyPath).toMatch(new RegExp(`^/messages/(\\w+\\.)?${replyId}$`));
    await back.click();
    await e2e.page.getByTestId('message-page').waitFor({ timeout: 20_000 });
    expect(await e2e.page.getByTestId('message-page').getAttribute('data-message-id')).toMatch(new RegExp(`^(\\w+\\.)?${replyId}$`));
    expect(new URL((await e2e.page.getByTestId('message-call-link').getAttribute('href')) ?? '', e2e.osloscope.url).pathname).toBe(`/calls/${msgId}`);
  }, 60_000);

  it('replays a message into the console form', async () => {
    await e2e.page.goto(`${e2e.osloscope.url}/live`);
    await waitLive(e2e.page);
    await e2e.page.getByTestId('filter-method').fill('ping');
    await until(() => e2e.page.getByTestId('filter-query').innerText(), (q) => q === 'method:ping', 'the filter to apply');
    const row = e2e.page.locator('[data-testid=message-row][data-kind=call][data-method=ping]');
    await row.first().waitFor({ timeout: 20_000 });
    expect(await e2e.page.locator('[data-testid=message-row]:not([data-method=ping])').count()).toBe(0);
    await row.first().click();
    await e2e.page.getByTestId('replay-call').click();
    await e2e.page.getByTestId('replay-note').waitFor({ timeout: 10_000 });
    expect(await e2e.page.getByTestId('field-topic').inputValue()).toBe('conductor');
    expect(await e2e.page.getByTestId('field-method').inputValue()).toBe('ping');
    expect(await e2e.page.getByTestId('field-exchange').inputValue()).toBe('nova');
    expect(await e2e.page.getByTestId('field-context').inputValue()).not.toContain('auth_token');
    await e2e.page.getByTestId('fire-submit').click();
    await e2e.page.getByTestId('result-ok').waitFor({ timeout: 10_000 });
    expect(JSON.parse(await e2e.page.getByTestId('result-value').innerText())).toMatchObject({ service: 'conductor', arg: 'demo' });
  });

  it('shows queues and connections per process on Broker', async () => {
    await e2e.page.goto(`${e2e.osloscope.url}/broker`);
    await waitLive(e2e.page);
    await e2e.page.locator('[data-testid=queue-row][data-queue="compute.compute-dead"]').waitFor({ timeout: 10_000 });
    expect(await e2e.page.getByTestId('connections-table').innerText()).toContain('nova-conductor');
  });
});
