/**
 * Where a user clicks through to: a queue's live traffic and stuck calls, a
 * method's traffic, a server's ping. Live filters use the Live grammar
 * (server/tap/filter.ts: `topic:`, `server:`, `kind:`, `routing_key:`, `method:`).
 */
import type { BrokerQueue } from '@/lib/tap-contracts';

/** A filter value, quoted when the grammar would split it. */
export function filterValue(v: string): string {
  return /^[^\s,"]+$/.test(v) ? v : `"${v.replace(/"/g, '')}"`;
}

export function liveHref(filter: string): string {
  return `/live?${new URLSearchParams({ filter }).toString()}`;
}

/** The Live filter that shows what flows through a queue. */
export function queueFilter(q: Pick<BrokerQueue, 'name' | 'kind' | 'topic' | 'server'>): string {
  if (q.kind === 'topic' && q.topic) return `topic:${filterValue(q.topic)}`;
  if (q.kind === 'server' && q.topic && q.server) return `topic:${filterValue(q.topic)} server:${filterValue(q.server)}`;
  if (q.kind === 'fanout' && q.topic) return `topic:${filterValue(q.topic)} kind:fanout`;
  return `routing_key:${filterValue(q.name)}`;
}

/** Stuck calls waiting on a queue (the Calls page's `queue` filter). */
export function stuckCallsHref(queue: string): string {
  return `/calls?${new URLSearchParams({ state: 'stuck', queue }).toString()}`;
}

/** The Console with oslo's ping (`oslo_rpc_server_ping`, rpc_ping_enabled) prefilled for one server. */
export function pingHref(topic: string, server: string | null, exchange?: string | null): string {
  const q = new URLSearchParams({ type: 'call', topic, method: 'oslo_rpc_server_ping', args: '{}' });
  if (server) q.set('server', server);
  if (exchange) q.set('exchange', exchange);
  return `/console?${q.toString()}`;
}

/** Live traffic of one method. */
export function methodHref(topic: string | null, method: string): string {
  return liveHref(`${topic ? `topic:${filterValue(topic)} ` : ''}method:${filterValue(method)}`);
}
