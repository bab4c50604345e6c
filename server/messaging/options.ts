/**
 * The oslo.config options the messaging core reads, with oslo.messaging
 * 14.0.3's names, types, defaults and bounds, so an operator can carry the
 * values of a service's `[oslo_messaging_rabbit]` and `[DEFAULT]` sections over
 * unchanged.
 *
 * Sources (14.0.3):
 * - `_drivers/impl_rabbit.py:rabbit_opts`
 * - `_drivers/amqp.py:amqp_opts` and `_drivers/base.py:base_opts` — registered
 *   into the same group by `impl_rabbit:RabbitDriver.__init__`, which is why the
 *   pool sizes and `amqp_durable_queues` live in `[oslo_messaging_rabbit]`
 * - `transport.py:_transport_opts` (`control_exchange`), `rpc/client.py`
 *   (`rpc_response_timeout`), `server.py` (`executor_thread_pool_size`),
 *   `rpc/dispatcher.py` (`rpc_ping_enabled`) — all in `[DEFAULT]`.
 *
 * Values given as text (a transport URL query, an environment variable) are
 * converted exactly like oslo.config's `types.Boolean/Integer/Float/String`
 * (`oslo_config/types.py`), which is what `_drivers/common.py:ConfigOptsProxy`
 * applies to the query of a transport URL.
 */

import { ConfigError } from './errors.ts';

// ---------------------------------------------------------------------------
// Option definitions

/** An option name an older release used (oslo `deprecated_name`/`deprecated_group`); `group: null` means the option's own group. */
export interface DeprecatedName {
  readonly group: string | null;
  readonly name: string | null;
}

interface OptCommon {
  readonly help: string;
  /** Older names oslo.config still reads from configuration files (never from a transport URL query). */
  readonly deprecatedNames?: readonly DeprecatedName[];
  /** oslo `deprecated_for_removal` */
  readonly deprecatedForRemoval?: boolean;
}

/** oslo.config `BoolOpt` */
export interface BoolOptDef extends OptCommon {
  readonly type: 'boolean';
  readonly default: boolean;
}

/** oslo.config `IntOpt` (`types.Integer(min, max)`) */
export interface IntOptDef extends OptCommon {
  readonly type: 'integer';
  readonly default: number;
  readonly min?: number;
  readonly max?: number;
}

/** oslo.config `FloatOpt` (`types.Float(min, max)`) */
export interface FloatOptDef extends OptCommon {
  readonly type: 'float';
  readonly default: number;
  readonly min?: number;
  readonly max?: number;
}

/** oslo.config `StrOpt` (`types.String(choices)`); `default: null` is oslo's `default=None`. */
export interface StrOptDef<T extends string | null = string | null> extends OptCommon {
  readonly type: 'string';
  readonly default: T;
  readonly choices?: readonly NonNullable<T>[];
}

export type OptDef = BoolOptDef | IntOptDef | FloatOptDef | StrOptDef;

/** The definition an option of value type V must have. */
export type OptDefFor<V> = [V] extends [boolean]
  ? BoolOptDef
  : [V] extends [number]
    ? IntOptDef | FloatOptDef
    : [V] extends [string | null]
      ? StrOptDef<V>
      : never;

/** A complete registry for an options object: one definition per key, checked by the compiler. */
export type OptRegistry<T> = { readonly [K in keyof T]: OptDefFor<T[K]> };

/** A named oslo.config group and its registry. */
export interface OptGroup<T> {
  readonly name: string;
  readonly opts: OptRegistry<T>;
}

// ---------------------------------------------------------------------------
// [oslo_messaging_rabbit]

export type KombuFailoverStrategy = 'round-robin' | 'shuffle';
export type RabbitLoginMethod = 'PLAIN' | 'AMQPLAIN' | 'EXTERNAL' | 'RABBIT-CR-DEMO';

/**
 * Every option of the `[oslo_messaging_rabbit]` group in oslo.messaging 14.0.3
 * (rabbit_opts + amqp_opts + base_opts), keyed by oslo's names. Seconds are
 * seconds, as in oslo.
 */
