/**
 * osloscope's configuration: the environment, parsed once with zod at
 * start-up. A bad value stops start-up with one line per bad variable naming
 * it and the problem. Nothing else in the server reads `process.env`; the
 * messaging core gets plain options from here.
 *
 * Keep `.env.example` in step with `CONFIG_VARIABLES` below.
 */
import { statSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import {
  ConfigError,
  loadOsloConfig,
  originOf,
  redactUrlPasswords,
  transportUrlFrom,
  TransportURL,
  type ConfigProblem,
  type ConfigSource,
  type NotificationOptions,
  type OsloFileConfig,
  type RabbitOptions,
  topology,
} from './messaging/index.ts';
import { isAddressOrCidr } from './auth/client-address.ts';
import { parseUsers, type AuthUser } from './auth/users.ts';
import { historyOptions, type HistoryOptions } from './store/options.ts';
import { tapModeSettingSchema, type TapModeSetting } from '../lib/tap-contracts.ts';
import { ALL_TRANSPORTS, DEFAULT_TRANSPORT_NAME, MAX_TRANSPORTS, TRANSPORT_NAME_RE } from '../lib/api-contracts.ts';

/** Exchanges tapped by default: oslo's `openstack` plus the usual service exchanges (server/messaging/topology.ts). */
export const DEFAULT_CONTROL_EXCHANGES: readonly string[] = topology.DEFAULT_CONTROL_EXCHANGES;

/** TAP_MODE's values: the tap's mode setting as lib/tap-contracts.ts defines it (`auto` or a mode). */
export const TAP_MODES = tapModeSettingSchema.options;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Name, default and meaning of every variable (README table, `.env.example`, `--help`). */
export const CONFIG_VARIABLES: readonly { name: string; default: string; meaning: string }[] = [
  { name: 'TRANSPORT_URL', default: '(unset: embedded memory transport + demo fleet)', meaning: "oslo transport_url of the broker to tap and drive, e.g. rabbit://user:pass@host:5672/vhost (several hosts, ?ssl=1 as in oslo). memory:// for the in-process broker. Wins over OSLO_CONFIG_FILES." },
  { name: 'TRANSPORT_URLS', default: '(unset)', meaning: 'A fleet of named transports tapped side by side: name=url,name2=url2 (names a-z 0-9 _ -, 1-32 characters, at most 32 transports; URLs as TRANSPORT_URL, several hosts allowed). Every page, API read and socket feed takes ?transport=<name> (or all); Console actions name theirs. Instead of TRANSPORT_URL, which is one transport named default.' },
  { name: 'OSLO_CONFIG_FILES', default: '(unset)', meaning: "Comma-separated oslo.config files (or directories of *.conf) a service uses, e.g. /etc/nova/nova.conf, read in oslo.config's order (later files win): [DEFAULT] transport_url, control_exchange, rpc_response_timeout, [oslo_messaging_rabbit] and [oslo_messaging_notifications]. The variables here win over the files." },
  { name: 'DEMO_FLEET', default: 'auto', meaning: 'auto | on | off. Run the simulated OpenStack services (conductor, computes, scheduler, a slow endpoint, a dead server). auto = only on the embedded memory transport.' },
  { name: 'CONTROL_EXCHANGE', default: 'openstack', meaning: 'oslo control_exchange: the exchange used for fired RPCs whose target names none.' },
  { name: 'CONTROL_EXCHANGES', default: DEFAULT_CONTROL_EXCHANGES.join(','), meaning: 'Comma-separated exchanges the tap binds to (CONTROL_EXCHANGE is always added).' },
  { name: 'TAP_MODE', default: 'auto', meaning: 'auto | bindings | firehose | off. bindings needs only normal AMQP rights but cannot see replies; firehose (rabbitmqctl trace_on) sees everything; auto uses the firehose when it is on.' },
  { name: 'RABBITMQ_MANAGEMENT_URL', default: '(unset)', meaning: 'RabbitMQ management API, e.g. http://user:pass@host:15672, for the Broker page (queue depths, consumers, connections) and exchange discovery.' },
  { name: 'RABBITMQ_MANAGEMENT_URLS', default: '(unset: http://<first AMQP host>:15672 per transport)', meaning: 'With TRANSPORT_URLS: the management API of each named transport, name=url,name2=url2 (names from TRANSPORT_URLS; the others guess theirs from their first host).' },
  { name: 'FIREHOSE_ENABLE', default: '0', meaning: '1 = at start, turn tracing on for the vhost on every RabbitMQ node (management API, administrator tag; tracing is per node). osloscope turns off what it turned on when it stops and after FIREHOSE_AUTO_OFF.' },
  { name: 'FIREHOSE_AUTO_OFF', default: '0', meaning: 'Seconds after which osloscope turns off the tracing it turned on (FIREHOSE_ENABLE or the dashboard); 0 = only when osloscope stops.' },
  { name: 'HOST', default: '127.0.0.1', meaning: 'Address to listen on. Any non-loopback address requires AUTH_USERS and SESSION_SECRET.' },
  { name: 'PORT', default: '3000', meaning: 'TCP port of the dashboard, API and socket.io (0 picks a free port).' },
  { name: 'RPC_RESPONSE_TIMEOUT', default: '60', meaning: 'oslo rpc_response_timeout: seconds a fired call waits for its reply when the form gives no timeout.' },
  { name: 'RPC_CONN_POOL_SIZE', default: '30', meaning: 'oslo rpc_conn_pool_size: most send connections osloscope opens; also the yardstick for connections per process on the Broker page.' },
  { name: 'CONN_POOL_MIN_SIZE', default: '2', meaning: 'oslo conn_pool_min_size: idle send connections kept.' },
  { name: 'CONN_POOL_TTL', default: '1200', meaning: 'oslo conn_pool_ttl: seconds an idle send connection lives.' },
  { name: 'AUTH_USERS', default: '(unset: no login, loopback only)', meaning: 'Comma-separated name:role:hash entries (role viewer or operator; hash from `npm run hash-password`). Setting it turns on login.' },
  { name: 'SESSION_SECRET', default: '(unset)', meaning: 'At least 32 characters; seals the session cookie. Required with AUTH_USERS.' },
  { name: 'SESSION_TTL', default: '28800', meaning: 'Seconds a login lasts.' },
  { name: 'COOKIE_SECURE', default: '0', meaning: '1 = mark the session cookie Secure (set it when served over HTTPS).' },
  { name: 'ALLOWED_ORIGINS', default: '(unset)', meaning: 'Comma-separated extra origins (scheme://host[:port]) accepted for state-changing requests and sockets, e.g. the URL of a reverse proxy.' },
  { name: 'TRUSTED_PROXIES', default: '(unset)', meaning: 'Comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For names the client (login throttling, audit log). Unset: the header is ignored.' },
  { name: 'HISTORY', default: 'on', meaning: 'on | off. Keep every decoded message and call record in the history store (search, call pages and `osloscope why` after the fact).' },
  { name: 'HISTORY_DATABASE', default: 'data/osloscope-history.sqlite', meaning: 'The SQLite file of the history store (created with its folder), used when DATABASE_URL is unset.' },
  { name: 'DATABASE_URL', default: '(unset: SQLite)', meaning: 'postgres://user:pass@host:5432/db: keep the history in PostgreSQL (day partitions), where several osloscope instances may write and any dashboard reads the whole fleet.' },
  { name: 'HISTORY_RETENTION', default: '7d', meaning: 'How long the store keeps messages and calls (s, m, h, d or w).' },
  { name: 'HISTORY_MAX_BYTES', default: '2GB', meaning: 'Most bytes the store keeps; beyond, the oldest go first.' },
  { name: 'HISTORY_QUEUE', default: '50000', meaning: 'Messages and call changes waiting for the store at most; beyond, dropped and counted (/api/history, osloscope_history_dropped_total).' },
  { name: 'HISTORY_QUEUE_BYTES', default: '32MiB', meaning: 'Estimated bytes of the messages and call changes waiting for the store at most (besides HISTORY_QUEUE); beyond, dropped and counted.' },
  { name: 'BASE_PATH', default: '(unset: served at /)', meaning: 'Serve everything under this sub-path behind a reverse proxy, e.g. /osloscope: pages, API, socket.io, the session cookie and login redirects. The pages are built per base path (.next-osloscope for /osloscope); see deploy/nginx/osloscope.conf.' },
  { name: 'READ_ONLY', default: '0', meaning: '1 = nobody can fire or replay messages; watching only.' },
  { name: 'METRICS_TOKEN', default: '(unset)', meaning: 'With access control on: a bearer token (16+ characters) that may scrape /metrics without logging in.' },
  { name: 'AUDIT_LOG', default: '.data/audit.log', meaning: 'Append-only JSON-lines file recording every fired or replayed message (who, when, target, method, outcome).' },
  { name: 'LOG_LEVEL', default: 'info', meaning: 'pino level: fatal, error, warn, info, debug, trace, silent.' },
  { name: 'MAX_MESSAGE_BYTES', default: '16777216', meaning: "Most bytes a compressed (kombu gzip/bz2) body may inflate to, for fired calls' replies, served calls and the tap; larger ones are rejected and counted. The default is RabbitMQ 4's max_message_size (16 MiB)." },
  { name: 'TAP_MESSAGE_BYTES', default: '262144', meaning: 'Bytes of one tapped message kept for the Live page, API and export; larger messages keep their shape with long values cut ("… [truncated, N bytes]").' },
  { name: 'TAP_RECENT_BYTES', default: '67108864', meaning: 'Bytes the recent tapped messages may hold together (besides the 5000-message count); the oldest go first.' },
  { name: 'REALTIME_BATCH_MS', default: '250', meaning: 'How often the socket gateway pushes batched traffic to browsers (50-5000 ms).' },
  { name: 'NODE_ENV', default: 'production', meaning: 'development runs Next in dev mode (npm run dev).' },
];

const flag = (name: string) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .refine((v) => ['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off', ''].includes(v), {
      message: `${name} must be 1 or 0 (also true/false, yes/no, on/off)`,
    })
    .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^[+-]?\d+$/, { message: `expected a whole number between ${min} and ${max}` })
    .transform((v) => Number.parseInt(v, 10))
    .refine((v) => v >= min && v <= max, { message: `expected a whole number between ${min} and ${max}` });

