/**
 * Caller and connection lookups: names survive their connection (bounded), reply queues keep naming the
 * caller that left, traced connections not known yet are looked up, and the inspector is not hammered.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../messaging/index.ts';
import type { BrokerInspector, InspectedConnection, InspectedConsumer } from './inspector.ts';
import { CallerLookups } from './tap-lookups.ts';

function fakeInspector(source: BrokerInspector['source'] = 'management') {
  const state = { consumers: [] as InspectedConsumer[], connections: [] as InspectedConnection[], asked: 0 };
  const inspector = {
    source,
    vhost: '/',
    consumers: async () => (state.asked++, state.consumers),
    connections: async () => state.connections,
  } as unknown as BrokerInspector;
  return { state, inspector };
}

function setup(source?: BrokerInspector['source'], cacheSize?: number) {
  const { state, inspector } = fakeInspector(source);
  let now = 10_000;
  const observed: string[] = [];
  const lookups = new CallerLookups({
    inspector: () => inspector,
    clock: () => now,
    lookupMs: 3000,
    log: silentLogger,
    observeReplyConsumer: (q, name) => observed.push(`${q}=${name}`),
    cacheSize,
  });
  return { state, lookups, observed, advance: (ms: number) => (now += ms) };
}

describe('CallerLookups', () => {
  it('names the caller of a reply queue from its consumer, and keeps naming it after the caller left', async () => {
    const env = setup();
    env.state.connections = [{ name: '10.0.0.5:4242 -> 10.0.0.1:5672', connectionName: 'nova-api:77:0e6c5f4a-3b0e-4a55-9a1c-6f0e8d2b7c11' }];
    env.state.consumers = [{ queue: 'reply_1', connection: '10.0.0.5:4242 -> 10.0.0.1:5672', connectionName: null }];
    await env.lookups.refresh(true);
    expect(env.lookups.callerOf('reply_1')).toEqual({ process: 'nova-api:77', connectionName: 'nova-api:77:0e6c5f4a-3b0e-4a55-9a1c-6f0e8d2b7c11' });
    expect(env.observed).toEqual(['reply_1=nova-api:77:0e6c5f4a-3b0e-4a55-9a1c-6f0e8d2b7c11']);
    expect(env.lookups.connectionName('10.0.0.5:4242 -> 10.0.0.1:5672')).toBe('nova-api:77:0e6c5f4a-3b0e-4a55-9a1c-6f0e8d2b7c11');

    env.state.connections = [];
    env.state.consumers = [];
    env.advance(3000);
    await env.lookups.refresh(false);
    expect(env.lookups.callerOf('reply_1')?.connectionName).toBe('nova-api:77:0e6c5f4a-3b0e-4a55-9a1c-6f0e8d2b7c11');
    expect(env.lookups.connectionName('10.0.0.5:4242 -> 10.0.0.1:5672')).toBe('nova-api:77:0e6c5f4a-3b0e-4a55-9a1c-6f0e8d2b7c11');
    expect(env.lookups.callerOf('reply_2')).toBeNull();
  });

  it('keeps at most cacheSize names of closed connections', () => {
    const env = setup('management', 2);
    env.lookups.apply(null, [1, 2, 3].map((i) => ({ name: `c${i}`, connectionName: `p:${i}:x` })));
    env.lookups.apply(null, [{ name: 'c9', connectionName: 'p:9:x' }]);
    expect(['c1', 'c2', 'c3', 'c9'].map((c) => env.lookups.connectionName(c)).filter((n) => n !== null)).toHaveLength(2);
    expect(env.lookups.connectionName('c9')).toBe('p:9:x');
  });

  it('looks a traced connection up, at most every lookupMs, until it is listed', async () => {
    const env = setup();
    expect(env.lookups.nameTraced('new -> broker')).toBeNull();
    expect(env.lookups.unresolved).toBe(1);
    await Promise.resolve();
    expect(env.state.asked).toBe(1);
    env.state.connections = [{ name: 'new -> broker', connectionName: 'nova-compute:9:def' }];
    env.lookups.nameTraced('new -> broker');
    await Promise.resolve();
    expect(env.state.asked).toBe(1);
    env.advance(3000);
    await env.lookups.refresh(false);
    expect(env.lookups.unresolved).toBe(0);
    expect(env.lookups.nameTraced('new -> broker')).toBe('nova-compute:9:def');
  });

  it('passive declares know no connections: never asked', async () => {
    const env = setup('passive');
    await env.lookups.refresh(true);
    expect(env.state.asked).toBe(0);
  });
});