export interface RabbitOptions {
  // impl_rabbit.rabbit_opts
  ssl: boolean;
  ssl_version: string;
  ssl_key_file: string;
  ssl_cert_file: string;
  ssl_ca_file: string;
  ssl_enforce_hostname_verification: boolean;
  ssl_enforce_fips_mode: boolean;
  heartbeat_in_pthread: boolean;
  kombu_reconnect_delay: number;
  kombu_compression: string | null;
  kombu_missing_consumer_retry_timeout: number;
  kombu_failover_strategy: KombuFailoverStrategy;
  rabbit_login_method: RabbitLoginMethod;
  rabbit_retry_interval: number;
  rabbit_retry_backoff: number;
  rabbit_interval_max: number;
  rabbit_ha_queues: boolean;
  rabbit_quorum_queue: boolean;
  rabbit_quorum_delivery_limit: number;
  /** 14.0.3 spelling (renamed rabbit_quorum_max_memory_length in 14.3.0) */
  rabbit_quroum_max_memory_length: number;
  /** 14.0.3 spelling (renamed rabbit_quorum_max_memory_bytes in 14.3.0) */
  rabbit_quroum_max_memory_bytes: number;
  rabbit_transient_queues_ttl: number;
  rabbit_qos_prefetch_count: number;
  heartbeat_timeout_threshold: number;
  heartbeat_rate: number;
  direct_mandatory_flag: boolean;
  enable_cancel_on_failover: boolean;
  // amqp.amqp_opts
  amqp_durable_queues: boolean;
  amqp_auto_delete: boolean;
  // base.base_opts
  rpc_conn_pool_size: number;
  conn_pool_min_size: number;
  conn_pool_ttl: number;
}

const DEFAULT_GROUP: DeprecatedName = { group: 'DEFAULT', name: null };

