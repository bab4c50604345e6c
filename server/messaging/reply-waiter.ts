/**
 * amqpdriver.ReplyWaiter: one reply queue `reply_<hex>` (`reply_<host>:<proc>:<n>`
 * with use_queue_manager) per transport on its own listen connection, always
 * exclusive (topology.replyQueue says why), a map of pending calls each with its own timers,
 * replies acked on receipt. Unlike 14.0.3 (where pending calls just time out
 * after a connection loss), every pending call is rejected at once with
 * ConnectionLost when the reply connection drops: the reply queue's consumer
 * is gone, so waiting longer only hides the failure.
 *
 * Late replies (after the caller gave up) and duplicates are counted and
 * logged, like oslo's "No calling threads waiting for msg_id".
 */
import { ConnectionLost, MessagingError, MessagingTimeout, type RemoteError } from './errors.ts';
import { deserializeFailure } from './envelope.ts';
import type { OrderedDecoder } from './ordered-decoder.ts';
import type { Delivery } from './driver.ts';
import type { ResilientLink } from './resilient-link.ts';
import { replyQueue, replyQueueName } from './topology.ts';
import type { Transport } from './transport.ts';
import { MSG_ID_KEY, UNIQUE_ID_KEY } from './wire.ts';

export interface WaitOptions {
  /** overall timeout (s): rpc_response_timeout or prepare(timeout=) */
  timeout: number;
  /** call_monitor_timeout (s): each reply or heartbeat must come within it */
  callMonitorTimeout?: number | null;
  method?: string;
}

export interface ReplyWaiterStats {
  replyQueue: string;
  /** calls waiting for their final reply (the "pending reply waiters") */
  pending: number;
  replies: number;
  heartbeats: number;
  /** replies for a call that already timed out or was cancelled */
  late: number;
  /** replies repeating a `_unique_id` already seen */
  duplicates: number;
  /** replies for a msg_id never sent by this transport */
  unknown: number;
  malformed: number;
  timeouts: number;
  connectionLosses: number;
}

/** Where a call's outcome goes: the final result, or the error (timeout, remote failure, connection loss). */
export interface ReplySink {
  replied(result: unknown): void;
  failed(err: Error): void;
}

interface Pending {
  msgId: string;
  method: string;
  startedAt: number;
  sink: ReplySink;
  /** when the overall timeout fires (Date.now() ms) */
  deadline: number;
  lane: DeadlineLane;
  settled: boolean;
  monitor?: NodeJS.Timeout;
  callMonitorMs?: number;
  finalResult: unknown;
  failure?: RemoteError;
}

/** The promise side of a ReplySink, for wait(). */
class PromiseSink implements ReplySink {
  constructor(
    readonly replied: (result: unknown) => void,
    readonly failed: (err: Error) => void,
  ) {}
}

/**
 * The overall timeouts of the pending calls that share one timeout value, in
 * the order they were made (so in deadline order), under one Node timer armed
 * for the earliest. A timer per call (setTimeout + clearTimeout on every call)
 * made Node build and tear down its timer list for that duration around each
 * call when calls do not overlap. Settled calls are dropped from the front as
 * they settle, and the lane is compacted when late ones pile up behind a slow one.
 */
class DeadlineLane {
  private readonly queue: Pending[] = [];
  private head = 0;
  private live = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;

  constructor(private readonly expire: (p: Pending) => void) {}

  add(p: Pending): void {
    this.queue.push(p);
    this.live += 1;
    if (!this.timer || p.deadline < this.timerAt) this.arm(p.deadline);
    else if (this.live === 1) this.timer.ref();
  }

