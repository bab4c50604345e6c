/**
 * kombu compressions (`[oslo_messaging_rabbit] kombu_compression`, read by
 * impl_rabbit Connection.__init__ and applied by kombu's Producer.publish):
 * the `compression` header names the codec, kombu/compression.py
 * registers "application/x-gzip" (zlib.compress: zlib format, not a gzip
 * file) and "application/x-bz2" (bz2.compress).
 *
 * Every decompression is bounded by an output cap: anyone allowed to
 * publish can send a few kilobytes that inflate to gigabytes, and such a
 * body must cost one rejected message, not the process. The default cap is
 * RabbitMQ 4's default `max_message_size` (16 MiB): a body larger than that
 * could not have been published uncompressed either.
 *
 * The asynchronous forms never run the codec on the event loop: zlib
 * inflates on libuv's thread pool (node:zlib stops at `maxOutputLength`),
 * bz2 (pure JavaScript, seek-bzip) runs in one worker thread, so a bomb
 * never stalls timers, heartbeats or HTTP.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { inflate, inflateSync } from 'node:zlib';
import bunzip from 'seek-bzip';
import { MalformedMessage } from './errors.ts';
import { COMPRESSION_HEADER, COMPRESSION_TYPES } from './wire.ts';

/** RabbitMQ 4.0's default max_message_size (rabbit.app `max_message_size`, 16 MiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** A compressed body that inflates beyond the cap: rejected, never kept. */
export class MessageTooLarge extends MalformedMessage {
  constructor(
    readonly compression: string,
    readonly limit: number,
  ) {
    super(`Cannot decompress ${compression} body: it inflates beyond ${limit} bytes (the message size limit)`);
  }
}

/** The codec named by a headers table, or null for an uncompressed body. */
export function compressionOf(headers: Record<string, unknown> | undefined): string | null {
  const c = headers?.[COMPRESSION_HEADER];
  if (c === undefined || c === null) return null;
  return Buffer.isBuffer(c) ? c.toString('utf8') : String(c);
}

/** A decompressor must never return more than `maxBytes` (throw MessageTooLarge instead). */
export type Decompressor = (body: Buffer, maxBytes: number) => Buffer | Promise<Buffer>;

const extra = new Map<string, Decompressor>();

/** Other kombu compressions (lzma, ...) for code that has a library for them; gzip and bz2 are built in. */
export function registerDecompressor(contentType: string, fn: Decompressor): void {
  extra.set(contentType, fn);
}

function checkCap(maxBytes: number): number {
  if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new RangeError('maxBytes must be a positive integer');
  return maxBytes;
}

function tooLarge(err: unknown): boolean {
  // node:zlib's maxOutputLength refusal
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ERR_BUFFER_TOO_LARGE' || (err as Error | undefined)?.name === 'OutputTooLarge';
}

function failure(compression: string, maxBytes: number, err: unknown): MalformedMessage {
  if (err instanceof MalformedMessage) return err;
  if (tooLarge(err)) return new MessageTooLarge(compression, maxBytes);
  return new MalformedMessage(`Cannot decompress ${compression} body: ${(err as Error).message}`, { cause: err });
}

function unsupported(compression: string): MalformedMessage {
  return new MalformedMessage(`Unsupported compression ${compression}`);
}

function checked(out: Buffer, compression: string, maxBytes: number): Buffer {
  if (out.length > maxBytes) throw new MessageTooLarge(compression, maxBytes);
  return out;
}

/**
 * Undo the body's kombu compression on the calling thread, capped. For
 * tests and tools on known-small bodies; consumers use `decompressAsync`.
 */
export function decompressSync(body: Buffer, headers: Record<string, unknown> | undefined, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): Buffer {
  const compression = compressionOf(headers);
  if (compression === null) return body;
  checkCap(maxBytes);
  try {
    if (compression === COMPRESSION_TYPES.gzip) return inflateSync(body, { maxOutputLength: maxBytes });
    if (compression === COMPRESSION_TYPES.bz2) return bunzip2Sync(body, maxBytes);
    const fn = extra.get(compression);
    if (!fn) throw unsupported(compression);
    const out = fn(body, maxBytes);
    if (!Buffer.isBuffer(out)) throw new MalformedMessage(`The ${compression} decompressor is asynchronous`);
    return checked(out, compression, maxBytes);
  } catch (err) {
    throw failure(compression, maxBytes, err);
  }
}

/** Undo the body's kombu compression off the event loop, never producing more than `maxBytes`. */
export async function decompressAsync(body: Buffer, headers: Record<string, unknown> | undefined, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): Promise<Buffer> {
  const compression = compressionOf(headers);
  if (compression === null) return body;
  checkCap(maxBytes);
  try {
    if (compression === COMPRESSION_TYPES.gzip) return await inflateCapped(body, maxBytes);
    if (compression === COMPRESSION_TYPES.bz2) return await bz2Worker.decode(body, maxBytes);
    const fn = extra.get(compression);
    if (!fn) throw unsupported(compression);
    return checked(await fn(body, maxBytes), compression, maxBytes);
  } catch (err) {
    throw failure(compression, maxBytes, err);
  }
}

