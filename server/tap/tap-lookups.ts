/**
 * Who is behind a queue or a connection, for one tap session: the broker's connection names
 * (`<peer> -> <server>`) mapped to the client-provided connection_name (`<prog>:<pid>:<uuid>`), and each
 * queue's consumer. Calls name their caller from the consumer of their `_reply_q`, firehose traces name
 * the connection that published or consumed.
 *
 * Both maps come from the inspector (management API or memory broker; passive declares know no
 * connections) and are refreshed at most every `lookupMs`, sooner when calls are due or a trace named a
 * connection not yet known. Names of connections that closed since are kept (bounded, `cacheSize`): a
 * short-lived caller's call is often classified, or its reply delivered, after its connection is gone from
 * the management API.
 */
import type { Logger } from '../messaging/index.ts';
import { PENDING_DELIVERY_MS, processOf, type CallerInfo } from './calls.ts';
import type { BrokerInspector, InspectedConnection, InspectedConsumer } from './inspector.ts';

/** connection and reply-queue names kept after their connection closed, at most (short-lived callers) */
export const CONNECTION_NAME_CACHE = 20_000;
/** connections named in traces but not listed yet, looked up at most this many at a time */
const MAX_UNKNOWN = 1000;
/** …and asked for this long (as long as a reply delivered to one waits for its name): the management API lists a new connection only after its next stats round */
const UNKNOWN_FOR_MS = PENDING_DELIVERY_MS;
/** forced refreshes (calls due) at most this often */
const FORCED_MIN_MS = 500;

export interface CallerLookupsOptions {
  inspector: () => BrokerInspector | null;
  clock: () => number;
  /** minimum time between unforced refreshes */
  lookupMs: number;
  log: Logger;
  /** a reply queue's current consumer (queue-manager reply queues are reused across restarts: reply-epochs.ts) */
  observeReplyConsumer?: (queue: string, connectionName: string, now: number) => void;
  cacheSize?: number;
}

export class CallerLookups {
  /** broker connection name → client connection_name */
  private connectionNames = new Map<string, string | null>();
  /** queue → client connection_name of a consumer */
  private queueConsumers = new Map<string, string>();
  /** broker connection names seen in traces but not (yet) in the connections list → since when */
  private readonly unknown = new Map<string, number>();
  private lastLookupAt = 0;
  private running = false;
  private readonly cacheSize: number;

  constructor(private readonly options: CallerLookupsOptions) {
    this.cacheSize = options.cacheSize ?? CONNECTION_NAME_CACHE;
  }

  /** Connections named in traces and not resolved yet. */
  get unresolved(): number {
    return this.unknown.size;
  }

  /** The client connection_name of a broker connection, null when not known. */
  connectionName(broker: string): string | null {
    return this.connectionNames.get(broker) ?? null;
  }

  /**
   * The client connection_name for a connection a trace named. A connection not seen yet is looked up
   * (rate-limited) so later traces of it get a name.
   */
  nameTraced(broker: string): string | null {
    const name = this.connectionNames.get(broker);
    if (name === undefined && this.unknown.size < MAX_UNKNOWN) {
      const now = this.options.clock();
      if (!this.unknown.has(broker)) this.unknown.set(broker, now);
      // refresh() would return at once: not called per trace (an async call and its promise each time)
      if (!this.running && now - this.lastLookupAt >= this.options.lookupMs && this.canLook()) void this.refresh(false);
    }
    return name ?? null;
  }

  /** The caller process of a reply queue: its (last) consumer's connection name. */
  callerOf(replyQ: string): CallerInfo | null {
    const name = this.queueConsumers.get(replyQ);
    return name ? { process: processOf(name) ?? name, connectionName: name } : null;
  }

  private canLook(): boolean {
    const inspector = this.options.inspector();
    return inspector !== null && inspector.source !== 'passive';
  }

  /** Ask the inspector again (at most every lookupMs; `force`: calls are due, at most every 500 ms). */
  async refresh(force: boolean): Promise<void> {
    const inspector = this.options.inspector();
    if (!inspector || inspector.source === 'passive' || this.running) return;
    const now = this.options.clock();
    if (!force && now - this.lastLookupAt < this.options.lookupMs) return;
    if (force && now - this.lastLookupAt < FORCED_MIN_MS) return;
    this.running = true;
    this.lastLookupAt = now;
    try {
      const [consumers, connections] = await Promise.all([inspector.consumers(), inspector.connections()]);
      this.apply(consumers, connections);
    } catch (err) {
      this.options.log.debug({ err: (err as Error).message }, 'consumer lookup failed');
    } finally {
      this.running = false;
    }
  }

  /** Take fresh consumer and connection lists (null: not listed, keep what is known). */
  apply(consumers: InspectedConsumer[] | null, connections: InspectedConnection[] | null): void {
    if (connections) {
      const names = new Map(connections.map((c) => [c.name, c.connectionName]));
      for (const [k, v] of this.connectionNames) {
        if (names.size >= this.cacheSize) break;
        if (v && !names.has(k)) names.set(k, v);
      }
      this.connectionNames = names;
      const now = this.options.clock();
      for (const [name, since] of this.unknown) {
        if (this.connectionNames.has(name) || now - since > UNKNOWN_FOR_MS) this.unknown.delete(name);
      }
    }
    if (consumers) {
      const m = new Map<string, string>();
      const now = this.options.clock();
      for (const c of consumers) {
        const name = c.connectionName ?? (c.connection ? (this.connectionNames.get(c.connection) ?? null) : null);
        if (!name) continue;
        m.set(c.queue, name);
        // who consumes each reply queue now: queue-manager names come back after a restart (reply-epochs.ts)
        if (c.queue.startsWith('reply_')) this.options.observeReplyConsumer?.(c.queue, name, now);
      }
      // the last consumer of a reply queue that lost it (the caller exited) still names the caller of its calls
      for (const [q, name] of this.queueConsumers) {
        if (m.size >= this.cacheSize) break;
        if (q.startsWith('reply_') && !m.has(q)) m.set(q, name);
      }
      this.queueConsumers = m;
    }
  }
}
