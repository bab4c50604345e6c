/**
 * `osloscope bench --json` against the real RabbitMQ: a short run prints one
 * JSON object per measurement, each of the documented shape, every figure a
 * positive finite number, and ratios that agree with the calls/s they come
 * from. The firehose benchmark's JSON likewise, in its throw-away traced vhost.
 */
import { Writable } from 'node:stream';
import amqplib from 'amqplib';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runBenchCommand } from './bench.ts';

const URL = process.env.TEST_TRANSPORT_URL ?? 'rabbit://guest:guest@127.0.0.1:5672/';

const available = await amqplib.connect(URL.replace(/^rabbit:/, 'amqp:')).then(
  async (c) => {
    await c.close();
    return true;
  },
  () => false,
);
if (!available && process.env.CI) throw new Error(`RabbitMQ not reachable at ${URL}`);

const positive = z.number().positive().finite();
const environment = z.object({ benchmark: z.literal('environment'), date: z.string(), node: z.string(), cpus: z.number().int().positive(), loadAverage1m: z.number().nonnegative() });
const rpc = z
  .object({
    benchmark: z.literal('rpc'),
    impl: z.enum(['osloscope', 'amqplib', 'amqplib+confirms']),
    concurrency: z.number().int().positive(),
    calls: z.number().int().positive(),
    seconds: positive,
    callsPerSec: positive,
    rounds: z.array(positive).min(1),
    p50Ms: positive,
    p99Ms: positive,
    vsAmqplib: positive,
    vsAmqplibConfirms: positive,
    clientCpuUsPerCall: positive,
    serverCpuUsPerCall: z.number().nonnegative().finite(),
    brokerCpuUsPerCall: z.number().nonnegative().finite().optional(),
  })
  .strict();

async function bench(args: string[]): Promise<{ code: number; lines: unknown[]; stderr: string }> {
  let out = '';
  let stderr = '';
  const sink = (f: (s: string) => void) =>
    new Writable({
      write(chunk, _e, cb) {
        f(String(chunk));
        cb();
      },
    });
  const code = await runBenchCommand([...args, '--url', URL], {
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (stderr += s)),
    env: {},
  });
  const lines = out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as unknown);
  return { code, lines, stderr };
}

describe.skipIf(!available)('osloscope bench --json on RabbitMQ', () => {
  it('prints one valid object per measurement with positive, finite figures', async () => {
    const { code, lines, stderr } = await bench(['--json', '--skip-python', '--calls', '60', '--repeat', '2', '--concurrency', '1,4']);
    expect(code, stderr).toBe(0);
    expect(lines).toHaveLength(1 + 2 * 3);
    environment.parse(lines[0]);
    const rows = lines.slice(1).map((l) => rpc.parse(l));
    expect(rows.map((r) => `${r.concurrency} ${r.impl}`).sort()).toEqual(
      ['1 amqplib', '1 amqplib+confirms', '1 osloscope', '4 amqplib', '4 amqplib+confirms', '4 osloscope'].sort(),
    );
    for (const r of rows) {
      expect(r.calls).toBe(60);
      expect(r.rounds).toHaveLength(2);
      // the reported figure is one of the rounds (the median), and it matches calls / seconds
      expect(r.rounds).toContain(r.callsPerSec);
      expect(r.callsPerSec).toBeCloseTo(r.calls / r.seconds, 6);
      expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms);
      const base = rows.find((x) => x.concurrency === r.concurrency && x.impl === 'amqplib+confirms')!;
      expect(r.vsAmqplibConfirms).toBeCloseTo(r.callsPerSec / base.callsPerSec, 9);
    }
  }, 240_000);

  it('--markdown and --json together are a usage error', async () => {
    const { code, stderr } = await bench(['--json', '--markdown', '--skip-python']);
    expect(code).not.toBe(0);
    expect(stderr).toContain('--markdown and --json');
  });

  it('--firehose --json: the tap keeps every trace message of a short run in a traced throw-away vhost', async () => {
    const { code, lines, stderr } = await bench(['--firehose', '--json', '--calls', '150', '--repeat', '1', '--concurrency', '8']);
    expect(code, stderr).toBe(0);
    expect(lines).toHaveLength(2);
    environment.parse(lines[0]);
    const fh = z
      .object({
        benchmark: z.literal('firehose'),
        calls: z.literal(150),
        concurrency: z.literal(8),
        callsPerSecNoTrace: positive,
        callsPerSecTraceNoTap: positive,
        callsPerSecWithTap: positive,
        traceMessages: positive,
        expectedTraceMessages: positive,
        traceMessagesPerSec: positive,
        drops: z.number().int().nonnegative(),
        lagP50Ms: positive,
        lagP99Ms: positive,
        lagMaxMs: positive,
        tapCpuUsPerTraceMessage: positive,
        tapCpuUsPerCall: positive,
        brokerCpuUsPerCallNoTrace: z.number().nonnegative().finite().optional(),
        brokerCpuUsPerCallTraceNoTap: z.number().nonnegative().finite().optional(),
        brokerCpuUsPerCallWithTap: z.number().nonnegative().finite().optional(),
        roundsDetail: z.array(z.record(z.string(), z.unknown())).length(1),
      })
      .strict()
      .parse(lines[1]);
    // four traces per call: publish and deliver of the request and of the reply
    expect(fh.expectedTraceMessages).toBe(600);
    expect(fh.traceMessages).toBe(600);
    expect(fh.drops).toBe(0);
    expect(fh.lagP99Ms).toBeGreaterThanOrEqual(fh.lagP50Ms);
  }, 300_000);
});
