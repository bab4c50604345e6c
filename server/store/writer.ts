/**
 * Feeds the history store from the tap without ever making the tap wait: the
 * tap's listener only pushes onto a bounded queue; a timer writes batches. When
 * the store falls behind (or is down) the queue fills, and what does not fit is
 * dropped and counted (shown in /api/history and /api/health).
 *
 * Stored message ids are `<run>.<tap id>` (the tap numbers from 1 on every
 * start); `run` is this writer's start, so ids stay unique across restarts and
 * across several instances writing into one database.
 */
import { randomBytes } from 'node:crypto';
import type { CallRecord, DecodedMessage, TapEvent } from '../../lib/tap-contracts.ts';
import type { HistoryStatus } from '../../lib/history-contracts.ts';
import { boundMessage } from '../tap/message-size.ts';
import { DEFAULT_TRANSPORT, type HistoryStore, type StoredMessage } from './store.ts';
import { DEFAULT_QUEUE_BYTES, type HistoryOptions } from './options.ts';

export interface TapEvents {
  on(listener: (e: TapEvent) => void): () => void;
}

interface Logger {
  warn(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
}

const BATCH = 2000;
const SQLITE_BATCH = 250;
const FLUSH_MS = 250;
/** PostgreSQL batches written at once (the pool has 4 connections) */
const PG_IN_FLIGHT = 2;
const RETENTION_EVERY_MS = 10 * 60_000;
/** reply queues whose caller is still unknown, kept to fill stored calls late */
const UNRESOLVED_MAX = 10_000;

type Item = ({ kind: 'message'; m: StoredMessage } | { kind: 'call'; c: { call: CallRecord; transport: string } }) & { bytes: number };

/** A queued call change's estimated size: its record and timeline, and the failure text it may carry. */
function callBytes(call: CallRecord): number {
  return 1024 + call.timeline.length * 160 + (call.failure?.message.length ?? 0) + (call.causeDetail?.length ?? 0);
}

export function newRunId(now = Date.now()): string {
  return `${now.toString(36)}${randomBytes(2).toString('hex')}`;
}

export class HistoryWriter {
  readonly runId: string;
  private queue: Item[] = [];
  /** estimated bytes of `queue` */
  private queuedBytes = 0;
  private dropped = 0;
  private written = 0;
  private lastError: string | null = null;
  private lastErrorAt: number | null = null;
  private lastFlushAt: number | null = null;
  private lastRetentionAt: number | null = null;
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private retentionTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly unresolved = new Map<string, number>();
  private stopped = false;

  constructor(
    readonly store: HistoryStore,
    private readonly options: Pick<HistoryOptions, 'queueCapacity' | 'messageBytes' | 'retentionMs' | 'retention' | 'maxBytes'> & Partial<Pick<HistoryOptions, 'queueBytes'>>,
    private readonly log: Logger,
    readonly transport = DEFAULT_TRANSPORT,
    runId = newRunId(),
  ) {
    this.runId = runId;
  }

  /** Listen to the tap; start the flush and retention timers. */
  attach(tap: TapEvents): void {
    this.unsubscribe = tap.on((e) => {
      if (e.type === 'tap:message') this.addMessage(e.message);
      else if (e.type === 'tap:call') this.addCall(e.call);
    });
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
    this.retentionTimer = setInterval(() => void this.retain(), RETENTION_EVERY_MS);
    this.retentionTimer.unref();
    void this.retain();
  }

  /** The stored id of a tap message id of this run. */
  storedId(tapId: string): string {
    return `${this.runId}.${tapId}`;
  }

  addMessage(message: DecodedMessage): void {
    if (this.stopped) return;
    // cut to the stored size before it waits: the queue holds what will be written, and its bytes are known
    const { message: bounded, storedBytes } = boundMessage(message, this.options.messageBytes);
    if (!this.room(storedBytes)) return;
    this.queue.push({ kind: 'message', m: { message: bounded, transport: message.transport ?? this.transport, process: message.trace?.connectionName ?? null }, bytes: storedBytes });
    this.queuedBytes += storedBytes;
    if (this.queue.length >= BATCH && !this.flushing) void this.flush();
  }

  addCall(call: CallRecord): void {
    if (this.stopped) return;
    const bytes = callBytes(call);
    if (!this.room(bytes)) return;
    this.queue.push({ kind: 'call', c: { call, transport: call.transport ?? this.transport }, bytes });
    this.queuedBytes += bytes;
  }

  /** Whether one more item of `bytes` fits the queue's count and bytes; counted as dropped when not. */
  private room(bytes: number): boolean {
    if (this.queue.length < this.options.queueCapacity && this.queuedBytes + bytes <= (this.options.queueBytes ?? DEFAULT_QUEUE_BYTES)) return true;
    this.dropped++;
    return false;
  }

