/**
 * Typed events the core emits (a union tagged by `type`). The core never
 * talks to sockets; the realtime gateway maps and batches these.
 */
import type { LinkState } from './resilient-link.ts';
import type { PoolStats } from './pool.ts';

export type CoreEvent =
  | {
      type: 'connection:state';
      connection: string;
      purpose: 'send' | 'listen';
      state: LinkState;
      endpoint?: string;
      error?: string;
    }
  | {
      type: 'rpc:sent';
      kind: 'call' | 'cast' | 'fanout';
      exchange: string;
      routingKey: string;
      method: string;
      msgId?: string;
      bytes: number;
    }
  | { type: 'rpc:reply'; msgId: string; ok: boolean; elapsedMs: number }
  | { type: 'rpc:timeout'; msgId: string; method: string; elapsedMs: number }
  | { type: 'reply:late'; msgId: string }
  | { type: 'reply:duplicate'; msgId: string }
  | { type: 'pool:limit'; stats: PoolStats }
  | {
      type: 'message:malformed';
      where: string;
      error: string;
      /** the body's size on the wire */
      bytes: number;
      /** oversized: a compressed body that inflates beyond the transport's maxMessageBytes */
      reason: 'malformed' | 'oversized';
    }
  | { type: 'server:dispatch'; topic: string; server?: string; method: string; ok: boolean; elapsedMs: number }
  | { type: 'notification:sent'; exchange: string; routingKey: string; eventType: string; priority: string };

export type CoreEventType = CoreEvent['type'];
export type CoreListener = (event: CoreEvent) => void;

/** A minimal typed emitter: listeners never break the emitter. */
export class CoreEvents {
  private readonly listeners = new Set<CoreListener>();

  on(listener: CoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: CoreEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // a faulty listener must not break messaging
      }
    }
  }

  get size(): number {
    return this.listeners.size;
  }
}

/** The logger shape the core needs (pino's), so the core never configures logging itself. */
export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
