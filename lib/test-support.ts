/**
 * Test fixtures of the shared contracts, for the server's and the pages' tests alike. Test code only.
 */
import type { BrokerQueue } from './tap-contracts.ts';

/** A Broker page queue: a consumed, empty classic topic queue named `name`, with `over` on top. */
export function brokerQueue(name: string, over: Partial<BrokerQueue> = {}): BrokerQueue {
  return {
    name,
    kind: 'topic',
    topic: name,
    server: null,
    depth: 0,
    consumers: 1,
    consumerProcesses: [],
    queueType: 'classic',
    queueManager: null,
    depthIs: 'backlog',
    expiresMs: null,
    idleSince: null,
    rates: null,
    health: 'ok',
    note: null,
    ...over,
  };
}
