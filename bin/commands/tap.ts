/**
 * `osloscope tap`: decoded, redacted traffic as NDJSON on stdout, one JSON
 * object (a DecodedMessage, lib/tap-contracts.ts) per message.
 *
 *   osloscope tap [--url URL] [--exchange X]... [--topic T] [--kind K[,K]]
 *                 [--filter EXPR] [--firehose | --bindings] [--deliveries]
 *                 [--count N] [--seconds S] [--management-url URL]
 *                 [--enable-firehose [--firehose-auto-off S]]
 *
 * Exit codes follow the CLI contract (README.md "Command line"): 0 ok, 2 usage, 5 cannot
 * connect. Errors are one line on stderr; so is the one status line that
 * says which mode the tap runs in (and, in bindings mode, that replies are
 * invisible and how to turn the firehose on).
 */
import { parseArgs } from 'node:util';
import { MESSAGE_KINDS, type DecodedMessage, type TapModeSetting } from '../../lib/tap-contracts.ts';
import {
  ConfigError,
  configSourcesFromTokens,
  loadOsloConfig,
  MessageDeliveryFailure,
  originOf,
  Transport,
  transportUrlFrom,
  type ConfigSource,
  type SettingCandidate,
} from '../../server/messaging/index.ts';
import { DEFAULT_CONTROL_EXCHANGES, FILTER_FIELDS, FilterSyntaxError, globMatch, parseFilter, Tap, type ParsedFilter } from '../../server/tap/index.ts';
import { prettyLine, TapSummary, useColour } from './tap-pretty.ts';
import { UsageError } from './common.ts';

export interface TapCommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
  /** stops the command like Ctrl-C (tests); SIGINT/SIGTERM do the same */
  signal?: AbortSignal;
  /** --json given (bin/osloscope.ts sets it): errors and notes as JSON objects on stderr */
  json?: boolean;
}

export const TAP_EXIT = { ok: 0, failure: 1, usage: 2, connect: 5 } as const;

const DEFAULT_URL = 'rabbit://guest:guest@127.0.0.1:5672/';

/** stdout backlog beyond which lines are dropped (and counted) rather than buffered without bound. */
const MAX_STDOUT_BACKLOG = 8 * 1024 * 1024;

const USAGE = `usage: osloscope tap [--url URL] [--exchange X]... [--topic T] [--kind call,cast,...]
                     [--filter EXPR] [--firehose | --bindings] [--deliveries] [--pretty]
                     [--count N] [--seconds S] [--management-url URL]
                     [--enable-firehose [--firehose-auto-off S]] [--json]

Prints every decoded oslo.messaging message as one JSON object per line (secrets redacted),
or with --pretty one readable line each and a summary when it stops.
  --url              transport URL (default $TRANSPORT_URL or ${DEFAULT_URL})
  --exchange X       control exchange to tap (repeatable; default openstack + the usual service exchanges)
  --topic T          only messages of this topic (wildcards: compute*)
  --kind K           only these kinds: ${MESSAGE_KINDS.join(', ')}
  --filter EXPR      live-stream filter, e.g. 'method:get_* request_id:req-1 error'
  --firehose         use the RabbitMQ firehose (amq.rabbitmq.trace): replies and deliveries visible
  --bindings         use bindings mode even when the firehose is on
  --deliveries       firehose mode: also print deliver.* traces (one line per delivery)
  --pretty           one line per message (time, kind, target, method, request id, size;
                     colours on a terminal unless NO_COLOR is set) and, on exit (Ctrl-C,
                     --count, --seconds), counts per kind, top methods and undecodable bodies
  --json             errors and notes as JSON objects on stderr ({"error":{"code","message"}})
  --count N          stop after N messages
  --seconds S        stop after S seconds (also --duration S)
  --management-url   RabbitMQ management API, e.g. http://guest:guest@127.0.0.1:15672
  --enable-firehose  turn tracing on for the vhost on every cluster node (management API,
                     administrator tag), and off again when the command ends
  --firehose-auto-off S
                     turn that tracing off after S seconds even if the command still runs
  --config-file PATH oslo.config file (nova.conf, ...) whose [DEFAULT] transport_url and
                     [oslo_messaging_rabbit] options apply; repeatable, later files win
  --config-dir DIR   read DIR/*.conf in name order, at its place among the --config-file
  precedence: --url, then $TRANSPORT_URL, then the files, then the default URL`;

