/**
 * ExchangeBinder: binds only exchanges that exist, finds `<topic>_fanout` from traffic, and re-binds
 * exchanges a recovery lost once they are back. A fake link stands in for the broker here; the real
 * broker runs it in tap.test.ts and test/integration/tap-recovery.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { TapEvent, TapMode } from '../../lib/tap-contracts.ts';
import { silentLogger, type ResilientLink } from '../messaging/index.ts';
import type { BrokerInspector, InspectedExchange } from './inspector.ts';
import { ExchangeBinder } from './tap-exchanges.ts';
import { waitFor } from './test-support.ts';

function setup(listed: InspectedExchange[] | null = null) {
  const existing = new Set<string>(['openstack', 'compute_fanout', 'nova']);
  const bindings: string[] = [];
  const link = {
    isConnected: true,
    checkExchange: async (x: string) => {
      if (!existing.has(x)) throw Object.assign(new Error(`NOT_FOUND - no exchange '${x}'`), { code: 404 });
    },
    bindQueue: async (q: string, x: string, key: string) => void bindings.push(`${q}<-${x}:${key}`),
  } as unknown as ResilientLink;
  const inspector = { source: listed ? 'management' : 'passive', exchanges: async () => listed } as unknown as BrokerInspector;
  const events: TapEvent[] = [];
  let mode: TapMode = 'bindings';
  let rebound = 0;
  let now = 0;
  const binder = new ExchangeBinder({
    exchanges: ['openstack', 'neutron'],
    discoverExchanges: true,
    inspector: () => inspector,
    link: () => link,
    mode: () => mode,
    queue: () => (mode === 'bindings' ? 'tapq' : null),
    serial: (fn) => fn(),
    emit: (e) => events.push(e),
    onRebound: () => rebound++,
    clock: () => now,
    log: silentLogger,
    id: () => 'test',
  });
  return {
    binder,
    existing,
    bindings,
    events,
    rebound: () => rebound,
    setMode: (m: TapMode) => (mode = m),
    advance: (ms: number) => (now += ms),
  };
}

describe('ExchangeBinder', () => {
  it('binds the configured exchanges that exist and never one that does not', async () => {
    const env = setup();
    await env.binder.discover();
    expect(env.bindings).toEqual(['tapq<-openstack:#']);
    expect([...env.binder.boundExchanges]).toEqual(['openstack']);
    expect(env.events).toEqual([{ type: 'tap:exchange', exchange: 'openstack', action: 'bound' }]);
  });

  it('with a listing: also every topic exchange and every <topic>_fanout, not amq.* nor internal ones', async () => {
    const env = setup([
      { name: 'openstack', type: 'topic', internal: false },
      { name: 'nova', type: 'topic', internal: false },
      { name: 'compute_fanout', type: 'fanout', internal: false },
      { name: 'amq.topic', type: 'topic', internal: false },
      { name: 'hidden', type: 'topic', internal: true },
    ]);
    await env.binder.discover();
    expect(env.bindings.sort()).toEqual(['tapq<-compute_fanout:#', 'tapq<-nova:#', 'tapq<-openstack:#']);
    expect([...env.binder.fanoutExchanges]).toEqual(['compute_fanout']);
  });

  it('tries <topic>_fanout from traffic, once a minute per topic, and only in bindings mode', async () => {
    const env = setup();
    env.binder.noticeTopic('network');
    env.existing.add('network_fanout');
    env.binder.noticeTopic('network');
    await Promise.resolve();
    expect(env.binder.fanoutExchanges.has('network_fanout')).toBe(false);
    env.advance(60_000);
    env.binder.noticeTopic('network');
    await waitFor(() => env.binder.fanoutExchanges.has('network_fanout'), 'network_fanout bound');
    env.setMode('firehose');
    env.binder.noticeTopic('compute');
    await Promise.resolve();
    expect(env.bindings).not.toContain('tapq<-compute_fanout:#');
  });

  it('forgets exchanges a recovery could not re-bind and binds them again once they are back', async () => {
    const env = setup();
    await env.binder.bind('compute_fanout', true);
    env.existing.delete('compute_fanout');
    env.binder.forgetVanished([
      { kind: 'binding', missing: 'compute_fanout', missingKind: 'exchange', queue: 'tapq', exchange: 'compute_fanout' },
      { kind: 'binding', missing: 'x_fanout', missingKind: 'exchange', queue: 'another-queue', exchange: 'x_fanout' },
    ] as ResilientLink['lastSkipped']);
    expect(env.binder.awaitingExchanges()).toEqual(['compute_fanout']);
    expect(env.binder.boundExchanges.has('compute_fanout')).toBe(false);
    expect(env.events.at(-1)).toEqual({ type: 'tap:exchange', exchange: 'compute_fanout', action: 'unbound' });
    env.existing.add('compute_fanout');
    await waitFor(() => env.rebound() === 1, 're-bound');
    expect(env.binder.awaitingExchanges()).toEqual([]);
    expect(env.bindings.filter((b) => b === 'tapq<-compute_fanout:#')).toHaveLength(2);
    env.binder.stop();
  });
});
