import { describe, expect, it } from 'vitest';
import type { BrokerView, KnownTargets } from '../lib/tap-contracts.ts';
import { brokerQueue } from '../lib/test-support.ts';
import { BROKER_CACHE_MS, knownTargets, type Dashboard } from './dashboard.ts';

function view(topic: string): BrokerView {
  return { source: 'management', at: 0, vhost: '/', complete: true, error: null, queues: [brokerQueue(topic)], replyQueuesWithoutConsumers: [], connections: { poolSize: 30, processes: [], unnamed: 0 } };
}

/** A dashboard whose broker inspections answer when the test says so. */
function dashboard() {
  const pending: ((v: BrokerView) => void)[] = [];
  let now = 1_000_000;
  const traffic = (): KnownTargets => ({ exchanges: ['nova'], topics: ['compute'], notificationTopics: [], servers: [], methods: [] });
  const d = {
    tap: {
      knownTargets: traffic,
      brokerView: () => new Promise<BrokerView>((resolve) => pending.push(resolve)),
    },
    info: { rpcConnPoolSize: 30 },
    clock: () => now,
  } as unknown as Dashboard;
  return { d, pending, later: (ms: number) => (now += ms) };
}

describe('knownTargets: the Console suggestions never wait long for the broker', () => {
  it('answers with the traffic when the inspection is slow, and with its queues once one finished', async () => {
    const { d, pending, later } = dashboard();
    const t0 = performance.now();
    const first = await knownTargets(d, 200, 50);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(first?.topics).toEqual(['compute']);
    // the slow inspection finishes after the answer
    pending[0](view('conductor'));
    await new Promise((r) => setTimeout(r, 0));
    // a later request starts a new inspection (the cache is older than BROKER_CACHE_MS), slow again: the last one serves
    later(BROKER_CACHE_MS + 1);
    const second = await knownTargets(d, 200, 50);
    expect(pending).toHaveLength(2);
    expect(second?.topics).toEqual(['compute', 'conductor']);
    // an inspection within the wait is used at once
    later(BROKER_CACHE_MS + 1);
    const third = knownTargets(d, 200, 5000);
    await new Promise((r) => setTimeout(r, 0));
    pending[2](view('scheduler'));
    expect((await third)?.topics).toEqual(['compute', 'scheduler']);
  });
});
