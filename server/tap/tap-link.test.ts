/**
 * LinkCycle on the memory transport: reconfigurations one at a time, the state through a connection kill
 * (recovering, then running with the outage counted), and a rebuild from scratch when a link stays down.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBroker, silentLogger, Transport } from '../messaging/index.ts';
import { LinkCycle } from './tap-link.ts';
import { waitFor } from './test-support.ts';

const FAST_RETRY = { intervalStartMs: 20, intervalStepMs: 20, intervalMaxMs: 100, reconnectDelayMs: 0 };

let cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  cleanups = [];
});

function setup() {
  const broker = new MemoryBroker();
  const transport = new Transport('memory://', { memoryBroker: broker, programName: 'osloscope', retryPolicy: FAST_RETRY });
  cleanups.push(() => transport.close());
  let now = 1000;
  const calls: string[] = [];
  const statuses: string[] = [];
  const cycle = new LinkCycle({
    transport,
    rebuildAfterMs: 3000,
    onFresh: () => void calls.push('fresh'),
    onConnected: async () => void calls.push('connected'),
    onRecovered: (link) => void calls.push(`recovered:${link.lastSkipped.length}`),
    onTeardown: () => void calls.push('teardown'),
    emitStatus: () => void statuses.push(cycle.state),
    stopped: () => false,
    clock: () => now,
    log: silentLogger,
  });
  cleanups.push(() => cycle.close());
  return { broker, cycle, calls, statuses, advance: (ms: number) => (now += ms) };
}

describe('LinkCycle', () => {
  it('runs reconfigurations one at a time, in order, a failed one not stopping the next', async () => {
    const { cycle } = setup();
    const order: string[] = [];
    const slow = cycle.serial(async () => {
      await new Promise((r) => setTimeout(r, 30));
      order.push('slow');
    });
    const failing = cycle.serial(async () => {
      order.push('failing');
      throw new Error('refused');
    });
    const next = cycle.serial(async () => order.push('next'));
    await slow;
    await expect(failing).rejects.toThrow('refused');
    await next;
    expect(order).toEqual(['slow', 'failing', 'next']);
  });

  it('is recovering while its connection is away and running again once the link reconnected, counting the reconnect', async () => {
    const env = setup();
    env.cycle.watch();
    await env.cycle.attach(0);
    env.cycle.state = 'running';
    expect(env.calls).toEqual(['fresh', 'connected']);
    const name = env.cycle.link?.connectionName;
    expect(env.broker.disconnectAll((n) => n === name)).toBe(1);
    await waitFor(() => env.statuses.length === 2, 'recovering, then running');
    expect(env.statuses).toEqual(['recovering', 'running']);
    expect(env.cycle.state).toBe('running');
    expect(env.cycle.recovery).toMatchObject({ reconnects: 1, rebuilds: 0, skipped: 0, lastOutageMs: 0 });
    expect(env.calls).toEqual(['fresh', 'connected', 'recovered:0']);
    expect(env.cycle.link?.connectionName).toBe(name);
  });

  it('rebuilds a link that stays down from scratch after rebuildAfterMs, with a new id', async () => {
    const env = setup();
    await env.cycle.attach(0);
    const first = env.cycle.link;
    const id = env.cycle.id;
    env.cycle.state = 'recovering';
    await first?.close();
    await env.cycle.maybeRebuild();
    env.advance(2999);
    await env.cycle.maybeRebuild();
    expect(env.cycle.link).toBe(first);
    env.advance(1);
    await env.cycle.maybeRebuild();
    expect(env.cycle.link).not.toBe(first);
    expect(env.cycle.link?.isConnected).toBe(true);
    expect(env.cycle.id).not.toBe(id);
    expect(env.cycle.state).toBe('running');
    expect(env.cycle.recovery.rebuilds).toBe(1);
    expect(env.calls).toEqual(['fresh', 'connected', 'teardown', 'fresh', 'connected']);
  });
});