/** `[oslo_messaging_rabbit]` as registered by `impl_rabbit:RabbitDriver.__init__` (14.0.3). */
export const rabbitOpts: OptRegistry<RabbitOptions> = {
  ssl: {
    type: 'boolean',
    default: false,
    help: 'Connect over SSL.',
    deprecatedNames: [{ group: null, name: 'rabbit_use_ssl' }],
  },
  ssl_version: {
    type: 'string',
    default: '',
    help: 'SSL version to use (valid only if SSL enabled).',
    deprecatedNames: [{ group: null, name: 'kombu_ssl_version' }],
  },
  ssl_key_file: {
    type: 'string',
    default: '',
    help: 'SSL key file (valid only if SSL enabled).',
    deprecatedNames: [{ group: null, name: 'kombu_ssl_keyfile' }],
  },
  ssl_cert_file: {
    type: 'string',
    default: '',
    help: 'SSL cert file (valid only if SSL enabled).',
    deprecatedNames: [{ group: null, name: 'kombu_ssl_certfile' }],
  },
  ssl_ca_file: {
    type: 'string',
    default: '',
    help: 'SSL certification authority file (valid only if SSL enabled).',
    deprecatedNames: [{ group: null, name: 'kombu_ssl_ca_certs' }],
  },
  ssl_enforce_hostname_verification: {
    type: 'boolean',
    default: false,
    help: 'Verify the broker hostname against the certificate when ssl_ca_file is set.',
  },
  ssl_enforce_fips_mode: {
    type: 'boolean',
    default: false,
    help: 'Global toggle for enforcing the OpenSSL FIPS mode.',
  },
  heartbeat_in_pthread: {
    type: 'boolean',
    default: false,
    help: 'Run the health check heartbeat thread through a native python thread.',
  },
  kombu_reconnect_delay: {
    type: 'float',
    default: 1.0,
    min: 0.0,
    max: 4.5,
    help: 'How long to wait (in seconds) before reconnecting in response to an AMQP consumer cancel notification.',
    deprecatedNames: [DEFAULT_GROUP],
  },
  kombu_compression: {
    type: 'string',
    default: null,
    help: 'EXPERIMENTAL: Possible values are: gzip, bz2. If not set compression will not be used.',
  },
  kombu_missing_consumer_retry_timeout: {
    type: 'integer',
    default: 60,
    help: 'How long to wait a missing client before abandoning to send it its replies.',
    deprecatedNames: [{ group: null, name: 'kombu_reconnect_timeout' }],
  },
  kombu_failover_strategy: {
    type: 'string',
    default: 'round-robin',
    choices: ['round-robin', 'shuffle'],
    help: 'Determines how the next RabbitMQ node is chosen when the current one becomes unavailable.',
  },
  rabbit_login_method: {
    type: 'string',
    default: 'AMQPLAIN',
    choices: ['PLAIN', 'AMQPLAIN', 'EXTERNAL', 'RABBIT-CR-DEMO'],
    help: 'The RabbitMQ login method.',
    deprecatedNames: [DEFAULT_GROUP],
  },
  rabbit_retry_interval: {
    type: 'integer',
    default: 1,
    help: 'How frequently to retry connecting with RabbitMQ.',
  },
  rabbit_retry_backoff: {
    type: 'integer',
    default: 2,
    help: 'How long to backoff for between retries when connecting to RabbitMQ.',
    deprecatedNames: [DEFAULT_GROUP],
  },
  rabbit_interval_max: {
    type: 'integer',
    default: 30,
    help: 'Maximum interval of RabbitMQ connection retries.',
  },
  rabbit_ha_queues: {
    type: 'boolean',
    default: false,
    help: 'Try to use HA queues in RabbitMQ (x-ha-policy: all).',
    deprecatedNames: [DEFAULT_GROUP],
  },
  rabbit_quorum_queue: {
    type: 'boolean',
    default: false,
    help: 'Use quorum queues in RabbitMQ (x-queue-type: quorum).',
  },
  rabbit_quorum_delivery_limit: {
    type: 'integer',
    default: 0,
    help: 'Redelivery limit of quorum queues (x-delivery-limit); 0 means no limit.',
  },
  rabbit_quroum_max_memory_length: {
    type: 'integer',
    default: 0,
    help: 'Maximum number of messages kept in memory by a quorum queue (x-max-in-memory-length); 0 means no limit.',
  },
  rabbit_quroum_max_memory_bytes: {
    type: 'integer',
    default: 0,
    help: 'Maximum bytes kept in memory by a quorum queue (x-max-in-memory-bytes); 0 means no limit.',
  },
  rabbit_transient_queues_ttl: {
    type: 'integer',
    default: 1800,
    min: 1,
    help: 'Seconds an unused reply or fanout queue lives (x-expires).',
  },
  rabbit_qos_prefetch_count: {
    type: 'integer',
    default: 0,
    help: 'Specifies the number of messages to prefetch. Setting to zero allows unlimited messages.',
  },
  heartbeat_timeout_threshold: {
    type: 'integer',
    default: 60,
    help: "Number of seconds after which the Rabbit broker is considered down if heartbeat's keep-alive fails (0 disables heartbeat).",
  },
  heartbeat_rate: {
    type: 'integer',
    default: 2,
    help: 'How often times during the heartbeat_timeout_threshold we check the heartbeat.',
  },
  direct_mandatory_flag: {
    type: 'boolean',
    default: true,
    help: 'Enable/Disable the RabbitMQ mandatory flag for direct send (replies).',
    deprecatedForRemoval: true,
  },
  enable_cancel_on_failover: {
    type: 'boolean',
    default: false,
    help: 'Enable x-cancel-on-ha-failover so that RabbitMQ cancels and notifies consumers when a queue is down.',
  },
  amqp_durable_queues: {
    type: 'boolean',
    default: false,
    help: 'Use durable queues in AMQP.',
  },
  amqp_auto_delete: {
    type: 'boolean',
    default: false,
    help: 'Auto-delete queues in AMQP.',
    deprecatedNames: [DEFAULT_GROUP],
  },
  rpc_conn_pool_size: {
    type: 'integer',
    default: 30,
    min: 1,
    help: 'Size of RPC connection pool.',
    deprecatedNames: [DEFAULT_GROUP],
  },
  conn_pool_min_size: {
    type: 'integer',
    default: 2,
    help: 'The pool size limit for connections expiration policy.',
  },
  conn_pool_ttl: {
    type: 'integer',
    default: 1200,
    help: 'The time-to-live in sec of idle connections in the pool.',
  },
};

