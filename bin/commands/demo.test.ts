import { describe, expect, it } from 'vitest';
import { MemoryBroker, RpcClient, Transport } from '../../server/messaging/index.ts';
import { runDemoCommand } from './demo.ts';
import { DEAD_SERVER, DEMO_TOPICS, DemoFleet } from '../../server/demo/fleet.ts';
import { silentLogger } from '../../server/messaging/index.ts';
import { eventually } from '../../lib/eventually.ts';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } } };
}

describe('DemoFleet', () => {
  it('answers calls, keeps a dead server whose queue nobody consumes, and moves traffic', async () => {
    const broker = new MemoryBroker();
    const fleet = new DemoFleet({ url: 'memory://', memoryBroker: broker, log: silentLogger, rate: 4 });
    await fleet.start();
    const t = new Transport('memory://', { memoryBroker: broker, conf: { control_exchange: 'nova' } });
    try {
      const pong = await new RpcClient(t, { topic: DEMO_TOPICS.conductor, version: '3.0' }, { timeout: 5 }).call({}, 'ping', { arg: 'x' });
      expect(pong).toMatchObject({ service: 'conductor', arg: 'x' });
      const dead = broker.listQueues().find((q) => q.name === `${DEMO_TOPICS.compute}.${DEAD_SERVER}`);
      expect(dead).toBeDefined();
      expect(dead?.consumers).toBe(0);
      const stuck = await new RpcClient(t, { topic: DEMO_TOPICS.compute, server: DEAD_SERVER, version: '6.0' }, { timeout: 0.3 })
        .call({}, 'get_host_uptime')
        .catch((e: Error) => e);
      expect((stuck as Error).name).toBe('MessagingTimeout');
      // the fleet's loops run on their own timers: wait for the traffic, not a fixed time
      await eventually(() => {
        const s = fleet.stats();
        return s.calls > 5 && s.casts + s.fanouts > 0 && s.notifications > 0;
      }, 'calls, casts or fanouts, and notifications from the fleet', 15_000);
      const s = fleet.stats();
      expect(s.calls).toBeGreaterThan(5);
      expect(s.casts + s.fanouts).toBeGreaterThan(0);
      expect(s.notifications).toBeGreaterThan(0);
    } finally {
      await t.close();
      await fleet.stop();
    }
  });
});

describe('runDemoCommand', () => {
  it('runs the fleet until stopped and reports what it did', async () => {
    const { out, err, io: streams } = io();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 1500);
    const code = await runDemoCommand(['--url', 'memory:///demo-cmd', '--rate', '3'], { ...streams, signal: ac.signal });
    expect(err.join('')).toBe('');
    expect(code).toBe(0);
    expect(out[0]).toMatch(/^demo fleet running on memory:\/\/\/demo-cmd/);
    const summary = JSON.parse(out.at(-1) ?? '{}');
    expect(summary.stopped).toBe(true);
    expect(summary.calls).toBeGreaterThan(0);
  });

  it('stops after --seconds', async () => {
    const { io: streams } = io();
    const started = Date.now();
    expect(await runDemoCommand(['--url', 'memory:///demo-secs', '--seconds', '0.5'], streams)).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
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
