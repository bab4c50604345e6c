import { stripVTControlCharacters } from 'node:util';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decodedMessageSchema } from '../../lib/tap-contracts.ts';
import { MemoryBroker, RpcClient, RpcServer, Transport } from '../../server/messaging/index.ts';
import type { TapStatus } from '../../lib/tap-contracts.ts';
import { computeCoverage } from '../../server/tap/index.ts';
import { runTapCommand, statusLine } from './tap.ts';
import { waitFor } from '../../server/tap/test-support.ts';

function sink() {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { stream, text: () => text };
}

function run(argv: string[], env: NodeJS.ProcessEnv = {}, signal?: AbortSignal) {
  const out = sink();
  const err = sink();
  const done = runTapCommand(argv, { stdout: out.stream, stderr: err.stream, env, signal });
  return { done, out, err };
}

describe('osloscope tap (runTapCommand)', () => {
  it.each([
    [['--bogus']],
    [['--count', '0']],
    [['--count', 'x']],
    [['--seconds', '-1']],
    [['--duration', 'x']],
    [['--seconds', '1', '--duration', '1']],
    [['--kind', 'rpc']],
    [['--filter', 'colour:red']],
    [['--firehose', '--bindings']],
    [['--url', 'nosuchdriver://h/']],
    [['--management-url', 'not a url']],
    [['--firehose-auto-off', '60']],
    [['--enable-firehose', '--firehose-auto-off', '0']],
    [['--enable-firehose', '--bindings']],
  ])('exits 2 with a one-line error on bad usage %j', async (argv) => {
    const { done, out, err } = run(argv);
    expect(await done).toBe(2);
    expect(out.text()).toBe('');
    expect(err.text()).toMatch(/^osloscope tap: .+\n$/);
  });

  it('prints help on --help', async () => {
    const { done, out } = run(['--help']);
    expect(await done).toBe(0);
    expect(out.text()).toMatch(/usage: osloscope tap/);
  });

  it('exits 5 when the broker cannot be reached', async () => {
    const { done, out, err } = run(['--url', 'rabbit://guest:guest@127.0.0.1:1/', '--count', '1'], { RABBITMQ_MANAGEMENT_URL: 'http://127.0.0.1:1' });
    expect(await done).toBe(5);
    expect(out.text()).toBe('');
    expect(err.text()).toMatch(/^osloscope tap: cannot connect to rabbit:\/\/127\.0\.0\.1:1\/: .+\n$/);
    expect(err.text()).not.toContain('guest:guest');
  });

  it('prints one redacted JSON object per decoded message, filtered by --kind/--topic, and stops after --count', async () => {
    // memory:// transports in one process share a broker per vhost: use a vhost of our own
    const url = `memory:///tapcmd-${process.pid}`;
    const broker = MemoryBroker.shared(`tapcmd-${process.pid}`);
    const serverT = new Transport(url, { programName: 'nova-compute', memoryBroker: broker });
    const clientT = new Transport(url, { programName: 'nova-api', memoryBroker: broker });
    const server = new RpcServer(serverT, { topic: 'compute', server: 'h1' }, [{ echo: (_c: unknown, a: Record<string, unknown>) => a.value }]);
    await server.start();
    try {
      const { done, out, err } = run(['--kind', 'call,cast', '--topic', 'comp*', '--count', '2'], { TRANSPORT_URL: url });
      await waitFor(() => err.text().includes('bindings mode'), 'status line');
      expect(err.text()).toMatch(/replies are invisible — turn the firehose on with: rabbitmqctl trace_on -p tapcmd-/);
      const client = new RpcClient(clientT, { topic: 'compute' });
      await client.prepare({ topic: 'other' }).cast({}, 'echo', { value: 0 }).catch(() => undefined);
      await client.call({ auth_token: 'SECRET-TOKEN', request_id: 'req-cli' }, 'echo', { value: 1 });
      await client.cast({}, 'echo', { value: 2 });
      await client.cast({}, 'echo', { value: 3 });
      expect(await done).toBe(0);
      const lines = out.text().trim().split('\n');
      expect(lines).toHaveLength(2);
      const msgs = lines.map((l) => decodedMessageSchema.parse(JSON.parse(l)));
      expect(msgs.map((m) => [m.kind, m.topic, m.args])).toEqual([
        ['call', 'compute', { value: 1 }],
        ['cast', 'compute', { value: 2 }],
      ]);
      expect(msgs[0].context).toMatchObject({ auth_token: '***', request_id: 'req-cli' });
      expect(out.text()).not.toContain('SECRET-TOKEN');
    } finally {
      await server.stop();
      await serverT.close();
      await clientT.close();
    }
  });

  it.each([
    ['method:', /'method:' needs a value/],
    ['kind:call AND method:x', /'AND' is not an operator/],
    ['(kind:call', /parentheses are not part of the filter grammar/],
    ['method=get_*', /write method:get_\* \(field:value\)/],
    ['kind:call -server!=h1', /write -server:h1/],
    ['"unterminated', /Unterminated quote/],
  ])('a malformed --filter %j is exit 2 with the parse error, as JSON with --json', async (filter, why) => {
    const plain = run(['--filter', filter]);
    expect(await plain.done).toBe(2);
    expect(plain.err.text()).toMatch(/^osloscope tap: --filter: .+\n$/);
    expect(plain.err.text()).toMatch(why);
    const out = sink();
    const err = sink();
    expect(await runTapCommand(['--filter', filter], { stdout: out.stream, stderr: err.stream, env: {}, json: true })).toBe(2);
    const e = JSON.parse(err.text()) as { error: { code: string; message: string } };
    expect(e.error.code).toBe('usage');
    expect(e.error.message).toMatch(why);
    expect(out.text()).toBe('');
  });

  it('--pretty prints one line per message and a summary when it stops; colours only on a TTY without NO_COLOR', async () => {
    const url = `memory:///tapcmd3-${process.pid}`;
    const broker = MemoryBroker.shared(`tapcmd3-${process.pid}`);
    const serverT = new Transport(url, { programName: 'nova-compute', memoryBroker: broker });
    const clientT = new Transport(url, { programName: 'nova-api', memoryBroker: broker });
    const server = new RpcServer(serverT, { topic: 'compute', server: 'h1' }, [{ echo: (_c: unknown, a: Record<string, unknown>) => a.value }]);
    await server.start();
    try {
      // a TTY stdout: colours unless NO_COLOR is set
      const tty = sink();
      (tty.stream as unknown as { isTTY: boolean }).isTTY = true;
      const err = sink();
      const ac = new AbortController();
      const done = runTapCommand(['--pretty', '--topic', 'compute'], { stdout: tty.stream, stderr: err.stream, env: { TRANSPORT_URL: url }, signal: ac.signal });
      await waitFor(() => err.text().includes('mode'), 'status line');
      const client = new RpcClient(clientT, { topic: 'compute' });
      await client.call({ request_id: 'req-pretty-1', auth_token: 'SECRET-TOKEN' }, 'echo', { value: 'x'.repeat(2000) });
      await client.cast({}, 'echo', { value: 2 });
      await client.prepare({ server: 'h1' }).cast({ request_id: 'req-pretty-3' }, 'reboot', { value: 3 });
      await waitFor(() => tty.text().split('\n').filter((l) => l.includes('compute')).length >= 3, 'three lines (a call, two casts; replies are invisible in bindings mode)');
      ac.abort();
      expect(await done).toBe(0);
      const text = tty.text();
      expect(text).toContain('\u001b[');
      const plain = stripVTControlCharacters(text);
      expect(plain).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}call +compute +echo +req-pretty-1 +\d\.\d KiB$/m);
      expect(plain).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}cast +compute\.h1 +reboot +req-pretty-3 +\d+ B$/m);
      expect(plain).toMatch(/^-- \d+ message\(s\) in [\d.]+ s, /m);
      expect(plain).toMatch(/^ {3}by kind: .*call 1/m);
      expect(plain).toMatch(/^ {3}by kind: .*cast 2/m);
      expect(plain).toMatch(/^ {3}top methods:\n +2 +compute echo\n +1 +compute reboot$/m);
      expect(plain).toMatch(/^ {3}undecodable: 0; remote failures: 0$/m);
      expect(text).not.toContain('SECRET-TOKEN');

      // NO_COLOR, and a pipe: no escape codes; --count ends it and prints the summary too
      for (const [isTTY, env] of [
        [true, { TRANSPORT_URL: url, NO_COLOR: '1' }],
        [false, { TRANSPORT_URL: url }],
      ] as const) {
        const out = sink();
        (out.stream as unknown as { isTTY: boolean }).isTTY = isTTY;
        const e2 = sink();
        const d2 = runTapCommand(['--pretty', '--count', '1', '--topic', 'compute'], { stdout: out.stream, stderr: e2.stream, env });
        await waitFor(() => e2.text().includes('mode'), 'status line');
        await client.cast({}, 'echo', { value: 4 });
        expect(await d2).toBe(0);
        expect(out.text()).not.toContain('\u001b[');
        expect(out.text()).toMatch(/^-- 1 message\(s\)/m);
      }
    } finally {
      await server.stop();
      await serverT.close();
      await clientT.close();
    }
  });

  it('stops after --duration (the same as --seconds) and on abort', async () => {
    const url = `memory:///tapcmd2-${process.pid}`;
    const t0 = Date.now();
    const a = run(['--duration', '0.3'], { TRANSPORT_URL: url });
    expect(await a.done).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    const ac = new AbortController();
    const b = run([], { TRANSPORT_URL: url }, ac.signal);
    await waitFor(() => b.err.text().includes('mode'), 'started');
    ac.abort();
    expect(await b.done).toBe(0);
  });
});