  /** Write everything queued now (one batch after another); resolves when done. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.queue.length > 0 ? this.flush() : undefined));
    if (this.queue.length === 0) return Promise.resolve();
    this.flushing = this.drain().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    const sqlite = this.store.backend === 'sqlite';
    // PostgreSQL: two batches in flight on two pool connections, so the database writes one while this process
    // prepares the next (one at a time left both sides idle half the time)
    const maxInFlight = sqlite ? 1 : PG_IN_FLIGHT;
    const pending = new Set<Promise<boolean>>();
    let failed = false;
    while (this.queue.length > 0 && !failed) {
      while (pending.size >= maxInFlight) await Promise.race(pending);
      if (failed) break;
      // better-sqlite3 writes on the event loop: small transactions with a turn between them keep the tap's timers
      // on time; PostgreSQL writes off it (pg's socket), in larger batches
      const batch = this.queue.splice(0, sqlite ? SQLITE_BATCH : BATCH);
      for (const it of batch) this.queuedBytes -= it.bytes;
      if (sqlite) await new Promise((r) => setImmediate(r));
      const messages: StoredMessage[] = [];
      const calls: { call: CallRecord; transport: string }[] = [];
      const fills: { replyQ: string; process: string }[] = [];
      for (const it of batch) {
        if (it.kind === 'message') {
          const m = it.m.message;
          messages.push({ ...it.m, message: { ...m, id: this.storedId(m.id) } });
        } else {
          calls.push(it.c);
          const c = it.c.call;
          const q = c.caller.replyQ;
          if (q && !c.caller.process) {
            if (this.unresolved.size >= UNRESOLVED_MAX) this.unresolved.delete(this.unresolved.keys().next().value as string);
            if (!this.unresolved.has(q)) this.unresolved.set(q, c.publishedAt);
          } else if (q && c.caller.process && this.unresolved.has(q)) {
            fills.push({ replyQ: q, process: c.caller.process });
          }
        }
      }
      const earlier = [...pending];
      const p: Promise<boolean> = (async () => {
        try {
          await this.store.write(messages, calls);
          // late callers fill calls of earlier batches: those must have landed first
          if (fills.length > 0) await Promise.allSettled(earlier);
          for (const f of fills) {
            const since = this.unresolved.get(f.replyQ) ?? 0;
            this.unresolved.delete(f.replyQ);
            await this.store.fillCaller(f.replyQ, f.process, since - 60_000);
          }
          this.written += batch.length;
          this.lastFlushAt = Date.now();
          return true;
        } catch (err) {
          // the batch is lost (counted), the tap goes on; the next flush tries again
          failed = true;
          this.dropped += batch.length;
          this.lastError = (err as Error).message;
          this.lastErrorAt = Date.now();
          this.log.warn({ err: this.lastError, items: batch.length }, 'history store write failed');
          return false;
        }
      })().finally(() => pending.delete(p));
      pending.add(p);
    }
    await Promise.all(pending);
  }

  async retain(nowMs = Date.now()): Promise<void> {
    try {
      const r = await this.store.retain(nowMs, this.options.retentionMs, this.options.maxBytes);
      this.lastRetentionAt = nowMs;
      if ((r.deleted > 0 || r.droppedPartitions.length > 0) && this.log.info) this.log.info({ deleted: r.deleted, dropped: r.droppedPartitions }, 'history retention');
    } catch (err) {
      this.lastError = `retention: ${(err as Error).message}`;
      this.lastErrorAt = Date.now();
      this.log.warn({ err: (err as Error).message }, 'history retention failed');
    }
  }

  get droppedCount(): number {
    return this.dropped;
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  summary(): { backend: 'sqlite' | 'postgres'; state: 'ok' | 'error'; queueDepth: number; dropped: number; lastError: string | null } {
    const failing = this.lastErrorAt !== null && (this.lastFlushAt === null || this.lastErrorAt > this.lastFlushAt);
    return { backend: this.store.backend, state: failing ? 'error' : 'ok', queueDepth: this.queue.length, dropped: this.dropped, lastError: this.lastError };
  }

  async status(): Promise<HistoryStatus> {
    let counts = { messages: 0, calls: 0, bytes: 0, oldestTs: null as number | null };
    let readError: string | null = null;
    try {
      counts = await this.store.counts();
    } catch (err) {
      readError = (err as Error).message;
    }
    const lastError = readError ?? this.lastError;
    return {
      enabled: true,
      backend: this.store.backend,
      location: this.store.location,
      state: readError || (this.lastErrorAt !== null && (this.lastFlushAt === null || this.lastErrorAt > this.lastFlushAt)) ? 'error' : 'ok',
      ...counts,
      retention: { ageMs: this.options.retentionMs, age: this.options.retention, maxBytes: this.options.maxBytes, lastRunAt: this.lastRetentionAt },
      queueDepth: this.queue.length,
      queueCapacity: this.options.queueCapacity,
      queueBytes: this.queuedBytes,
      queueBytesCapacity: this.options.queueBytes ?? DEFAULT_QUEUE_BYTES,
      written: this.written,
      dropped: this.dropped,
      lastError,
      lastErrorAt: readError ? Date.now() : this.lastErrorAt,
      lastFlushAt: this.lastFlushAt,
    };
  }

  /** Stop listening, write what is queued, stop the timers (the store stays open). */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) clearInterval(this.timer);
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    this.timer = this.retentionTimer = null;
    await this.flush().catch(() => undefined);
    this.stopped = true;
  }
}
