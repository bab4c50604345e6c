/**
 * Large valid messages on the real RabbitMQ: 30 casts of 20 MB each (oslo
 * bodies, well under RabbitMQ 3.10's 128 MB max_message_size) through the
 * dashboard's tap, then the HTTP API. Each is stored cut to the per-message
 * budget with the "truncated, N bytes" marker, the recent messages are held
 * within their byte bound, the listing and the NDJSON export answer (the
 * export streamed, line by line) and the process stays bounded.
 */
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecodedMessage } from '../../lib/tap-contracts.ts';
import type { RunningServer } from '../../server/index.ts';
import { startOsloscopeOnVhost } from '../support/osloscope.ts';
import { createTestVhost, managementAvailable, TEST_MANAGEMENT_URL, waitFor, type TestVhost } from '../../server/tap/test-support.ts';

const available = await managementAvailable();
if (!available && process.env.CI) throw new Error('RabbitMQ management API not reachable at ' + TEST_MANAGEMENT_URL);

const MiB = 1024 * 1024;
const BLOB = 10 * MiB;
const COUNT = 30;

/** A 20 MB oslo cast as kombu writes it: the v2 envelope around the JSON text of the message. */
function bigCastTemplate(): { body: Buffer; at: number } {
  // one 10 MiB string and 200 strings of 50 KiB: cut strings and cut lists
  const chunk = `"${'C'.repeat(50 * 1024)}"`;
  const inner = `{"method": "store_image", "args": {"n": NN, "image": "${'I'.repeat(BLOB)}", "chunks": [${Array.from({ length: 200 }, () => chunk).join(', ')}]}, "_context_request_id": "req-NN"}`;
  const body = Buffer.from(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': inner }));
  return { body, at: body.indexOf('NN') };
}

/** The template with its number (and request id) set: a fresh buffer, no 20 MB strings built per message. */
function bigCast(t: { body: Buffer }, n: number): Buffer {
  const b = Buffer.from(t.body);
  const digits = String(n).padStart(2, '0');
  for (let at = b.indexOf('NN'); at >= 0; at = b.indexOf('NN', at + 2)) b.write(digits, at, 'latin1');
  return b;
}

describe.skipIf(!available)('large messages through the tap and the HTTP API', () => {
  let vh: TestVhost;
  let srv: RunningServer;

  beforeAll(async () => {
    vh = await createTestVhost('osloscope-large');
    srv = await startOsloscopeOnVhost(vh, { TAP_RECENT_BYTES: String(4 * MiB) });
    await waitFor(async () => ((await (await fetch(`${srv.url}/api/health`)).json()) as { data: { tap?: { state: string } } }).data.tap?.state === 'running', 'the tap');
  }, 60_000);

  afterAll(async () => {
    await srv?.close();
    await vh?.remove();
  });

  async function listing(): Promise<DecodedMessage[]> {
    const res = await fetch(`${srv.url}/api/messages?limit=200`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { data: { messages: DecodedMessage[] } }).data.messages;
  }

  it('30 × 20 MB casts: stored cut with the marker, held within TAP_RECENT_BYTES, listed and exported (streamed), RSS bounded', async () => {
    const template = bigCastTemplate();
    const rss0 = process.memoryUsage.rss();
    let peak = rss0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 20);
    try {
      const amqp = await amqplib.connect(vh.amqpUrl);
      const ch = await amqp.createConfirmChannel();
      for (let n = 0; n < COUNT; n++) {
        ch.publish('nova', 'image_store', bigCast(template, n), { contentType: 'application/json', contentEncoding: 'utf-8', headers: {} });
        await ch.waitForConfirms();
      }
      await amqp.close();
      await waitFor(async () => (await listing()).some((m) => (m.args as { n?: number } | null)?.n === COUNT - 1), 'the last cast in the listing', 120_000, 500);
    } finally {
      clearInterval(sampler);
    }

    const messages = await listing();
    // TAP_RECENT_BYTES (4 MiB) holds about 15 of the ~257 KiB stored copies: the oldest went first
    expect(messages.length).toBeGreaterThan(5);
    expect(messages.length).toBeLessThan(COUNT);
    expect(messages.map((m) => (m.args as { n: number }).n)).toEqual(Array.from({ length: messages.length }, (_, i) => COUNT - messages.length + i));
    for (const m of messages) {
      expect(m.kind).toBe('cast');
      expect(m.method).toBe('store_image');
      expect(m.requestId).toMatch(/^req-\d+$/);
      expect(m.truncatedBytes).toBeGreaterThan(BLOB);
      const args = m.args as { image: string; chunks: string[] };
      expect(args.image.endsWith(`… [truncated, ${BLOB} bytes]`)).toBe(true);
      expect(args.image.length).toBeLessThan(2048);
      // the per-message budget (256 KiB) keeps the first chunks whole, then the list is cut
      expect(args.chunks.length).toBeLessThan(16);
      expect(args.chunks[0]).toHaveLength(50 * 1024);
      expect(args.chunks.at(-1)).toMatch(/^… \[truncated, \d+ more items\]$/);
      expect(JSON.stringify(m).length).toBeLessThan(300 * 1024);
    }

    const exp = await fetch(`${srv.url}/api/messages?format=ndjson`);
    expect(exp.status).toBe(200);
    expect(exp.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    // streamed: no length known up front
    expect(exp.headers.get('content-length')).toBeNull();
    const text = await exp.text();
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(messages.length);
    expect(lines.map((l) => (JSON.parse(l) as DecodedMessage).id)).toEqual(messages.map((m) => m.id));
    expect(text.length).toBeLessThan(messages.length * 300 * 1024);

    // the 600 MB that went through were never held: the process grew far less than what was published
    expect((peak - rss0) / MiB).toBeLessThan(500);
  }, 240_000);
});
