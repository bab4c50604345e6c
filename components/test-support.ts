/**
 * Test support for components: socket.io's client socket, as much of it as
 * RealtimeProvider uses, driven by the test (vi.mock('socket.io-client') hands
 * it out).
 */
import { act } from '@testing-library/react';

type Handler = (...args: unknown[]) => void;
type Ack = (err: Error | null, ack: unknown) => void;

/** socket.io's client socket, as much of it as the provider uses, driven by the test. */
export class FakeSocket {
  connected = false;
  active = true;
  readonly sent: { event: string; payload: unknown; ack?: Ack }[] = [];
  private readonly handlers = new Map<string, Set<Handler>>();
  readonly io = { on: () => undefined, removeAllListeners: () => undefined };
  on(event: string, h: Handler): this {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event)?.add(h);
    return this;
  }
  off(event: string, h: Handler): this {
    this.handlers.get(event)?.delete(h);
    return this;
  }
  removeAllListeners(): this {
    this.handlers.clear();
    return this;
  }
  close(): void {
    this.connected = false;
  }
  connect(): void {}
  timeout(_ms: number) {
    return { emit: (event: string, payload: unknown, ack: Ack) => this.sent.push({ event, payload, ack }) };
  }
  emit(event: string, payload: unknown): void {
    this.sent.push({ event, payload });
  }
  listeners(event: string): number {
    return this.handlers.get(event)?.size ?? 0;
  }
  /** the server side */
  fire(event: string, ...args: unknown[]): void {
    act(() => {
      for (const h of [...(this.handlers.get(event) ?? [])]) h(...args);
    });
  }
  up(): void {
    this.connected = true;
    this.fire('connect');
  }
  down(): void {
    this.connected = false;
    this.fire('disconnect', 'transport close');
  }
  of(event: string) {
    return this.sent.filter((s) => s.event === event);
  }
}

