/**
 * The Console's fleet ping on the embedded demo: every compute server is
 * found from its queue and answers (the demo services run without
 * rpc_ping_enabled, so with NoSuchMethod: alive), and the dead host, whose
 * queue nobody consumes, is named as not answering.
 */
import { describe, expect, it } from 'vitest';
import { withOsloscopeAndBrowser } from './support/harness.ts';
import { until, waitLive } from './support/setup.ts';

describe('Console: ping a topic fleet (embedded demo)', () => {
  const e2e = withOsloscopeAndBrowser({ cleanExit: true });

  it('lists who answered, with latency, and who did not', async () => {
    await e2e.page.goto(`${e2e.osloscope.url}/console`);
    await waitLive(e2e.page);
    await e2e.page.getByTestId('field-topic').fill('compute');
    await e2e.page.getByTestId('field-exchange').fill('nova');
    await e2e.page.getByTestId('ping-timeout').fill('2');
    await e2e.page.getByTestId('ping-fleet').click();
    const result = e2e.page.getByTestId('ping-result');
    await until(() => result.count(), (n) => n === 1, 'the ping result', 30_000);
    const rows = await e2e.page.getByTestId('ping-row').evaluateAll((els) => els.map((e) => [e.getAttribute('data-server'), e.getAttribute('data-status')]));
    expect(rows).toEqual(
      expect.arrayContaining([
        ['compute-01', 'error'],
        ['compute-02', 'error'],
        ['compute-03', 'error'],
        ['compute-dead', 'timeout'],
      ]),
    );
    expect(await result.getAttribute('data-missing')).toBe('1');
    expect(await e2e.page.getByTestId('ping-summary').innerText()).toMatch(/^\d+ of \d+ answered$/);
    const dead = e2e.page.locator('[data-testid=ping-row][data-server=compute-dead]');
    expect(await dead.innerText()).toMatch(/no reply/);
    const alive = e2e.page.locator('[data-testid=ping-row][data-server=compute-01]');
    expect(await alive.innerText()).toMatch(/\d+(\.\d+)? ms/);
    expect(await alive.innerText()).toMatch(/rpc_ping_enabled/);
  }, 60_000);

  it('suggests exchanges, topics, servers and methods the traffic named, the servers and methods of the topic typed', async () => {
    await e2e.page.goto(`${e2e.osloscope.url}/console`);
    // the demo's notifier publishes to `notifications` every 2.5 s: seen by the tap before the page asks
    const targets = () => e2e.page.evaluate(async () => (await (await fetch('/api/targets')).json()).data as { notificationTopics: string[] });
    await until(targets, (t) => t.notificationTopics.includes('notifications'), 'the notification topic seen by the tap', 30_000);
    await e2e.page.reload();
    await waitLive(e2e.page);
    const options = (id: string) => e2e.page.getByTestId(id).locator('option').evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value));
    // the demo's conductor calls every 250 ms and compute casts every second are what is suggested
    await until(() => options('suggest-topics'), (t) => t.includes('conductor') && t.includes('compute'), 'topics from the traffic', 30_000);
    // a notification topic has no RPC server: never offered as a call target
    expect(await options('suggest-topics')).not.toContain('notifications');
    expect(await options('suggest-exchanges')).toContain('nova');
    expect(await e2e.page.getByTestId('field-topic').getAttribute('list')).toBe('console-topics');
    await e2e.page.getByTestId('field-topic').fill('compute');
    await until(() => options('suggest-methods'), (m) => m.some((x) => ['build_and_run_instance', 'reboot_instance', 'terminate_instance', 'resume_instance'].includes(x)), 'compute methods', 30_000);
    // only the methods of the typed topic: the conductor's are not offered for compute
    expect(await options('suggest-methods')).not.toContain('object_class_action_versions');
    expect((await options('suggest-servers')).every((s) => s.startsWith('compute-'))).toBe(true);
  }, 60_000);
});
