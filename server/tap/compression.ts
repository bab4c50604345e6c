/**
 * kombu compressions a tap meets (`[oslo_messaging_rabbit] kombu_compression`,
 * docs/wire.md#properties). The codecs and their output cap live in the core
 * (server/messaging/compression.ts), so RPC servers, listeners, the reply
 * waiter and the tap share one bounded implementation: a shadow consumer
 * reads whatever anyone publishes, and a tiny body that inflates to
 * gigabytes must cost an "undecodable" count, not the process.
 */
import { bunzip2Sync, DEFAULT_MAX_MESSAGE_BYTES, decompressAsync, decompressSync, wire } from '../messaging/index.ts';

/** The default cap: RabbitMQ 4's max_message_size (16 MiB). */
export const MAX_DECOMPRESSED_BYTES = DEFAULT_MAX_MESSAGE_BYTES;

/** bz2 on the calling thread, capped (tests and tools). */
export function bunzip2(body: Buffer, cap = MAX_DECOMPRESSED_BYTES): Buffer {
  return bunzip2Sync(body, cap);
}

/** Kept for callers of the tap's API: bz2 is built into the core now. */
export function registerTapDecompressors(): void {}

/**
 * The body with its kombu compression undone on the calling thread, never
 * more than `cap` bytes. Throws a MalformedMessage on unknown codecs, bad
 * data or output beyond the cap (MessageTooLarge).
 */
export function decompressBody(body: Buffer, compression: string, cap = MAX_DECOMPRESSED_BYTES): Buffer {
  return decompressSync(body, { [wire.COMPRESSION_HEADER]: compression }, cap);
}

/** decompressBody off the event loop (zlib thread pool, bz2 worker). */
export function decompressBodyAsync(body: Buffer, compression: string, cap = MAX_DECOMPRESSED_BYTES): Promise<Buffer> {
  return decompressAsync(body, { [wire.COMPRESSION_HEADER]: compression }, cap);
}
