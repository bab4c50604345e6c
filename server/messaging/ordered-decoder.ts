/**
 * Decodes a consumer's deliveries and hands them on in arrival order.
 * Plain bodies decode at once; a compressed body is inflated off the event
 * loop (compression.ts), and whatever arrives behind it waits its turn, so
 * a reply's `ending` message, a notification sequence or a cast order is
 * never overtaken by a message decoded faster (oslo consumes each queue
 * on one thread: impl_rabbit Connection.consume).
 */
import type { Delivery } from './driver.ts';
import { compressionOf, DEFAULT_MAX_MESSAGE_BYTES } from './compression.ts';
import { decodeBody, decodeBodyAsync, type Dict } from './envelope.ts';

export class OrderedDecoder {
  private waiting = 0;
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly maxBytes: number = DEFAULT_MAX_MESSAGE_BYTES) {}

  /** Deliveries waiting behind a compressed body. */
  get backlog(): number {
    return this.waiting;
  }

  /**
   * `ok(message, d)` or `fail(err, d)` (a MalformedMessage), in delivery order. The
   * delivery is passed back so a consumer can hand the same two functions to every
   * push instead of making closures per message.
   */
  push(d: Delivery, ok: (message: Dict, d: Delivery) => void, fail: (err: unknown, d: Delivery) => void): void {
    const headers = d.properties.headers;
    if (this.waiting === 0 && compressionOf(headers) === null) {
      let message: Dict;
      try {
        message = decodeBody(d.body, headers).message;
      } catch (err) {
        fail(err, d);
        return;
      }
      ok(message, d);
      return;
    }
    this.waiting += 1;
    // Inflated only when its turn comes: at most one inflated body (up to maxBytes) is held at a time,
    // whatever the backlog (oslo's default prefetch is unlimited); waiting ones stay compressed.
    this.tail = this.tail
      .then(() => decodeBodyAsync(d.body, headers, { maxBytes: this.maxBytes }))
      .then(
        (r) => ok(r.message, d),
        (err: unknown) => fail(err, d),
      )
      .catch(() => undefined)
      .finally(() => {
        this.waiting -= 1;
      });
  }
}
