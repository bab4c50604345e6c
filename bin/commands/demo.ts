/**
 * `osloscope demo --url URL`: run the demo fleet (simulated nova and neutron
 * services) against a broker, so a dashboard pointed at the same broker has
 * something to show. Stops on SIGINT/SIGTERM, on `--seconds`, or when
 * `io.signal` aborts.
 *
 * Exit codes follow the CLI contract: 0 ok, 2 usage, 5 cannot connect.
 */
import { parseArgs } from 'node:util';
import {
  ConfigError,
  configSourcesFromTokens,
  loadOsloConfig,
  MessageDeliveryFailure,
  originOf,
  transportUrlFrom,
  type Logger,
  type SettingCandidate,
  type TransportURL,
} from '../../server/messaging/index.ts';
import { DemoFleet } from '../../server/demo/fleet.ts';

export interface DemoCommandIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** stops the fleet when aborted (tests, embedding) */
  signal?: AbortSignal;
}

export const DEMO_USAGE = `usage: osloscope demo [--url URL] [--rate N] [--seconds S] [--exchange NAME] [--verbose]

Run simulated OpenStack services (nova-conductor, nova-compute, nova-scheduler,
neutron agents, a dead compute host) that call, cast, fan out and notify.

  --url URL        transport URL (default: $TRANSPORT_URL, else rabbit://guest:guest@127.0.0.1:5672/)
  --rate N         traffic multiplier, 1 = about 10 messages/s (default 1)
  --seconds S      stop after S seconds (default: run until interrupted)
  --exchange NAME  exchange of the nova services (default nova)
  --verbose        log connection events to stderr
  --config-file PATH, --config-dir DIR
                   oslo.config files (nova.conf, ...) whose [DEFAULT] transport_url and
                   [oslo_messaging_rabbit] options apply; later files win; --url and
                   $TRANSPORT_URL take precedence over them
`;

function stderrLogger(io: DemoCommandIO, verbose: boolean): Logger {
  const line = (level: string) => (obj: object, msg: string) => {
    if (verbose || level === 'warn' || level === 'error') io.stderr.write(`${level}: ${msg} ${JSON.stringify(obj)}\n`);
  };
  return { debug: verbose ? line('debug') : () => {}, info: line('info'), warn: line('warn'), error: line('error') };
}

export async function runDemoCommand(argv: readonly string[], io: DemoCommandIO): Promise<number> {
  let values;
  let tokens;
  try {
    ({ values, tokens } = parseArgs({
      args: [...argv],
      options: {
        url: { type: 'string' },
        rate: { type: 'string', default: '1' },
        seconds: { type: 'string' },
        exchange: { type: 'string', default: 'nova' },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        'config-file': { type: 'string', multiple: true },
        'config-dir': { type: 'string', multiple: true },
      },
      tokens: true,
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.stderr.write(`osloscope demo: ${(err as Error).message}\n${DEMO_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(DEMO_USAGE);
    return 0;
  }
  const rate = Number(values.rate);
  if (!Number.isFinite(rate) || rate <= 0 || rate > 100) {
    io.stderr.write('osloscope demo: --rate must be a number above 0 and at most 100\n');
    return 2;
  }
  const seconds = values.seconds === undefined ? null : Number(values.seconds);
  if (seconds !== null && (!Number.isFinite(seconds) || seconds <= 0)) {
    io.stderr.write('osloscope demo: --seconds must be a positive number\n');
    return 2;
  }
  let url: TransportURL;
  try {
    const sources = configSourcesFromTokens(tokens);
    const files = sources.length > 0 ? loadOsloConfig(sources) : null;
    const candidates: SettingCandidate[] = [
      { value: values.url, source: '--url' },
      { value: process.env.TRANSPORT_URL, source: 'TRANSPORT_URL' },
      ...(files ? [{ value: files.defaults.transport_url, source: originOf(files, 'DEFAULT', 'transport_url') }] : []),
      { value: 'rabbit://guest:guest@127.0.0.1:5672/', source: 'the default URL' },
    ];
    url = transportUrlFrom(candidates, files?.rabbit ?? {}).url;
    for (const note of [...(files?.notes ?? []), ...url.warnings]) io.stderr.write(`osloscope demo: note: ${note}\n`);
  } catch (err) {
    io.stderr.write(`osloscope demo: bad configuration: ${err instanceof ConfigError ? err.message : 'cannot parse'}\n`);
    return 2;
  }

  const fleet = new DemoFleet({ url, rate, novaExchange: values.exchange, log: stderrLogger(io, values.verbose) });
  try {
    await fleet.start();
  } catch (err) {
    const reason = err instanceof MessageDeliveryFailure || (err as Error).name === 'MessageDeliveryFailure' ? 'cannot connect' : 'cannot start';
    io.stderr.write(`osloscope demo: ${reason} to ${url.toString()}: ${(err as Error).message}\n`);
    await fleet.stop();
    return 5;
  }
  io.stdout.write(`demo fleet running on ${url.toString()} (rate ${rate}); Ctrl-C stops it\n`);

  await waitForStop(seconds, io.signal);
  const s = fleet.stats();
  await fleet.stop();
  io.stdout.write(`${JSON.stringify({ stopped: true, ...s })}\n`);
  return 0;
}

/** Resolves on SIGINT/SIGTERM, after `seconds`, or when `signal` aborts; removes its listeners. */
function waitForStop(seconds: number | null, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      if (timer) clearTimeout(timer);
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    if (seconds !== null) timer = setTimeout(done, seconds * 1000);
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    signal?.addEventListener('abort', done, { once: true });
    if (signal?.aborted) done();
  });
}
