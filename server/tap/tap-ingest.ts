/**
 * One tap session's ingest pipeline: a delivery from the bindings queue or the firehose queue becomes an
 * observation (decoder.ts), is inflated when compressed (off the event loop, in the broker's order), decoded,
 * fed to the traffic model (messages, calls) and emitted as tap:message / tap:call events.
 *
 * On the way it learns what the traffic names, for the broker reads: topics, the queue names oslo would use
 * for them (passive-declare inspection) and notification listener pools (firehose `routed_queues`).
 * The firehose's own traces of tap queues (probes, deliveries to taps) are never traffic.
 */
import type { DecodedMessage, TapEvent } from '../../lib/tap-contracts.ts';
import { compressionOf, decompressAsync, type Delivery, type Logger } from '../messaging/index.ts';
import { decodeObservation, fromDelivery, fromTraceDelivery, type ObservedMessage } from './decoder.ts';
import type { TrafficModel } from './model.ts';
import { poolsFromRoutedQueues } from './queue-names.ts';

/** Deliveries that may wait behind compressed bodies being inflated; beyond it they are dropped (counted). */
export const MAX_INFLATING = 64;
/** Queue names learnt from traffic, at most (passive-declare inspection). */
const MAX_KNOWN_QUEUES = 5000;
const MAX_POOLS = 1000;

export interface IngestOptions {
  model: TrafficModel;
  /** every queue the tap declares starts with this */
  tapQueuePrefix: string;
  /** most bytes a compressed body may inflate to (the transport's) */
  maxMessageBytes: number;
  clock: () => number;
  log: Logger;
  /** the client connection_name of a broker connection a trace named (looked up when unknown) */
  nameConnection: (broker: string) => string | null;
  /** a trace of something published to a tap queue through the default exchange (a firehose probe) */
  probeTraced: (queue: string) => void;
  /** a trace of real traffic arrived; false: not in firehose mode, do not ingest it */
  traceArrived: () => boolean;
  /** a call or cast for this topic was seen (its `<topic>_fanout` exchange can be tapped) */
  noticeTopic: (topic: string) => void;
  emit: (event: TapEvent) => void;
  /** anyone listening for events (skip building them otherwise) */
  listening: () => boolean;
  /** the tap stopped: inflations still queued are not ingested */
  stopped: () => boolean;
}

export class IngestPipeline {
  private seq = 0;
  /** deliveries waiting behind a compressed body being inflated */
  private inflating = 0;
  private inflateTail: Promise<void> = Promise.resolve();
  private readonly topics = new Set<string>();
  private readonly queues = new Set<string>();
  /** notification listener pools: queue → topic, from the queues notifications were routed to (firehose) */
  private readonly poolMap = new Map<string, string | null>();

  constructor(private readonly o: IngestOptions) {}

  /** Topics seen in calls, casts and fanouts. */
  get knownTopics(): ReadonlySet<string> {
    return this.topics;
  }

  /** Queue names oslo would use for what was seen. */
  get knownQueues(): ReadonlySet<string> {
    return this.queues;
  }

  get pools(): ReadonlyMap<string, string | null> {
    return this.poolMap;
  }

  /** A copy from the bindings queue. */
  onDelivery(d: Delivery): void {
    this.handleOwn(fromDelivery(d));
  }

  /** A trace from the firehose queue (`publish.#`, `deliver.#` of amq.rabbitmq.trace). */
  onTrace(d: Delivery): void {
    const obs = fromTraceDelivery(d);
    if (!obs || !obs.trace) return;
    const t = obs.trace;
    const prefix = this.o.tapQueuePrefix;
    // firehose probes (ours or another osloscope's) go to a tap queue through the default exchange: never traffic
    if (obs.exchange === '' && obs.routingKey.startsWith(prefix)) {
      this.o.probeTraced(obs.routingKey);
      return;
    }
    if (t.event === 'deliver' && t.queue !== null && t.queue.startsWith(prefix)) return;
    if (!this.o.traceArrived()) return;
    const routed = t.routedQueues;
    if (routed) {
      for (let i = 0; i < routed.length; i++) {
        if (routed[i].startsWith(prefix)) {
          t.routedQueues = routed.filter((q) => !q.startsWith(prefix));
          break;
        }
      }
    }
    if (t.connection) t.connectionName = this.o.nameConnection(t.connection);
    this.handleOwn(obs);
  }