const csv = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

const exchangeName = /^[A-Za-z0-9_.:-]{1,255}$/;

function parseOrigin(text: string): string | null {
  try {
    const u = new URL(text);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    return u.origin;
  } catch {
    return null;
  }
}

const envSchema = z.object({
  TRANSPORT_URL: z.string().trim().optional(),
  TRANSPORT_URLS: z.string().trim().max(64 * 1024, { message: 'is longer than 65536 characters' }).optional(),
  RABBITMQ_MANAGEMENT_URLS: z.string().trim().max(64 * 1024, { message: 'is longer than 65536 characters' }).optional(),
  OSLO_CONFIG_FILES: z.string().trim().optional(),
  DEMO_FLEET: z.enum(['auto', 'on', 'off'], { message: 'expected auto, on or off' }).default('auto'),
  CONTROL_EXCHANGE: z.string().trim().regex(exchangeName, { message: 'expected an exchange name (letters, digits, _ . : -)' }).optional(),
  CONTROL_EXCHANGES: csv
    .refine((l) => l.every((x) => exchangeName.test(x)), { message: 'expected comma-separated exchange names (letters, digits, _ . : -)' })
    .optional(),
  TAP_MODE: z.enum(TAP_MODES, { message: `expected one of ${TAP_MODES.join(', ')}` }).default('auto'),
  RABBITMQ_MANAGEMENT_URL: z
    .string()
    .trim()
    .refine((v) => v === '' || /^https?:$/.test(safeUrl(v)?.protocol ?? ''), { message: 'expected an http:// or https:// URL' })
    .optional(),
  FIREHOSE_ENABLE: flag('FIREHOSE_ENABLE').default(false),
  FIREHOSE_AUTO_OFF: int(0, 86_400 * 7).default(0),
  HOST: z
    .string()
    .trim()
    .refine((v) => v === 'localhost' || isIP(v) !== 0, { message: 'expected an IP address (e.g. 127.0.0.1, 0.0.0.0, ::) or localhost' })
    .default('127.0.0.1'),
  PORT: int(0, 65535).default(3000),
  RPC_RESPONSE_TIMEOUT: int(1, 86_400).optional(),
  RPC_CONN_POOL_SIZE: int(1, 10_000).optional(),
  CONN_POOL_MIN_SIZE: int(0, 10_000).optional(),
  CONN_POOL_TTL: int(1, 86_400 * 7).optional(),
  AUTH_USERS: z.string().trim().optional(),
  SESSION_SECRET: z.string().optional(),
  SESSION_TTL: int(60, 86_400 * 30).default(28_800),
  COOKIE_SECURE: flag('COOKIE_SECURE').default(false),
  ALLOWED_ORIGINS: csv
    .refine((l) => l.every((o) => parseOrigin(o) !== null), { message: 'expected comma-separated origins such as https://osloscope.example.com' })
    .optional(),
  TRUSTED_PROXIES: csv
    .refine((l) => l.every(isAddressOrCidr), { message: 'expected comma-separated IP addresses or CIDR ranges such as 10.0.0.5,192.168.0.0/16' })
    .optional(),
  BASE_PATH: z
    .string()
    .trim()
    .refine((v) => v === '' || /^(\/[A-Za-z0-9._~-]+)+$/.test(v), { message: 'expected a path such as /osloscope (a leading /, no trailing /, letters, digits, . _ ~ -)' })
    .default(''),
  READ_ONLY: flag('READ_ONLY').default(false),
  METRICS_TOKEN: z.string().trim().min(16, { message: 'must be at least 16 characters' }).optional(),
  AUDIT_LOG: z.string().trim().min(1, { message: 'expected a file path' }).default('.data/audit.log'),
  LOG_LEVEL: z.enum(LOG_LEVELS, { message: `expected one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  MAX_MESSAGE_BYTES: int(1024, 1024 * 1024 * 1024).default(16 * 1024 * 1024),
  TAP_MESSAGE_BYTES: int(4096, 64 * 1024 * 1024).default(256 * 1024),
  TAP_RECENT_BYTES: int(1024 * 1024, 16 * 1024 * 1024 * 1024).default(64 * 1024 * 1024),
  REALTIME_BATCH_MS: int(50, 5000).default(250),
  NODE_ENV: z.string().trim().optional(),
});

function safeUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

export interface AuthConfig {
  /** true when AUTH_USERS is set: every request needs a session */
  enabled: boolean;
  users: AuthUser[];
  sessionSecret: string;
  sessionTtlSeconds: number;
  cookieSecure: boolean;
  /** TRUSTED_PROXIES: addresses/CIDRs whose X-Forwarded-For names the client */
  trustedProxies?: string[];
  /** the session cookie's Path: BASE_PATH, or / */
  cookiePath?: string;
}

/** A management API: base URL without credentials, and the credentials kept apart (never logged). */
export interface ManagementConfig {
  url: string;
  username: string;
  password: string;
  href: string;
}

/** One named transport of the fleet (TRANSPORT_URLS), or the only one (TRANSPORT_URL: `default`). */
export interface TransportConfig {
  name: string;
  transportUrl: TransportURL;
  /** its management API (RABBITMQ_MANAGEMENT_URL(S)); null: guessed from the first AMQP host by the tap */
  management: ManagementConfig | null;
}

export interface Config {
  /** every named transport, in configuration order; the first is the default (Console actions, TRANSPORT_URL) */
  transports: TransportConfig[];
  /** the history store (HISTORY, HISTORY_DATABASE, DATABASE_URL, HISTORY_RETENTION, HISTORY_MAX_BYTES, HISTORY_QUEUE); absent: off */
  history?: HistoryOptions;
  /** carries the files' [oslo_messaging_rabbit] options (its query winning over them) */
  transportUrl: TransportURL;
  /** true when neither TRANSPORT_URL nor a file gave a URL: the embedded memory transport */
  embedded: boolean;
  /** OSLO_CONFIG_FILES as read: files in merge order, what they set, notes for the log */
  osloConfig: {
    files: string[];
    rabbit: Partial<RabbitOptions>;
    notifications: Partial<NotificationOptions>;
    notes: string[];
  };
  demoFleet: boolean;
  controlExchange: string;
  controlExchanges: string[];
  tapMode: TapModeSetting;
  /** turn tracing on for every node at start (FIREHOSE_ENABLE) */
  firehoseEnable: boolean;
  /** seconds after which osloscope's own tracing is turned off; 0 = at stop only (FIREHOSE_AUTO_OFF) */
  firehoseAutoOff: number;
  /** management API base, e.g. http://host:15672 (credentials kept apart, never logged) */
  management: ManagementConfig | null;
  host: string;
  port: number;
  /** BASE_PATH: the sub-path everything is served under ('' = the root) */
  basePath: string;
  rpcResponseTimeout: number;
  rpcConnPoolSize: number;
  connPoolMinSize: number;
  connPoolTtl: number;
  auth: AuthConfig;
  allowedOrigins: string[];
  readOnly: boolean;
  /** bearer token that may scrape /metrics without a session */
  metricsToken: string | null;
  auditLog: string;
  logLevel: (typeof LOG_LEVELS)[number];
  realtimeBatchMs: number;
  /** most bytes a compressed body may inflate to (the core's maxMessageBytes) */
  maxMessageBytes: number;
  /** stored bytes of one tapped message (TrafficModel messageBytes) */
  tapMessageBytes: number;
  /** bytes the tap's recent messages may hold together (TrafficModel recentBytes) */
  tapRecentBytes: number;
  dev: boolean;
}

/** Every problem with the environment, one per variable, as the one configuration error. */
function environmentError(problems: ConfigProblem[]): ConfigError {
  return new ConfigError(`Invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.problem}`).join('\n')}`, 'environment', { problems });
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return /^::ffff:127\./i.test(host);
}

/** Parse the environment (or any record of strings); throws ConfigError naming every bad variable in `problems`. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty variable means "unset", as most shells and .env files intend.
  const input: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v.trim() !== '') input[key] = v;
  }
  const parsed = envSchema.safeParse(input);
  const problems: { variable: string; problem: string }[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const variable = String(issue.path[0] ?? '(environment)');
      const given = input[variable];
      const shown = variable === 'SESSION_SECRET' || variable === 'AUTH_USERS' || variable === 'METRICS_TOKEN' || given === undefined ? '' : ` (got ${JSON.stringify(redactUrlPasswords(given))})`;
      problems.push({ variable, problem: `${issue.message}${shown}` });
    }
    throw environmentError(problems);
  }
  const e = parsed.data;
  let history: HistoryOptions;
  try {
    history = historyOptions(env);
  } catch (err) {
    const msg = (err as Error).message;
    throw environmentError([{ variable: /^[A-Z_]+/.exec(msg)?.[0] ?? 'HISTORY', problem: msg }]);
  }

  // OSLO_CONFIG_FILES: a service's oslo.config files; the variables above win over them.
  let files: OsloFileConfig | null = null;
  if (e.OSLO_CONFIG_FILES) {
    try {
      files = loadOsloConfig(osloConfigSources(e.OSLO_CONFIG_FILES));
    } catch (err) {
      problems.push({ variable: 'OSLO_CONFIG_FILES', problem: err instanceof ConfigError ? err.message : String(err) });
    }
  }
  // A file value the server cannot run with is a start-up problem, like a bad variable.
  const fromFiles = (group: 'DEFAULT' | 'oslo_messaging_rabbit', name: string, min: number, max: number, fallback: number): number => {
    const bag = (group === 'DEFAULT' ? files?.defaults : files?.rabbit) as Record<string, unknown> | undefined;
    const value = bag?.[name];
    if (value === undefined || files === null) return fallback;
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
    problems.push({ variable: 'OSLO_CONFIG_FILES', problem: `[${group}] ${name} = ${String(value)} in ${originOf(files, group, name)}: osloscope needs a whole number between ${min} and ${max}` });
    return fallback;
  };

  let transportUrl: TransportURL;
  const fileUrl = files?.defaults.transport_url;
  const embedded = e.TRANSPORT_URL === undefined && e.TRANSPORT_URLS === undefined && !fileUrl;
  try {
    transportUrl = transportUrlFrom(
      [
        { value: e.TRANSPORT_URL, source: 'TRANSPORT_URL' },
        { value: fileUrl, source: files ? originOf(files, 'DEFAULT', 'transport_url') : '' },
        { value: 'memory://', source: 'the default' },
      ],
      files?.rabbit ?? {},
    ).url;
  } catch (err) {
    const detail = err instanceof ConfigError ? err.message : 'not a transport URL';
    problems.push({ variable: e.TRANSPORT_URL !== undefined ? 'TRANSPORT_URL' : 'OSLO_CONFIG_FILES', problem: `${detail} (expected e.g. rabbit://user:pass@host:5672/vhost)` });
    transportUrl = TransportURL.parse('memory://');
  }
  const controlExchange = e.CONTROL_EXCHANGE ?? files?.defaults.control_exchange ?? 'openstack';
  if (e.CONTROL_EXCHANGE === undefined && files?.defaults.control_exchange !== undefined && !exchangeName.test(controlExchange)) {
    problems.push({ variable: 'OSLO_CONFIG_FILES', problem: `control_exchange in ${originOf(files, 'DEFAULT', 'control_exchange')} is not an exchange name osloscope accepts (letters, digits, _ . : -)` });
  }
  const rpcResponseTimeout = e.RPC_RESPONSE_TIMEOUT ?? fromFiles('DEFAULT', 'rpc_response_timeout', 1, 86_400, 60);
  const rpcConnPoolSize = e.RPC_CONN_POOL_SIZE ?? fromFiles('oslo_messaging_rabbit', 'rpc_conn_pool_size', 1, 10_000, 30);
  const connPoolMinSize = e.CONN_POOL_MIN_SIZE ?? fromFiles('oslo_messaging_rabbit', 'conn_pool_min_size', 0, 10_000, 2);
  const connPoolTtl = e.CONN_POOL_TTL ?? fromFiles('oslo_messaging_rabbit', 'conn_pool_ttl', 1, 86_400 * 7, 1200);

  let users: AuthUser[] = [];
  if (e.AUTH_USERS !== undefined) {
    try {
      users = parseUsers(e.AUTH_USERS);
    } catch (err) {
      problems.push({ variable: 'AUTH_USERS', problem: (err as Error).message });
    }
  }
  const authEnabled = e.AUTH_USERS !== undefined;
  if (authEnabled && (e.SESSION_SECRET === undefined || e.SESSION_SECRET.length < 32)) {
    problems.push({ variable: 'SESSION_SECRET', problem: 'must be at least 32 characters when AUTH_USERS is set (e.g. `openssl rand -base64 32`)' });
  }
  if (!authEnabled && !isLoopback(e.HOST)) {
    problems.push({
      variable: 'HOST',
      problem: `refusing to listen on ${e.HOST} without access control: set AUTH_USERS and SESSION_SECRET, or listen on 127.0.0.1`,
    });
  }

  let management: Config['management'] = null;
  if (e.RABBITMQ_MANAGEMENT_URL) management = managementFrom(e.RABBITMQ_MANAGEMENT_URL);

  // TRANSPORT_URLS: a fleet of named transports, instead of TRANSPORT_URL's one ("default")
  let transports: TransportConfig[] = [{ name: DEFAULT_TRANSPORT_NAME, transportUrl, management }];
  if (e.TRANSPORT_URLS !== undefined) {
    if (e.TRANSPORT_URL !== undefined) problems.push({ variable: 'TRANSPORT_URLS', problem: 'set TRANSPORT_URL (one transport) or TRANSPORT_URLS (named transports), not both' });
    if (e.RABBITMQ_MANAGEMENT_URL !== undefined) problems.push({ variable: 'RABBITMQ_MANAGEMENT_URL', problem: 'with TRANSPORT_URLS, name each management API in RABBITMQ_MANAGEMENT_URLS=name=url,...' });
    const parsedFleet = parseTransportUrls(e.TRANSPORT_URLS, files?.rabbit ?? {}, e.RABBITMQ_MANAGEMENT_URLS);
    problems.push(...parsedFleet.problems);
    if (parsedFleet.transports.length > 0) {
      transports = parsedFleet.transports;
      transportUrl = transports[0].transportUrl;
      management = transports[0].management;
    }
  } else if (e.RABBITMQ_MANAGEMENT_URLS !== undefined) {
    problems.push({ variable: 'RABBITMQ_MANAGEMENT_URLS', problem: 'names the management APIs of TRANSPORT_URLS, which is unset (use RABBITMQ_MANAGEMENT_URL with TRANSPORT_URL)' });
  }

  const demoFleet = e.DEMO_FLEET === 'on' || (e.DEMO_FLEET === 'auto' && embedded);
  const controlExchanges = [...new Set([controlExchange, ...(e.CONTROL_EXCHANGES ?? DEFAULT_CONTROL_EXCHANGES)])];

  if (problems.length > 0) throw environmentError(problems);

  return {
    transports,
    transportUrl,
    embedded,
    osloConfig: {
      files: [...(files?.files ?? [])],
      rabbit: files?.rabbit ?? {},
      notifications: files?.notifications ?? {},
      notes: [...(files?.notes ?? []), ...transportUrl.warnings],
    },
    demoFleet,
    controlExchange,
    controlExchanges,
    tapMode: e.TAP_MODE,
    firehoseEnable: e.FIREHOSE_ENABLE,
    firehoseAutoOff: e.FIREHOSE_AUTO_OFF,
    management,
    host: e.HOST,
    port: e.PORT,
    basePath: e.BASE_PATH,
    rpcResponseTimeout,
    rpcConnPoolSize,
    connPoolMinSize,
    connPoolTtl,
    auth: {
      enabled: authEnabled,
      users,
      sessionSecret: e.SESSION_SECRET ?? '',
      sessionTtlSeconds: e.SESSION_TTL,
      cookieSecure: e.COOKIE_SECURE,
      trustedProxies: e.TRUSTED_PROXIES ?? [],
      cookiePath: e.BASE_PATH || '/',
    },
    allowedOrigins: (e.ALLOWED_ORIGINS ?? []).map((o) => parseOrigin(o) as string),
    readOnly: e.READ_ONLY,
    metricsToken: e.METRICS_TOKEN ?? null,
    auditLog: e.AUDIT_LOG,
    logLevel: e.LOG_LEVEL,
    realtimeBatchMs: e.REALTIME_BATCH_MS,
    maxMessageBytes: e.MAX_MESSAGE_BYTES,
    tapMessageBytes: e.TAP_MESSAGE_BYTES,
    tapRecentBytes: e.TAP_RECENT_BYTES,
    history,
    dev: e.NODE_ENV === 'development',
  };
}

function managementFrom(href: string): ManagementConfig {
  const u = new URL(href);
  return {
    url: `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`,
    username: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    href,
  };
}

/**
 * `name=value,name2=value2` entries. A value may itself hold commas (oslo's several hosts,
 * `rabbit://u:p@h1:5672,u:p@h2:5672/`): an entry starts only where a comma is followed by `name=`.
 * Returns [name, value] pairs, or the entry that is not `name=value`.
 */
export function splitNamedList(text: string): { entries: [string, string][]; bad: string[] } {
  const entries: [string, string][] = [];
  const bad: string[] = [];
  for (const raw of text.split(/[,\n](?=\s*[A-Za-z0-9_-]{1,64}=)/)) {
    const part = raw.trim().replace(/,+$/, '').trim();
    if (part === '') continue;
    const m = /^([^=\s]+)=(.*)$/s.exec(part);
    if (!m || m[2].trim() === '') bad.push(part);
    else entries.push([m[1], m[2].trim()]);
  }
  return { entries, bad };
}

/** TRANSPORT_URLS (with RABBITMQ_MANAGEMENT_URLS): named transports, or the problems naming the variable. */
export function parseTransportUrls(
  text: string,
  rabbit: Partial<RabbitOptions>,
  managementText?: string,
): { transports: TransportConfig[]; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const transports: TransportConfig[] = [];
  const { entries, bad } = splitNamedList(text);
  for (const b of bad) problems.push({ variable: 'TRANSPORT_URLS', problem: `expected name=url, got ${JSON.stringify(redactUrlPasswords(b))} (e.g. cell1=rabbit://user:pass@host:5672/cell1,neutron=rabbit://…)` });
  if (entries.length === 0 && bad.length === 0) problems.push({ variable: 'TRANSPORT_URLS', problem: 'names no transport (expected name=url,name2=url2)' });
  if (entries.length > MAX_TRANSPORTS) problems.push({ variable: 'TRANSPORT_URLS', problem: `names ${entries.length} transports; at most ${MAX_TRANSPORTS}` });
  const seen = new Set<string>();
  for (const [name, value] of entries.slice(0, MAX_TRANSPORTS)) {
    if (!TRANSPORT_NAME_RE.test(name) || name === ALL_TRANSPORTS) {
      problems.push({ variable: 'TRANSPORT_URLS', problem: `${JSON.stringify(name.slice(0, 40))} is not a transport name (1-32 characters a-z 0-9 _ -, not "${ALL_TRANSPORTS}")` });
      continue;
    }
    if (seen.has(name)) {
      problems.push({ variable: 'TRANSPORT_URLS', problem: `names the transport ${name} twice` });
      continue;
    }
    seen.add(name);
    try {
      const url = transportUrlFrom([{ value, source: `TRANSPORT_URLS (${name})` }], rabbit).url;
      transports.push({ name, transportUrl: url, management: null });
    } catch (err) {
      const detail = err instanceof ConfigError ? err.message : 'not a transport URL';
      problems.push({ variable: 'TRANSPORT_URLS', problem: `${name}: ${redactUrlPasswords(detail)} (got ${JSON.stringify(redactUrlPasswords(value))}; expected e.g. rabbit://user:pass@host:5672/vhost)` });
    }
  }
  if (managementText !== undefined) {
    const m = splitNamedList(managementText);
    for (const b of m.bad) problems.push({ variable: 'RABBITMQ_MANAGEMENT_URLS', problem: `expected name=url, got ${JSON.stringify(redactUrlPasswords(b))}` });
    const named = new Set<string>();
    for (const [name, href] of m.entries) {
      const t = transports.find((x) => x.name === name);
      if (!seen.has(name)) {
        problems.push({ variable: 'RABBITMQ_MANAGEMENT_URLS', problem: `names ${JSON.stringify(name.slice(0, 40))}, which TRANSPORT_URLS does not (known: ${[...seen].join(', ') || 'none'})` });
        continue;
      }
      if (named.has(name)) {
        problems.push({ variable: 'RABBITMQ_MANAGEMENT_URLS', problem: `names the transport ${name} twice` });
        continue;
      }
      named.add(name);
      if (!/^https?:$/.test(safeUrl(href)?.protocol ?? '')) {
        problems.push({ variable: 'RABBITMQ_MANAGEMENT_URLS', problem: `${name}: expected an http:// or https:// URL (got ${JSON.stringify(redactUrlPasswords(href))})` });
        continue;
      }
      if (t) t.management = managementFrom(href);
    }
  }
  return { transports, problems };
}

/**
 * OSLO_CONFIG_FILES entries, in order: a directory stands for its `*.conf`
 * files (oslo.config's --config-dir), anything else for a file.
 */
export function osloConfigSources(text: string): ConfigSource[] {
  return text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((path) => {
      let dir = false;
      try {
        dir = statSync(path).isDirectory();
      } catch {
        // missing: the loader names it
      }
      return { kind: dir ? 'dir' : 'file', path } as ConfigSource;
    });
}


/** What may be logged or shown about the configuration: no password, no secret. */
export function describeConfig(c: Config): Record<string, unknown> {
  return {
    transportUrl: c.transportUrl.toString(),
    transports: c.transports.map((t) => ({ name: t.name, url: t.transportUrl.toString(), managementUrl: t.management?.url ?? null })),
    embedded: c.embedded,
    osloConfigFiles: c.osloConfig.files,
    osloConfigNotes: c.osloConfig.notes,
    demoFleet: c.demoFleet,
    controlExchange: c.controlExchange,
    controlExchanges: c.controlExchanges,
    tapMode: c.tapMode,
    managementUrl: c.management?.url ?? null,
    host: c.host,
    port: c.port,
    rpcResponseTimeout: c.rpcResponseTimeout,
    rpcConnPoolSize: c.rpcConnPoolSize,
    auth: c.auth.enabled ? { users: c.auth.users.map((u) => `${u.name}:${u.role}`) } : 'off (loopback only)',
    readOnly: c.readOnly,
    auditLog: c.auditLog,
    realtimeBatchMs: c.realtimeBatchMs,
    maxMessageBytes: c.maxMessageBytes,
    tapMessageBytes: c.tapMessageBytes,
    tapRecentBytes: c.tapRecentBytes,
    dev: c.dev,
  };
}