export const RABBIT_GROUP = 'oslo_messaging_rabbit';
export const rabbitGroup: OptGroup<RabbitOptions> = { name: RABBIT_GROUP, opts: rabbitOpts };

/** A fresh object holding every `[oslo_messaging_rabbit]` default. */
export function rabbitDefaults(): RabbitOptions {
  return defaultsOf(rabbitOpts);
}

export function isRabbitOption(name: string): name is keyof RabbitOptions {
  return Object.hasOwn(rabbitOpts, name);
}

/**
 * Convert the text of one `[oslo_messaging_rabbit]` option the way
 * `common.py:ConfigOptsProxy` does for a URL query value
 * (`opt.type(value)`). Unknown names are rejected like oslo's
 * NoSuchOptError; deprecated names are not accepted here, as in oslo.
 */
export function convertRabbitOption<K extends keyof RabbitOptions>(name: K, text: string, part?: string): RabbitOptions[K];
export function convertRabbitOption(name: string, text: string, part?: string): RabbitOptions[keyof RabbitOptions];
export function convertRabbitOption(name: string, text: string, part?: string): RabbitOptions[keyof RabbitOptions] {
  return convertGroupOption(rabbitGroup, name, text, part);
}

/**
 * Defaults with `overrides` applied, each override checked against its
 * definition (known name, right type, bounds, choices). `part` of a failure is
 * `option:<name>`.
 */
export function resolveRabbitOptions(overrides: Partial<RabbitOptions> = {}): RabbitOptions {
  return resolveGroupOptions(rabbitGroup, overrides);
}

// ---------------------------------------------------------------------------
// [DEFAULT]

/** The `[DEFAULT]` options the messaging core reads. */
export interface MessagingOptions {
  /** transport.py `_transport_opts`: exchange for RPC topics and notifications. */
  control_exchange: string;
  /** rpc/client.py: seconds a call waits for its reply. */
  rpc_response_timeout: number;
  /** server.py: size of the executor pool, i.e. how many incoming messages are handled at once. */
  executor_thread_pool_size: number;
  /** rpc/dispatcher.py: answer `oslo_rpc_server_ping` calls. */
  rpc_ping_enabled: boolean;
}

export const messagingOpts: OptRegistry<MessagingOptions> = {
  control_exchange: {
    type: 'string',
    default: 'openstack',
    help: 'The default exchange under which topics are scoped.',
  },
  rpc_response_timeout: {
    type: 'integer',
    default: 60,
    help: 'Seconds to wait for a response from a call.',
  },
  executor_thread_pool_size: {
    type: 'integer',
    default: 64,
    help: 'Size of executor thread pool when executor is threading or eventlet.',
    deprecatedNames: [{ group: null, name: 'rpc_thread_pool_size' }],
  },
  rpc_ping_enabled: {
    type: 'boolean',
    default: false,
    help: 'Add an endpoint to answer to ping calls. Endpoint is named oslo_rpc_server_ping.',
  },
};

export const messagingGroup: OptGroup<MessagingOptions> = { name: 'DEFAULT', opts: messagingOpts };

/** A fresh object holding the `[DEFAULT]` defaults the core needs. */
export function messagingDefaults(): MessagingOptions {
  return defaultsOf(messagingOpts);
}

export function isMessagingOption(name: string): name is keyof MessagingOptions {
  return Object.hasOwn(messagingOpts, name);
}