  /** Stamp, inflate if compressed (keeping the broker's order), decode and ingest. */
  handle(obs: ObservedMessage): void {
    this.handleOwn({ ...obs });
  }

  /** handle() for an observation made here for this delivery alone: stamped in place, not copied. */
  private handleOwn(obs: ObservedMessage): void {
    const compressed = compressionOf(obs.properties.headers) !== null;
    if (!compressed && this.inflating === 0) {
      const stamped = obs as ObservedMessage & { id: string; ts: number };
      stamped.id = this.nextId();
      stamped.ts = this.o.clock();
      this.ingest(stamped);
      return;
    }
    // A compressed body is inflated off the event loop (capped at the transport's maxMessageBytes);
    // what arrives meanwhile waits behind it so the stream keeps the broker's order.
    const counters = this.o.model.counters;
    if (this.inflating >= MAX_INFLATING) {
      counters.received++;
      counters.dropped++;
      return;
    }
    const stamped = { ...obs, id: this.nextId(), ts: this.o.clock() };
    // inflated only when its turn comes, so at most one inflated body is held at a time
    const inflate = (): Promise<Buffer | Error | undefined> =>
      compressed
        ? decompressAsync(obs.body, obs.properties.headers, this.o.maxMessageBytes).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))))
        : Promise.resolve(undefined);
    this.inflating++;
    this.inflateTail = this.inflateTail
      .then(inflate)
      .then((r) => {
        if (!this.o.stopped()) this.ingest(stamped, r);
      })
      .catch(() => undefined)
      .finally(() => {
        this.inflating--;
      });
  }

  private nextId(): string {
    this.seq++;
    return String(this.seq);
  }

  private ingest(obs: ObservedMessage & { id: string; ts: number }, inflated?: Buffer | Error): void {
    const model = this.o.model;
    let m: DecodedMessage;
    try {
      m = decodeObservation(obs, inflated);
    } catch (err) {
      // decodeObservation never throws by contract; keep the tap alive if it does
      model.counters.received++;
      model.counters.undecodable++;
      this.o.log.warn({ err: (err as Error).message }, 'decoder failure');
      return;
    }
    const r = model.ingest(m);
    if (m.topic !== null && (m.kind === 'call' || m.kind === 'cast') && m.trace === null) this.o.noticeTopic(m.topic);
    this.learn(m);
    if (this.o.listening()) {
      if (r.stream) this.o.emit({ type: 'tap:message', message: r.message });
      if (r.call) this.o.emit({ type: 'tap:call', call: r.call.record });
    }
  }

  /** Queue names oslo would use for what was seen, for passive-declare inspection. */
  private learn(m: DecodedMessage): void {
    if (this.queues.size > MAX_KNOWN_QUEUES) return;
    if (m.topic && (m.kind === 'call' || m.kind === 'cast')) {
      this.topics.add(m.topic);
      this.queues.add(m.topic);
      if (m.server) this.queues.add(`${m.topic}.${m.server}`);
    } else if (m.kind === 'notification') {
      this.queues.add(m.routingKey);
    } else if (m.kind === 'fanout' && m.topic) {
      this.topics.add(m.topic);
    }
    if (m.kind === 'call' && m.replyQ) this.queues.add(m.replyQ);
    if (m.kind === 'notification' && m.trace?.event === 'publish' && m.trace.routedQueues && this.poolMap.size < MAX_POOLS) {
      for (const p of poolsFromRoutedQueues(m.routingKey, m.trace.routedQueues)) this.poolMap.set(p.pool, p.topic);
    }
  }
}
