import { describe, expect, it } from 'vitest';
import { MemoryBroker, RpcClient, Transport } from '../../server/messaging/index.ts';
import { runDemoCommand } from './demo.ts';
import { DEAD_SERVER, DEMO_TOPICS, DemoFleet, type After } from '../../server/demo/fleet.ts';
import { silentLogger } from '../../server/messaging/index.ts';
import { eventually } from '../../lib/eventually.ts';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } } };
}

/** The fleet's clock, driven by hand: `fire()` runs every timer pending now, once. */
class ManualTimers {
  readonly pending = new Set<{ ms: number; fn: () => void }>();
  readonly after: After = (ms, fn) => {
    const t = { ms, fn };
    this.pending.add(t);
    return () => this.pending.delete(t);
  };
  fire(skip?: (ms: number) => boolean): void {
    const due = [...this.pending].filter((t) => !skip?.(t.ms));
    for (const t of due) this.pending.delete(t);
    for (const t of due) t.fn();
  }
  delays(): number[] {
    return [...this.pending].map((t) => t.ms).sort((a, b) => a - b);
  }
}

describe('DemoFleet', () => {
  it('answers calls, keeps a dead server whose queue nobody consumes, and moves traffic on its clock', async () => {
    const broker = new MemoryBroker();
    const timers = new ManualTimers();
    // random 0.5: no jitter, every loop waits its period / rate
    const fleet = new DemoFleet({ url: 'memory://', memoryBroker: broker, log: silentLogger, rate: 2, random: () => 0.5, after: timers.after });
    await fleet.start();
    const t = new Transport('memory://', { memoryBroker: broker, conf: { control_exchange: 'nova' } });
    try {
      const pong = await new RpcClient(t, { topic: DEMO_TOPICS.conductor, version: '3.0' }, { timeout: 5 }).call({}, 'ping', { arg: 'x' });
      expect(pong).toMatchObject({ service: 'conductor', arg: 'x' });
      const dead = broker.listQueues().find((q) => q.name === `${DEMO_TOPICS.compute}.${DEAD_SERVER}`);
      expect(dead).toBeDefined();
      expect(dead?.consumers).toBe(0);
      const stuck = await new RpcClient(t, { topic: DEMO_TOPICS.compute, server: DEAD_SERVER, version: '6.0' }, { timeout: 0.1 })
        .call({}, 'get_host_uptime')
        .catch((e: Error) => e);
      expect((stuck as Error).name).toBe('MessagingTimeout');

      // seven loops, nothing sent until the clock moves; the first wait is a random part of the period
      expect(timers.delays()).toEqual([62.5, 250, 625, 750, 1000, 1250, 2000]);
      expect(fleet.stats()).toMatchObject({ calls: 0, casts: 0, fanouts: 0, notifications: 0 });
      const rounds = 3;
      // not the scheduling loop: its endpoint takes 0.6-3.5 s of wall time, as placement does, and the
      // fleet's stop waits for it
      const scheduling = 750;
      for (let i = 0; i < rounds; i++) timers.fire((ms) => ms === scheduling);
      // then every period / rate (no jitter at random 0.5): 250 ms conductor calls, 15 s dead-server calls at rate 1
      expect(timers.delays()).toEqual([125, 500, 750, 1250, 2000, 2500, 7500]);
      // one action per loop and tick: conductor and dead-server calls, compute casts, compute and
      // port-update fanouts, instance notifications
      await eventually(() => {
        const s = fleet.stats();
        return s.casts === rounds && s.fanouts === 2 * rounds && s.notifications === rounds;
      }, 'the casts, fanouts and notifications of three ticks', 15_000);
      const s = fleet.stats();
      expect(s).toMatchObject({ calls: 2 * rounds, casts: rounds, fanouts: 2 * rounds, notifications: rounds, otherErrors: 0 });
      // the dead server's calls wait for their timeout
      expect(s.pendingCalls).toBeGreaterThanOrEqual(rounds);
    } finally {
      await t.close();
      await fleet.stop();
    }
    // stopped: no timer left, and a late one does nothing
    expect(timers.pending.size).toBe(0);
  });
});

describe('runDemoCommand', () => {
  it('runs the fleet until stopped and reports what it did', async () => {
    const { out, err, io: streams } = io();
    const ac = new AbortController();
    // stopped as soon as it says it runs
    const stdout = { write: (s: string) => (streams.stdout.write(s), s.startsWith('demo fleet running') && ac.abort()) };
    const code = await runDemoCommand(['--url', 'memory:///demo-cmd', '--rate', '3'], { ...streams, stdout, signal: ac.signal });
    expect(err.join('')).toBe('');
    expect(code).toBe(0);
    expect(out[0]).toMatch(/^demo fleet running on memory:\/\/\/demo-cmd \(rate 3\)/);
    expect(out).toHaveLength(2);
    expect(JSON.parse(out[1])).toMatchObject({ stopped: true, calls: expect.any(Number), casts: expect.any(Number), notifications: expect.any(Number) });
  });

  it('stops after --seconds, with the traffic it sent', async () => {
    const { out, io: streams } = io();
    const started = Date.now();
    // at rate 1 the first conductor call leaves within 250 ms
    expect(await runDemoCommand(['--url', 'memory:///demo-secs', '--seconds', '0.5'], streams)).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(JSON.parse(out.at(-1) ?? '{}')).toMatchObject({ stopped: true, calls: expect.toSatisfy((n: number) => n > 0) });
  });

  it('exits 2 on usage errors and 5 when the broker cannot be reached', async () => {
    let r = io();
    expect(await runDemoCommand(['--bogus'], r.io)).toBe(2);
    expect(r.err.join('')).toMatch(/usage: osloscope demo/);
    r = io();
    expect(await runDemoCommand(['--rate', '-1', '--url', 'memory://'], r.io)).toBe(2);
    r = io();
    expect(await runDemoCommand(['--url', 'kafka://x/'], r.io)).toBe(2);
    r = io();
    expect(await runDemoCommand(['--url', 'rabbit://guest:pw-not-shown@127.0.0.1:1/', '--seconds', '1'], r.io)).toBe(5);
    expect(r.err.join('')).toMatch(/cannot (connect|start)/);
    expect(r.err.join('')).not.toContain('pw-not-shown');
  }, 60_000);
});