describe('statusLine', () => {
  const status = (over: Partial<TapStatus>): TapStatus =>
    ({
      requestedMode: 'auto',
      mode: 'bindings',
      state: 'running',
      error: null,
      vhost: '/',
      canSeeReplies: false,
      firehose: { on: false, detectedBy: 'management', canEnable: true },
      hint: null,
      tappedExchanges: ['nova'],
      fanoutExchanges: [],
      tapQueues: [],
      inspector: 'management',
      counters: { received: 0, decoded: 0, undecodable: 0, dropped: 0, evictedMessages: 0, evictedCalls: 0, evictedRateKeys: 0 },
      startedAt: 0,
      ...over,
    }) as TapStatus;
  const node = (n: string, tracing: boolean, mine = false) => ({ node: n, tracing, connections: 1, endpoint: null, error: null, enabledByOsloscope: mine });
  const cover = (nodes: ReturnType<typeof node>[], autoOffAt: number | null = null) => computeCoverage('/', 0, nodes, autoOffAt);

  it('single broker: the classic hint', () => {
    expect(statusLine({ status: () => status({}), firehoseCoverage: cover([node('a', false)]) }, 'rabbit://h/')).toBe(
      'bindings mode on vhost / (rabbit://h/), tapping nova; replies are invisible — turn the firehose on with: rabbitmqctl trace_on -p /',
    );
  });

  it('cluster: coverage and that tracing is per node', () => {
    const line = statusLine({ status: () => status({}), firehoseCoverage: cover([node('a', true), node('b', true), node('c', false)]) }, 'rabbit://h/');
    expect(line).toContain('; tracing on 2 of 3 nodes (67% of connections);');
    expect(line).toContain('tracing is per node, turn it on for all 3 with osloscope tap --enable-firehose');
  });

  it('firehose turned on by osloscope says when it goes off', () => {
    const line = statusLine(
      { status: () => status({ mode: 'firehose', canSeeReplies: true, firehose: { on: true, detectedBy: 'management', canEnable: true } }), firehoseCoverage: cover([node('a', true, true)], Date.UTC(2026, 0, 1, 12)) },
      'rabbit://h/',
    );
    expect(line).toBe('firehose mode on vhost / (rabbit://h/): replies and deliveries visible; osloscope turns it off at 2026-01-01T12:00:00.000Z or on exit');
  });
});
