/**
 * Small HTTP helpers for the API: JSON envelopes, JSON bodies read with a
 * size cap and precise errors. Our own stack traces never go into a response.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiError } from '../../lib/api-contracts.ts';

export const MAX_BODY_BYTES = 256 * 1024;

/** An error that becomes a `{ok:false,error}` reply with this status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Partial<ApiError> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const SECURITY_HEADERS: Record<string, string> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendData(res: ServerResponse, data: unknown, status = 200): void {
  sendJson(res, status, { ok: true, data });
}

export function sendError(res: ServerResponse, status: number, code: string, message: string, extra: Partial<ApiError> = {}): void {
  sendJson(res, status, { ok: false, error: { code, message, ...extra } });
}

export function sendText(res: ServerResponse, status: number, contentType: string, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': contentType, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * Stream lines (each followed by a newline) with backpressure: a large
 * export is never one string (V8 caps strings near 512 MiB, and building one
 * holds the whole export twice). Resolves when the response ends or the
 * client goes away.
 */
export async function sendLines(res: ServerResponse, status: number, contentType: string, lines: Iterable<string>, headers: Record<string, string> = {}): Promise<void> {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': contentType, ...headers });
  for (const line of lines) {
    if (res.destroyed) return;
    if (!res.write(line + '\n')) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  if (!res.destroyed) res.end();
}

/** Read and parse a JSON request body; HttpError 415/413/400 with a message naming the problem. */
export async function readJson(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(415, 'unsupported_media_type', `Send the body as JSON with Content-Type: application/json (got ${type || 'no content type'})`);
  }
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new HttpError(413, 'payload_too_large', `The body is ${declared} bytes; at most ${maxBytes} are accepted`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new HttpError(413, 'payload_too_large', `The body is over ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'bad_json', 'The request body is empty; expected a JSON object');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, 'bad_json', `The request body is not valid JSON: ${describeJsonError(err as Error, text)}`);
  }
}

/** The parser's own words, with line and column added when it gives only a position. */
export function describeJsonError(err: Error, text: string): string {
  const m = /at position (\d+)/.exec(err.message);
  if (!m || /line \d+/.test(err.message)) return err.message;
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return `${err.message} (line ${line} column ${column})`;
}