export function convertMessagingOption<K extends keyof MessagingOptions>(name: K, text: string, part?: string): MessagingOptions[K];
export function convertMessagingOption(name: string, text: string, part?: string): MessagingOptions[keyof MessagingOptions];
export function convertMessagingOption(name: string, text: string, part?: string): MessagingOptions[keyof MessagingOptions] {
  return convertGroupOption(messagingGroup, name, text, part);
}

export function resolveMessagingOptions(overrides: Partial<MessagingOptions> = {}): MessagingOptions {
  return resolveGroupOptions(messagingGroup, overrides);
}

// ---------------------------------------------------------------------------
// Converters, one per oslo.config type (oslo_config/types.py). Each throws a
// ConfigError carrying oslo's ValueError text; callers add the option name.

// Python's str.isspace() set, which str.strip(), int() and float() trim.
const PY_SPACE = '[\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const PY_DIGITS = '[0-9](?:_?[0-9])*';
const PY_INT_RE = new RegExp(`^${PY_SPACE}*([+-]?${PY_DIGITS})${PY_SPACE}*$`);
const PY_FLOAT_RE = new RegExp(
  `^${PY_SPACE}*([+-]?(?:(?:${PY_DIGITS}(?:\\.(?:${PY_DIGITS})?)?|\\.${PY_DIGITS})(?:[eE][+-]?${PY_DIGITS})?|inf|infinity|nan))${PY_SPACE}*$`,
  'i',
);
const PY_BLANK_RE = new RegExp(`^${PY_SPACE}*$`);

export interface NumberBounds {
  min?: number;
  max?: number;
}

/** `types.Boolean`: true/false, yes/no, on/off, 1/0, case-insensitive, nothing else (no trimming). */
export function toBoolean(text: string): boolean {
  const s = text.toLowerCase();
  if (s === 'true' || s === '1' || s === 'on' || s === 'yes') return true;
  if (s === 'false' || s === '0' || s === 'off' || s === 'no') return false;
  throw new ConfigError(`Unexpected boolean value ${pyRepr(text)}`);
}

/**
 * `types.Integer`: Python `int(text)` (surrounding whitespace, a sign and
 * `_` between digits allowed), then the bounds. oslo turns a blank value into
 * None, which every integer option of the core then trips over; it is refused
 * here instead. Integers beyond 2^53 are refused rather than rounded.
 */
export function toInteger(text: string, bounds: NumberBounds = {}): number {
  if (PY_BLANK_RE.test(text)) throw new ConfigError('Should be an integer, got a blank value');
  const m = PY_INT_RE.exec(text);
  if (!m) throw new ConfigError(`invalid literal for int() with base 10: ${pyRepr(text)}`);
  const value = Number(m[1].replaceAll('_', ''));
  if (!Number.isSafeInteger(value)) throw new ConfigError(`Integer ${m[1]} is out of range`);
  return checkBounds(value, bounds);
}

/**
 * `types.Float`: Python `float(text)` (also inf/infinity/nan), then the
 * bounds. NaN passes oslo's bound checks by accident of IEEE comparison and
 * would then poison every delay computed from it, so it is refused.
 */
export function toFloat(text: string, bounds: NumberBounds = {}): number {
  if (PY_BLANK_RE.test(text)) throw new ConfigError('Should be a number, got a blank value');
  const m = PY_FLOAT_RE.exec(text);
  if (!m) throw new ConfigError(`could not convert string to float: ${pyRepr(text)}`);
  const literal = m[1].replaceAll('_', '').toLowerCase();
  const unsigned = literal.replace(/^[+-]/, '');
  if (unsigned === 'nan') throw new ConfigError('Should be a number, got nan');
  const negative = literal.startsWith('-');
  const value =
    unsigned === 'inf' || unsigned === 'infinity' ? (negative ? -Infinity : Infinity) : Number(literal);
  return checkBounds(value, bounds);
}