function inflateCapped(body: Buffer, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // The thread-pool inflate streams in chunks and stops as soon as the output passes maxOutputLength.
    inflate(body, { maxOutputLength: maxBytes }, (err, out) => (err ? reject(err) : resolve(out)));
  });
}

class OutputTooLarge extends Error {
  override name = 'OutputTooLarge';
}

/** A seek-bzip output stream that refuses to grow beyond `cap` bytes. */
class CappedOutput {
  private buffer: Buffer;
  private pos = 0;
  constructor(private readonly cap: number) {
    this.buffer = Buffer.alloc(Math.min(4096, cap));
  }

  writeByte(byte: number): void {
    if (this.pos >= this.buffer.length) {
      if (this.buffer.length >= this.cap) throw new OutputTooLarge(`bz2 body inflates beyond ${this.cap} bytes`);
      const next = Buffer.alloc(Math.min(this.cap, this.buffer.length * 2));
      this.buffer.copy(next, 0, 0, this.pos);
      this.buffer = next;
    }
    this.buffer[this.pos++] = byte;
  }

  getBuffer(): Buffer {
    return this.buffer.subarray(0, this.pos);
  }
}

/** bz2 on the calling thread, capped (tests, tools; 16 MiB of output costs about half a second). */
export function bunzip2Sync(body: Buffer, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): Buffer {
  const out = new CappedOutput(maxBytes);
  // seek-bzip accepts any object with writeByte as its output stream (and then returns nothing).
  bunzip.decode(body, out as unknown as Uint8Array);
  return out.getBuffer();
}

/**
 * The worker's program: the same capped decode as bunzip2Sync, one job at
 * a time. Plain CommonJS so it runs without the TypeScript loader.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bunzip = require(workerData.seekBzip);
class CappedOutput {
  constructor(cap) { this.cap = cap; this.buffer = Buffer.alloc(Math.min(4096, cap)); this.pos = 0; }
  writeByte(byte) {
    if (this.pos >= this.buffer.length) {
      if (this.buffer.length >= this.cap) { const e = new Error('bz2 body inflates beyond ' + this.cap + ' bytes'); e.name = 'OutputTooLarge'; throw e; }
      const next = Buffer.alloc(Math.min(this.cap, this.buffer.length * 2));
      this.buffer.copy(next, 0, 0, this.pos);
      this.buffer = next;
    }
    this.buffer[this.pos++] = byte;
  }
}
parentPort.on('message', (job) => {
  try {
    const out = new CappedOutput(job.cap);
    bunzip.decode(Buffer.from(job.body), out);
    const data = new Uint8Array(out.pos);
    data.set(out.buffer.subarray(0, out.pos));
    parentPort.postMessage({ id: job.id, ok: true, data }, [data.buffer]);
  } catch (e) {
    parentPort.postMessage({ id: job.id, ok: false, name: e && e.name, message: String(e && e.message) });
  }
});
`;

interface Job {
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
}

/** One lazily started, unref'd worker for bz2 bodies; a crash fails its pending jobs and the next job starts a new one. */
class Bz2Worker {
  private worker: Worker | null = null;
  private readonly jobs = new Map<number, Job>();
  private seq = 0;

  decode(body: Buffer, maxBytes: number): Promise<Buffer> {
    const w = this.worker ?? this.start();
    const id = ++this.seq;
    // A copy of just these bytes (amqplib bodies may be views of a larger frame buffer), moved to the worker.
    const copy = new Uint8Array(body.length);
    copy.set(body);
    return new Promise<Buffer>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject });
      if (this.jobs.size === 1) w.ref();
      w.postMessage({ id, body: copy, cap: maxBytes }, [copy.buffer]);
    });
  }

  private start(): Worker {
    const seekBzip = createRequire(import.meta.url).resolve('seek-bzip');
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { seekBzip }, resourceLimits: { maxOldGenerationSizeMb: 64 } });
    w.unref();
    w.on('message', (m: { id: number; ok: boolean; data?: Uint8Array; name?: string; message?: string }) => {
      const job = this.jobs.get(m.id);
      if (!job) return;
      this.jobs.delete(m.id);
      if (this.jobs.size === 0) w.unref();
      if (m.ok && m.data) job.resolve(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
      else {
        const err = new Error(m.message ?? 'bz2 decode failed');
        err.name = m.name ?? 'Error';
        job.reject(err);
      }
    });
    const fail = (err: Error): void => {
      if (this.worker === w) this.worker = null;
      for (const job of this.jobs.values()) job.reject(err);
      this.jobs.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`bz2 worker exited (${code})`)));
    this.worker = w;
    return w;
  }
}

const bz2Worker = new Bz2Worker();