const FILTER_FIELD_NAMES: ReadonlySet<string> = new Set(FILTER_FIELDS);

/** Operators of other query languages that this grammar does not have: reject rather than search for them. */
const NOT_OPERATORS = new Set(['AND', 'OR', 'NOT', '&&', '||', '!', '(', ')', '|', '&']);

/**
 * The filter as the tap parses it, plus what the command line rejects that the grammar
 * would take as free text or as "no value": a misspelled query should fail, not match nothing.
 */
export function parseCliFilter(text: string): ParsedFilter {
  const parsed = parseFilter(text);
  for (const t of parsed.terms) {
    if (t.field !== null && t.values.some((v) => v === '')) {
      throw new FilterSyntaxError(
        `'${t.field}:' needs a value after the colon (${t.field}:none matches messages without one; no spaces after ':')`,
      );
    }
    if (t.field === null) {
      const word = t.values[0] ?? '';
      if (NOT_OPERATORS.has(word)) throw new FilterSyntaxError(`'${word}' is not an operator here: all terms must hold (AND), '-term' negates, ',' gives alternatives (kind:call,cast)`);
      if (/^[()]|[()]$/.test(word)) throw new FilterSyntaxError(`parentheses are not part of the filter grammar ('${word}'): all terms must hold, ',' gives alternatives`);
      const eq = /^-?([a-z_]+)(==?|!=)(.*)$/i.exec(word);
      if (eq && FILTER_FIELD_NAMES.has(eq[1].toLowerCase())) {
        throw new FilterSyntaxError(`'${word}': write ${eq[2] === '!=' ? '-' : ''}${eq[1]}:${eq[3]} (field:value)`);
      }
    }
  }
  return parsed;
}

