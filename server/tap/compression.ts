/**
 * kombu compressions a tap meets (`[oslo_messaging_rabbit] kombu_compression`,
 * oslo-wire.md §3): the `compression` header names the codec. kombu's
 * "gzip" is zlib.compress (zlib format, inflate it); "bz2" is a bzip2 stream.
 *
 * bz2 is registered with the core (registerDecompressor) so RPC servers and
 * listeners accept such bodies too. The tap itself decompresses with an
 * output cap: a shadow consumer reads whatever anyone publishes, and a tiny
 * body that inflates to gigabytes must cost an "undecodable" count, not the
 * process.
 */
import { inflateSync } from 'node:zlib';
import bunzip from 'seek-bzip';
import { decompress, registerDecompressor, wire } from '../messaging/index.ts';

/** Larger than any sane oslo message (RabbitMQ's own max_message_size default is 128 MB, oslo bodies are KBs). */
export const MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024;

class OutputTooLarge extends Error {
  override name = 'OutputTooLarge';
}

/** A seek-bzip output stream that refuses to grow beyond `cap` bytes. */
class CappedOutput {
  private buffer = Buffer.allocUnsafe(4096);
  private pos = 0;
  constructor(private readonly cap: number) {}

  writeByte(byte: number): void {
    if (this.pos >= this.buffer.length) {
      if (this.pos >= this.cap) throw new OutputTooLarge(`bz2 body inflates beyond ${this.cap} bytes`);
      const next = Buffer.allocUnsafe(Math.min(this.cap, this.buffer.length * 2));
      this.buffer.copy(next, 0, 0, this.pos);
      this.buffer = next;
    }
    this.buffer[this.pos++] = byte;
  }

  getBuffer(): Buffer {
    return this.buffer.subarray(0, this.pos);
  }
}

export function bunzip2(body: Buffer, cap = MAX_DECOMPRESSED_BYTES): Buffer {
  const out = new CappedOutput(cap);
  // seek-bzip accepts any object with writeByte as its output stream.
  return bunzip.decode(body, out as unknown as Uint8Array) ?? out.getBuffer();
}

let registered = false;

/** Make the core accept bz2 bodies (idempotent). */
export function registerTapDecompressors(): void {
  if (registered) return;
  registered = true;
  registerDecompressor(wire.COMPRESSION_TYPES.bz2, (b) => bunzip2(b));
}

/**
 * The body with its kombu compression undone, never more than `cap` bytes.
 * Throws (an Error with a readable message) on unknown codecs or bad data.
 */
export function decompressBody(body: Buffer, compression: string, cap = MAX_DECOMPRESSED_BYTES): Buffer {
  if (compression === wire.COMPRESSION_TYPES.gzip) {
    try {
      return inflateSync(body, { maxOutputLength: cap });
    } catch (err) {
      throw new Error(`Cannot decompress ${compression} body: ${(err as Error).message}`, { cause: err });
    }
  }
  if (compression === wire.COMPRESSION_TYPES.bz2) {
    try {
      return bunzip2(body, cap);
    } catch (err) {
      throw new Error(`Cannot decompress ${compression} body: ${(err as Error).message}`, { cause: err });
    }
  }
  // Anything else the core knows (a decompressor someone registered), or its "Unsupported compression" error.
  return decompress(body, { [wire.COMPRESSION_HEADER]: compression });
}

registerTapDecompressors();
