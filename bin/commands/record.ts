/**
 * `osloscope record`: the tap into the history store without the web server,
 * for a headless capture service. Configured by the same environment as the
 * server (TRANSPORT_URL or TRANSPORT_URLS: every named transport, each row stored under its name; OSLO_CONFIG_FILES, TAP_MODE, RABBITMQ_MANAGEMENT_URL,
 * DATABASE_URL / HISTORY_DATABASE, HISTORY_RETENTION, HISTORY_MAX_BYTES).
 * Runs until SIGINT/SIGTERM (or --duration), then writes what is queued.
 *
 * exit 0 stopped cleanly, 2 usage / configuration, 5 store or broker unreachable.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../../server/config.ts';
import pino from 'pino';
import { ConfigError } from '../../server/messaging/index.ts';
import { fleetFromConfig } from '../../server/tap-from-config.ts';
import { LOG_REDACTION, redactUrlPasswords } from '../../server/tap/redact.ts';
import { HistoryStore } from '../../server/store/store.ts';
import { HistoryWriter } from '../../server/store/writer.ts';
import { EXIT, writeError, type Io } from './common.ts';

const USAGE = `usage: osloscope record [--duration SECONDS] [--quiet]

Runs the traffic tap into the history store without the dashboard (headless capture).
Configured like the server: TRANSPORT_URL (or TRANSPORT_URLS: every broker, each
row stored under its transport's name), TAP_MODE, RABBITMQ_MANAGEMENT_URL, and
DATABASE_URL (postgres://…) or HISTORY_DATABASE (SQLite file, default ./data/).
A status line goes to stderr every 10 s; SIGINT/SIGTERM stop after writing what is queued.
Then \`osloscope why TEXT\` reads what was recorded.`;

export async function runRecordCommand(argv: string[], io: Io, signal?: AbortSignal): Promise<number> {
  let values;
  try {
    values = parseArgs({ args: argv, options: { duration: { type: 'string' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (err) {
    return writeError(io, EXIT.usage, `osloscope record: ${(err as Error).message} (see osloscope record --help)`);
  }
  if (values.help) {
    io.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  const duration = values.duration === undefined ? null : Number(values.duration);
  if (duration !== null && (!Number.isFinite(duration) || duration <= 0 || duration > 366 * 86_400)) return writeError(io, EXIT.usage, 'osloscope record: --duration is a number of seconds above 0');
  let config;
  try {
    config = loadConfig(io.env);
  } catch (err) {
    if (err instanceof ConfigError) return writeError(io, EXIT.usage, `osloscope record: ${err.message}`);
    throw err;
  }
  if (config.tapMode === 'off') return writeError(io, EXIT.usage, 'osloscope record: TAP_MODE=off leaves nothing to record');
  if (!config.history?.enabled) return writeError(io, EXIT.usage, 'osloscope record: HISTORY=off leaves nowhere to record to');
  const log = pino({ level: values.quiet ? 'error' : config.logLevel === 'info' ? 'warn' : config.logLevel, base: { service: 'osloscope-record' }, ...LOG_REDACTION }, pino.destination(2));
  let store: HistoryStore;
  try {
    store = await HistoryStore.open(config.history.target);
  } catch (err) {
    return writeError(io, EXIT.connect, `osloscope record: ${redactUrlPasswords((err as Error).message)}`);
  }
  // every named transport (TRANSPORT_URLS), each row stored under its name, like the server
  const { transports, taps, fleet } = fleetFromConfig(config, log, { programName: 'osloscope-record' });
  const live = taps.filter((t): t is NonNullable<typeof t> => t !== null);
  const writer = new HistoryWriter(store, config.history, log.child({ part: 'history' }), fleet.defaultName);
  writer.attach(fleet.tap()!);
  const closeTransports = () => Promise.allSettled(transports.map((t) => t.close().catch(() => undefined)));
  const line = async () => {
    const s = await writer.status();
    const taps = fleet.members.map((m) => `${fleet.members.length > 1 ? `${m.name} ` : ''}${m.tap ? `${m.tap.status().state} (${m.tap.status().mode})` : 'off'}`).join(', ');
    return `record: tap ${taps}, store ${s.backend} ${s.location}: ${s.written} written, ${s.queueDepth} queued, ${s.dropped} dropped${s.lastError ? `, last error: ${redactUrlPasswords(s.lastError)}` : ''}`;
  };
  const started = await Promise.allSettled(live.map((t) => t.start()));
  const failed = started.flatMap((r, i) => (r.status === 'rejected' ? [`${config.transports[i].name}: ${(r.reason as Error).message}`] : []));
  if (failed.length > 0) {
    await Promise.allSettled(live.map((t) => t.stop()));
    await writer.stop();
    await store.close().catch(() => undefined);
    await closeTransports();
    return writeError(io, EXIT.connect, `osloscope record: the tap cannot start: ${redactUrlPasswords(failed.join('; '))}`);
  }
  if (!values.quiet) io.stderr.write(`${await line()}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    signal?.addEventListener('abort', stop, { once: true });
    if (duration !== null) setTimeout(stop, duration * 1000).unref();
    const every = setInterval(() => {
      if (!values.quiet) void line().then((l) => io.stderr.write(`${l}\n`));
    }, 10_000);
    every.unref();
  });
  await Promise.allSettled(live.map((t) => t.stop()));
  await writer.stop();
  if (!values.quiet) io.stderr.write(`${await line()}\n`);
  await store.close().catch(() => undefined);
  await closeTransports();
  return EXIT.ok;
}