/** `types.String(choices)`: the text as is; with choices it must be one of them exactly (case-sensitive). */
export function toStr<T extends string = string>(text: string, choices?: readonly T[]): T {
  if (choices === undefined || (choices as readonly string[]).includes(text)) return text as T;
  throw new ConfigError(`Valid values are [${choices.join(', ')}], but found ${pyRepr(text)}`);
}

/** Convert text with the converter of `def`'s type. */
export function convertOpt(def: OptDef, text: string): boolean | number | string {
  switch (def.type) {
    case 'boolean':
      return toBoolean(text);
    case 'integer':
      return toInteger(text, def);
    case 'float':
      return toFloat(text, def);
    case 'string':
      return toStr(text, def.choices);
  }
}

// ---------------------------------------------------------------------------
// Group helpers

function defaultsOf<T>(opts: OptRegistry<T>): T {
  const out: Record<string, unknown> = {};
  for (const [name, def] of Object.entries<OptDef>(opts as Record<string, OptDef>)) out[name] = def.default;
  return out as T;
}

function lookup<T>(group: OptGroup<T>, name: string): OptDef | undefined {
  return Object.hasOwn(group.opts, name) ? (group.opts as Record<string, OptDef>)[name] : undefined;
}

/** Convert text for `name` of `group`; unknown names and bad values become a ConfigError naming the option. */
export function convertGroupOption<T>(group: OptGroup<T>, name: string, text: string, part: string = `option:${name}`): T[keyof T] {
  const def = lookup(group, name);
  // oslo_config.cfg.NoSuchOptError text
  if (def === undefined) throw new ConfigError(`no such option ${name} in group [${group.name}]`, part);
  try {
    return convertOpt(def, text) as T[keyof T];
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigError(`Invalid value for option ${name} in group [${group.name}]: ${reason}`, part, { cause: err });
  }
}

/** Defaults of `group` with typed `overrides` applied after checking each against its definition. */
export function resolveGroupOptions<T>(group: OptGroup<T>, overrides: Partial<T>): T {
  const out = defaultsOf(group.opts) as Record<string, unknown>;
  for (const [name, value] of Object.entries(overrides as Record<string, unknown>)) {
    if (value === undefined) continue;
    const part = `option:${name}`;
    const def = lookup(group, name);
    if (def === undefined) throw new ConfigError(`no such option ${name} in group [${group.name}]`, part);
    const problem = checkValue(def, value);
    if (problem !== undefined) {
      throw new ConfigError(`Invalid value for option ${name} in group [${group.name}]: ${problem}`, part);
    }
    out[name] = value;
  }
  return out as T;
}

/** Why `value` does not fit `def`, or undefined when it does. */
function checkValue(def: OptDef, value: unknown): string | undefined {
  try {
    switch (def.type) {
      case 'boolean':
        return typeof value === 'boolean' ? undefined : `expected a boolean, got ${typeof value}`;
      case 'integer':
        if (typeof value !== 'number' || !Number.isSafeInteger(value)) return `expected an integer, got ${describeValue(value)}`;
        checkBounds(value, def);
        return undefined;
      case 'float':
        if (typeof value !== 'number' || Number.isNaN(value)) return `expected a number, got ${describeValue(value)}`;
        checkBounds(value, def);
        return undefined;
      case 'string':
        if (value === null && def.default === null) return undefined;
        if (typeof value !== 'string') return `expected a string, got ${describeValue(value)}`;
        toStr(value, def.choices);
        return undefined;
    }
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function describeValue(value: unknown): string {
  return typeof value === 'number' ? String(value) : value === null ? 'null' : typeof value;
}

function checkBounds(value: number, bounds: NumberBounds): number {
  // oslo_config/types.py Number.__call__ ('%g' formatting of the bound)
  if (bounds.min !== undefined && value < bounds.min) throw new ConfigError(`Should be greater than or equal to ${bounds.min}`);
  if (bounds.max !== undefined && value > bounds.max) throw new ConfigError(`Should be less than or equal to ${bounds.max}`);
  return value;
}

/** Python repr() of a str, for error texts that match oslo's. */
function pyRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + quote;
}