  /** A call of this lane settled (reply, cancel, loss): forget it. */
  settled(): void {
    this.live -= 1;
    const q = this.queue;
    while (this.head < q.length && q[this.head].settled) this.head += 1;
    if (this.head === q.length) {
      q.length = 0;
      this.head = 0;
      // the timer stays armed for its old deadline, unreferenced: the next call
      // (at once, typically) takes it back instead of making a new one
      this.timer?.unref();
    } else if (q.length - this.head > 2 * this.live + 64) {
      const keep = q.slice(this.head).filter((x) => !x.settled);
      q.length = 0;
      this.head = 0;
      for (const x of keep) q.push(x);
    }
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, at - Date.now()));
  }

  private fire(): void {
    this.timer = undefined;
    const now = Date.now();
    const q = this.queue;
    while (this.head < q.length) {
      const p = q[this.head];
      if (!p.settled && p.deadline > now) break;
      this.head += 1;
      // expire() settles p (and calls settled(), which only skips ahead from here)
      if (!p.settled) this.expire(p);
    }
    if (this.head < q.length) this.arm(q[this.head].deadline);
    else {
      q.length = 0;
      this.head = 0;
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

const MAX_NAME_TRIES = 64;

/**
 * A bounded set that forgets its oldest entries: a ring of the last
 * `capacity` keys beside a Set. Keys are unique ids (msg_id, _unique_id) added
 * once each, so insertion order is age; a Set re-insert plus an iterator per
 * add cost ~4% of a loaded RPC client's CPU.
 */
class RecentSet {
  private readonly set = new Set<string>();
  private readonly ring: (string | undefined)[];
  private next = 0;
  constructor(capacity: number) {
    this.ring = new Array<string | undefined>(capacity);
  }
  add(key: string): void {
    if (this.set.has(key)) return;
    const old = this.ring[this.next];
    if (old !== undefined) this.set.delete(old);
    this.ring[this.next] = key;
    this.next = (this.next + 1) % this.ring.length;
    this.set.add(key);
  }
  has(key: string): boolean {
    return this.set.has(key);
  }
}

export class ReplyWaiter {
  private queueName: string;
  private link: ResilientLink | undefined;
  private readonly pending = new Map<string, Pending>();
  /** overall-timeout lanes by timeout (ms) */
  private readonly lanes = new Map<number, DeadlineLane>();
  private readonly finished = new RecentSet(4096);
  private readonly seenUnique = new RecentSet(4096);
  private readonly decoder: OrderedDecoder;
  private counters = { replies: 0, heartbeats: 0, late: 0, duplicates: 0, unknown: 0, malformed: 0, timeouts: 0, connectionLosses: 0 };
  private stopped = false;

  constructor(private readonly transport: Transport) {
    // RabbitDriver._get_reply_queue_name: 'reply_' + QManager.get() with use_queue_manager
    this.queueName = replyQueueName(transport.queueManager?.get());
    this.decoder = transport.orderedDecoder();
  }

  get replyQ(): string {
    return this.queueName;
  }

  /** `retry` bounds the first connection attempts (null = keep trying, oslo's default). */
  async start(retry: number | null = null): Promise<void> {
    const link = this.transport.createLink('listen');
    this.link = link;
    const unsubscribe = this.transport.events.on((e) => {
      if (e.type === 'connection:state' && e.connection === link.connectionName && e.state === 'disconnected') {
        this.failAll(new ConnectionLost(`Connection lost while waiting for replies on ${this.replyQ}${e.error ? `: ${e.error}` : ''}`));
      }
      if (e.type === 'connection:state' && e.connection === link.connectionName && e.state === 'closed') unsubscribe();
    });
    try {
      await link.connect(retry);
      if (this.transport.queueManager) await this.pickFreeName(link);
      // declare_direct_consumer: reply queue on the default exchange, no bind.
      await link.assertQueue(this.replyQ, replyQueue(this.transport.topology));
      // oslo acks each reply the moment it arrives; a no-ack consumer is the
      // same contract (a reply is only ever useful to this process) without
      // one ack frame per call for the client and the broker.
      await link.consume(this.replyQ, (d) => this.onDelivery(d), { consumerTag: '1', noAck: true });
    } catch (err) {
      unsubscribe();
      await link.close();
      throw err;
    }
  }

  /**
   * Queue-manager names repeat across processes of one host and process
   * name (oslo reuses them on purpose after a restart). Another live
   * osloscope may hold `reply_<host>:<proc>:<n>` exclusively (405), or a
   * service may have left a durable queue of that name: take the next n.
   */
  private async pickFreeName(link: ResilientLink): Promise<void> {
    for (let tries = 0; tries < MAX_NAME_TRIES; tries++) {
      try {
        await link.checkQueue(this.queueName);
      } catch (err) {
        const code = (err as MessagingError).code;
        if (code === 404) return;
        if (code !== 405) throw err;
      }
      this.queueName = replyQueueName(this.transport.queueManager!.get());
    }
    throw new MessagingError(`No free reply queue name after ${MAX_NAME_TRIES} tries (last ${this.queueName})`);
  }

  stats(): ReplyWaiterStats {
    return { replyQueue: this.replyQ, pending: this.pending.size, ...this.counters };
  }

  /** msg_ids of the calls currently waiting, oldest first, with their age. */
  pendingCalls(now = Date.now()): { msgId: string; method: string; ageMs: number }[] {
    return [...this.pending.values()].map((p) => ({ msgId: p.msgId, method: p.method, ageMs: now - p.startedAt }));
  }

  /**
   * Register a call before it is published (so a fast reply is never missed)
   * and get the promise of its final result.
   */
  wait(msgId: string, options: WaitOptions): Promise<unknown> {
    if (this.stopped) return Promise.reject(new MessagingError('Reply waiter is stopped'));
    return new Promise((resolve, reject) => this.listen(msgId, options, new PromiseSink(resolve, reject)));
  }

  /** wait() without a promise: the outcome goes to `sink` (an RPC client's call). */
  listen(msgId: string, options: WaitOptions, sink: ReplySink): void {
    if (this.stopped) {
      sink.failed(new MessagingError('Reply waiter is stopped'));
      return;
    }
    const timeoutMs = Math.max(0, options.timeout * 1000);
    const now = Date.now();
    let lane = this.lanes.get(timeoutMs);
    if (!lane) {
      lane = new DeadlineLane(this.expireCall);
      this.lanes.set(timeoutMs, lane);
    }
    const p: Pending = {
      msgId,
      method: options.method ?? '',
      startedAt: now,
      sink,
      deadline: now + timeoutMs,
      lane,
      settled: false,
      finalResult: null,
    };
    if (options.callMonitorTimeout) {
      p.callMonitorMs = options.callMonitorTimeout * 1000;
      p.monitor = setTimeout(() => this.timeout(p), p.callMonitorMs);
    }
    this.pending.set(msgId, p);
    lane.add(p);
  }

  /** Stop waiting for a call (e.g. its publish failed); a reply arriving later counts as late. */
  cancel(msgId: string, err: Error): void {
    const p = this.pending.get(msgId);
    if (!p) return;
    this.settle(p);
    p.sink.failed(err);
  }

  private settle(p: Pending): void {
    p.settled = true;
    if (p.monitor) clearTimeout(p.monitor);
    this.pending.delete(p.msgId);
    this.finished.add(p.msgId);
    p.lane.settled();
  }

  private readonly expireCall = (p: Pending): void => this.timeout(p);

  private timeout(p: Pending): void {
    if (p.settled) return;
    this.settle(p);
    this.counters.timeouts += 1;
    const elapsedMs = Date.now() - p.startedAt;
    this.transport.events.emit({ type: 'rpc:timeout', msgId: p.msgId, method: p.method, elapsedMs });
    // amqpdriver.ReplyWaiter._raise_timeout_exception
    p.sink.failed(new MessagingTimeout(`Timed out waiting for a reply to message ID ${p.msgId}`, p.msgId));
  }

  private onDelivery(d: Delivery): void {
    this.decoder.push(d, this.onReply, this.onUndecodable);
  }

  /** Consumed with no_ack (amqpdriver ReplyWaiter): a body that cannot be decoded is already gone, only counted. */
  private readonly onUndecodable = (err: unknown, d: Delivery): void => {
    this.counters.malformed += 1;
    this.transport.reportMalformed(this.replyQ, d, err);
  };

  private readonly onReply = (data: Record<string, unknown>): void => {
    const msgId = typeof data[MSG_ID_KEY] === 'string' ? (data[MSG_ID_KEY] as string) : undefined;
    const uniqueId = typeof data[UNIQUE_ID_KEY] === 'string' ? (data[UNIQUE_ID_KEY] as string) : undefined;
    if (uniqueId) {
      if (this.seenUnique.has(uniqueId)) {
        this.counters.duplicates += 1;
        if (msgId) this.transport.events.emit({ type: 'reply:duplicate', msgId });
        this.transport.log.info({ msgId, uniqueId }, 'Duplicate reply ignored');
        return;
      }
      this.seenUnique.add(uniqueId);
    }
    const p = msgId ? this.pending.get(msgId) : undefined;
    if (!p) {
      if (msgId && this.finished.has(msgId)) {
        this.counters.late += 1;
        this.transport.events.emit({ type: 'reply:late', msgId });
      } else {
        this.counters.unknown += 1;
      }
      this.transport.log.info({ msgId }, `No calling threads waiting for msg_id : ${msgId ?? '(none)'}`);
      return;
    }
    this.counters.replies += 1;
    // amqpdriver.ReplyWaiter._process_reply
    const failure = data.failure;
    let reply: unknown = null;
    if (failure !== undefined && failure !== null && failure !== '' && failure !== false) {
      p.failure = deserializeFailure(failure);
      reply = p.failure;
    } else {
      reply = data.result ?? null;
    }
    const ending = data.ending === true;
    if (reply !== null) {
      p.finalResult = reply;
    } else if (!ending) {
      // call-monitor heartbeat: renew the call-monitor timer
      this.counters.heartbeats += 1;
      if (p.monitor && p.callMonitorMs !== undefined) {
        clearTimeout(p.monitor);
        p.monitor = setTimeout(() => this.timeout(p), p.callMonitorMs);
      }
      return;
    }
    if (!ending) return;
    this.settle(p);
    if (this.transport.events.size > 0) {
      this.transport.events.emit({ type: 'rpc:reply', msgId: p.msgId, ok: !p.failure, elapsedMs: Date.now() - p.startedAt });
    }
    if (p.finalResult === p.failure && p.failure) p.sink.failed(p.failure);
    else p.sink.replied(p.finalResult);
  };

  private failAll(err: Error): void {
    if (this.pending.size === 0) return;
    this.counters.connectionLosses += 1;
    for (const p of [...this.pending.values()]) {
      this.settle(p);
      p.sink.failed(err);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.failAll(new MessagingError('Transport closed while waiting for a reply'));
    for (const lane of this.lanes.values()) lane.stop();
    await this.link?.close();
  }
}