function positiveNumber(text: string | undefined, name: string, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got '${text}'`);
  }
  return n;
}

export async function runTapCommand(argv: string[], io: TapCommandIo): Promise<number> {
  const codes: Record<number, string> = { 1: 'failure', 2: 'usage', 5: 'cannot_connect' };
  /** an error line; with --json {"error":{"code","message"}} */
  const err = (line: string, exit: number = TAP_EXIT.failure): void => {
    const text = line.replace(/\s*\n\s*/g, ' ');
    io.stderr.write(io.json ? `${JSON.stringify({ error: { code: codes[exit] ?? 'failure', message: `osloscope tap: ${text}` } })}\n` : `osloscope tap: ${text}\n`);
  };
  /** a note or status line; with --json {"note": ...} */
  const note = (line: string): void => {
    const text = line.replace(/\s*\n\s*/g, ' ');
    io.stderr.write(io.json ? `${JSON.stringify({ note: `osloscope tap: ${text}` })}\n` : `osloscope tap: ${text}\n`);
  };
  let values: Record<string, string | boolean | string[] | undefined>;
  let configSources: ConfigSource[];
  try {
    const parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: 'string' },
        exchange: { type: 'string', multiple: true },
        topic: { type: 'string' },
        kind: { type: 'string' },
        filter: { type: 'string' },
        firehose: { type: 'boolean' },
        bindings: { type: 'boolean' },
        deliveries: { type: 'boolean' },
        count: { type: 'string' },
        seconds: { type: 'string' },
        duration: { type: 'string' },
        'management-url': { type: 'string' },
        'enable-firehose': { type: 'boolean' },
        'firehose-auto-off': { type: 'string' },
        'config-file': { type: 'string', multiple: true },
        'config-dir': { type: 'string', multiple: true },
        pretty: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      tokens: true,
    });
    values = parsed.values;
    configSources = configSourcesFromTokens(parsed.tokens);
  } catch (e) {
    err(`${(e as Error).message} (see osloscope tap --help)`, TAP_EXIT.usage);
    return TAP_EXIT.usage;
  }
  if (values.help) {
    io.stdout.write(`${USAGE}\n`);
    return TAP_EXIT.ok;
  }

  let count: number | undefined;
  let seconds: number | undefined;
  let autoOff: number | undefined;
  let kinds: Set<string> | null = null;
  let filter: ((m: DecodedMessage) => boolean) | null = null;
  let transport: Transport;
  // [DEFAULT] control_exchange of the services' own files joins the exchanges tapped by default
  let filesControlExchange: string | undefined;
  try {
    count = positiveNumber(values.count as string | undefined, 'count', true);
    if (values.seconds !== undefined && values.duration !== undefined) throw new UsageError('--seconds and --duration are the same option: give one');
    seconds = values.duration !== undefined ? positiveNumber(values.duration as string, 'duration', false) : positiveNumber(values.seconds as string | undefined, 'seconds', false);
    if (values.firehose && values.bindings) throw new UsageError('--firehose and --bindings exclude each other');
    autoOff = positiveNumber(values['firehose-auto-off'] as string | undefined, 'firehose-auto-off', false);
    if (autoOff !== undefined && !values['enable-firehose']) throw new UsageError('--firehose-auto-off needs --enable-firehose');
    if (values['enable-firehose'] && values.bindings) throw new UsageError('--enable-firehose and --bindings exclude each other');
    if (typeof values.kind === 'string') {
      kinds = new Set(values.kind.split(',').map((k) => k.trim().toLowerCase()).filter(Boolean));
      for (const k of kinds) {
        if (!(MESSAGE_KINDS as readonly string[]).includes(k)) throw new UsageError(`--kind '${k}' is not one of ${MESSAGE_KINDS.join(', ')}`);
      }
    }
    if (typeof values.filter === 'string') filter = parseCliFilter(values.filter).predicate;
    const mgmt = values['management-url'] as string | undefined;
    if (mgmt !== undefined) {
      try {
        new URL(mgmt);
      } catch {
        throw new UsageError(`--management-url is not a URL: '${mgmt}'`);
      }
    }
    // oslo.config files (server/messaging/oslo-config.ts); a bad file is a ConfigError naming file and line
    const files = configSources.length > 0 ? loadOsloConfig(configSources) : null;
    filesControlExchange = files?.defaults.control_exchange;
    const candidates: SettingCandidate[] = [
      { value: values.url as string | undefined, source: '--url' },
      { value: io.env?.TRANSPORT_URL, source: 'TRANSPORT_URL' },
      ...(files ? [{ value: files.defaults.transport_url, source: originOf(files, 'DEFAULT', 'transport_url') }] : []),
      { value: DEFAULT_URL, source: 'the default URL' },
    ];
    const { url } = transportUrlFrom(candidates, files?.rabbit ?? {});
    for (const n of [...(files?.notes ?? []), ...url.warnings]) note(`note: ${n}`);
    try {
      transport = new Transport(url, { programName: 'osloscope' });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof FilterSyntaxError || e instanceof ConfigError) {
      err(e instanceof FilterSyntaxError ? `--filter: ${e.message}` : e.message, TAP_EXIT.usage);
      return TAP_EXIT.usage;
    }
    throw e;
  }

  const mode: TapModeSetting = values.firehose ? 'firehose' : values.bindings ? 'bindings' : 'auto';
  const exchanges = values.exchange as string[] | undefined;
  const topic = values.topic as string | undefined;
  const tap = new Tap({
    transport,
    mode,
    exchanges: exchanges ?? (filesControlExchange ? [...new Set([filesControlExchange, ...DEFAULT_CONTROL_EXCHANGES])] : undefined),
    discoverExchanges: exchanges === undefined,
    managementUrl: (values['management-url'] as string | undefined) ?? io.env?.RABBITMQ_MANAGEMENT_URL,
    connectRetry: 0,
    firehoseEnable: values['enable-firehose'] === true,
    firehoseAutoOffMs: autoOff !== undefined ? autoOff * 1000 : 0,
    model: { includeDeliveries: values.deliveries === true, recentLimit: 100 },
  });

  let printed = 0;
  let skipped = 0;
  const pretty = values.pretty === true;
  const colour = pretty && useColour(io.stdout, io.env);
  const summary = pretty ? new TapSummary() : null;
  let finish: (() => void) | null = null;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  tap.on((e) => {
    if (e.type !== 'tap:message' || (count !== undefined && printed >= count)) return;
    const m = e.message;
    if (kinds && !kinds.has(m.kind)) return;
    if (topic !== undefined && (m.topic === null || !globMatch(topic, m.topic))) return;
    if (filter && !filter(m)) return;
    if (((io.stdout as NodeJS.WritableStream & { writableLength?: number }).writableLength ?? 0) > MAX_STDOUT_BACKLOG) {
      skipped++;
      return;
    }
    io.stdout.write(pretty ? `${prettyLine(m, colour)}\n` : `${JSON.stringify(m)}\n`);
    summary?.add(m);
    printed++;
    if (count !== undefined && printed >= count) finish?.();
  });

  try {
    await tap.start();
  } catch (e) {
    await transport.close().catch(() => undefined);
    const text = (e as Error).message;
    if (e instanceof MessageDeliveryFailure || /connect|ECONNREFUSED|ENOTFOUND|ACCESS_REFUSED|timed? ?out/i.test(text)) {
      err(`cannot connect to ${transport.url.describe()}: ${text}`, TAP_EXIT.connect);
      return TAP_EXIT.connect;
    }
    err(text);
    return TAP_EXIT.failure;
  }

  note(statusLine(tap, transport.url.describe()));

  const timer = seconds !== undefined ? setTimeout(() => finish?.(), seconds * 1000) : undefined;
  const onSignal = (): void => finish?.();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  io.signal?.addEventListener('abort', onSignal, { once: true });
  if (io.signal?.aborted) onSignal();
  try {
    await done;
  } finally {
    if (timer) clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    io.signal?.removeEventListener('abort', onSignal);
    await tap.stop();
    await transport.close().catch(() => undefined);
  }
  if (skipped > 0 && !summary) note(`${skipped} message(s) not printed: stdout could not keep up`);
  if (summary) io.stdout.write(summary.render(Date.now(), { skipped }));
  return TAP_EXIT.ok;
}

/** The one stderr line saying which mode the tap runs in, with per-node firehose coverage on clusters. */
export function statusLine(tap: Pick<Tap, 'status' | 'firehoseCoverage'>, where: string): string {
  const st = tap.status();
  const c = tap.firehoseCoverage;
  const cluster = c && c.total > 1 ? `; ${c.summary}` : '';
  const autoOff = c?.autoOffAt ? `; osloscope turns it off at ${new Date(c.autoOffAt).toISOString()} or on exit` : c?.nodes.some((n) => n.enabledByOsloscope) ? '; osloscope turns it off on exit' : '';
  const refused = st.hint?.startsWith('Could not turn the firehose on') ? `; ${st.hint.split('. ')[0]}` : '';
  if (st.mode === 'firehose') {
    const off = st.firehose.on === false ? (c && c.on > 0 ? '; tracing is NOT on every node' : `; tracing is OFF, run rabbitmqctl trace_on -p ${st.vhost}`) : '';
    return `firehose mode on vhost ${st.vhost} (${where}): replies and deliveries visible${cluster}${off}${autoOff}${refused}`;
  }
  const how =
    c && c.total > 1
      ? `tracing is per node, turn it on for all ${c.total} with osloscope tap --enable-firehose, or rabbitmqctl -n <node> trace_on -p ${st.vhost} on each`
      : `turn the firehose on with: rabbitmqctl trace_on -p ${st.vhost}`;
  return `bindings mode on vhost ${st.vhost} (${where}), tapping ${[...st.tappedExchanges, ...st.fanoutExchanges].join(', ') || 'no exchange yet'}${cluster}; replies are invisible — ${how}${refused}`;
}
