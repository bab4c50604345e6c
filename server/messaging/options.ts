/**
 * The oslo.config options the messaging core reads, with oslo.messaging's
 * names, types, defaults and bounds, so an operator can carry the values of a
 * service's `[oslo_messaging_rabbit]`, `[oslo_messaging_notifications]` and
 * `[DEFAULT]` sections over unchanged.
 *
 * The registry covers every option of those groups from 14.0.3 (Zed, the
 * baseline) through 18.1.0. Each definition holds the option as osloscope
 * applies it, which is 14.0.3's definition where 14.0.3 had the option and
 * the defining release's otherwise; `since`, `renamedIn`, `removedIn` and
 * `history` record what later releases changed, so `optsAt(version)` can
 * rebuild the group of any release (the golden tests compare that view with
 * the real library of each release).
 *
 * Sources (14.0.3, and the same files at every tag up to 18.1.0):
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
 * (`oslo_config/types.py`, ported in oslo-types.ts), which is what `_drivers/common.py:ConfigOptsProxy`
 * applies to the query of a transport URL.
 */

import { ConfigError } from './errors.ts';
import { checkBounds, pyStrip, toBoolean, toFloat, toInteger, toList, toStr, type NumberBounds } from './oslo-types.ts';

export { pyStrip, toBoolean, toFloat, toInteger, toList, toStr, type NumberBounds };

// ---------------------------------------------------------------------------
// Option definitions

/** An option name an older release used (oslo `deprecated_name`/`deprecated_group`); `group: null` means the option's own group. */
export interface DeprecatedName {
  readonly group: string | null;
  readonly name: string | null;
}

/**
 * What one oslo.messaging release changed in an option's definition (fields
 * absent: unchanged). `null` bounds mean "no bound" from that release on.
 */
export interface OptChange {
  readonly version: string;
  readonly note: string;
  readonly default?: boolean | number | string | null | readonly string[];
  readonly min?: number | null;
  readonly max?: number | null;
  readonly deprecatedNames?: readonly DeprecatedName[];
  readonly deprecatedForRemoval?: boolean;
}

interface OptCommon {
  readonly help: string;
  /** Older names oslo.config still reads from configuration files (never from a transport URL query). */
  readonly deprecatedNames?: readonly DeprecatedName[];
  /** oslo `deprecated_for_removal` */
  readonly deprecatedForRemoval?: boolean;
  /** oslo `secret=True`: never printed (errors, help, logs). */
  readonly secret?: boolean;
  /** First oslo.messaging release with the option; absent: 14.0.3 or older. */
  readonly since?: string;
  /**
   * Releases before `since` that carry the option anyway as a distribution
   * backport (Debian bookworm's 14.0.3-0+deb12u1 and trixie's
   * 16.1.0-3+deb13u1 have ssl_enforce_hostname_verification from OSSN-0096).
   */
  readonly backportedTo?: readonly string[];
  /** From this release on the name is only a deprecated name of `renamedTo`. */
  readonly renamedIn?: string;
  readonly renamedTo?: string;
  /** First release where oslo.config no longer knows the name at all. */
  readonly removedIn?: string;
  /** Later changes of default, bounds or deprecations, oldest first. */
  readonly history?: readonly OptChange[];
  /**
   * oslo computes the default when the module is imported
   * (`socket.gethostname()`); `default` is then null and the consumer
   * computes it the same way.
   */
  readonly dynamicDefault?: string;
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

/** oslo.config `ListOpt` (`types.List(String())`): comma-separated, items stripped. */
export interface ListOptDef extends OptCommon {
  readonly type: 'list';
  readonly default: readonly string[];
}

/** oslo.config `MultiStrOpt`: every occurrence of the key in every file, in order. */
export interface MultiStrOptDef extends OptCommon {
  readonly type: 'multistring';
  readonly default: readonly string[];
}

export type OptDef = BoolOptDef | IntOptDef | FloatOptDef | StrOptDef | ListOptDef | MultiStrOptDef;

/** The definition an option of value type V must have. */
export type OptDefFor<V> = [V] extends [boolean]
  ? BoolOptDef
  : [V] extends [number]
    ? IntOptDef | FloatOptDef
    : [V] extends [string | null]
      ? StrOptDef<V>
      : [V] extends [readonly string[]]
        ? ListOptDef | MultiStrOptDef
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
 * Every option the `[oslo_messaging_rabbit]` group had in any release from
 * 14.0.3 to 18.1.0 (rabbit_opts + amqp_opts + base_opts), keyed by oslo's
 * names. Seconds are seconds, as in oslo.
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
  /** removed in 18.0.0 */
  heartbeat_in_pthread: boolean;
  kombu_reconnect_delay: number;
  /** 16.1.0 */
  kombu_reconnect_splay: number;
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
  /**
   * 14.0.3 spelling (renamed rabbit_quorum_max_memory_length in 14.3.0, old
   * name dropped in 17.0.0). Always holds the same value as the new name.
   */
  rabbit_quroum_max_memory_length: number;
  /** 14.0.3 spelling of rabbit_quorum_max_memory_bytes; always the same value. */
  rabbit_quroum_max_memory_bytes: number;
  /** 14.3.0 */
  rabbit_quorum_max_memory_length: number;
  /** 14.3.0 */
  rabbit_quorum_max_memory_bytes: number;
  /** 14.7.0: reply and fanout queues become quorum queues */
  rabbit_transient_quorum_queue: boolean;
  /** 14.7.0: one `<topic>_fanout` stream queue replaces the per-server fanout queues */
  rabbit_stream_fanout: boolean;
  /** 14.7.0: `reply_<hostname>:<processname>:<n>` names instead of random ones */
  use_queue_manager: boolean;
  /** 14.7.0; null: socket.gethostname() */
  hostname: string | null;
  /** 14.7.0; null: basename of the program (sys.argv[0]) */
  processname: string | null;
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
    history: [{ version: '16.0.0', note: 'deprecated name rabbit_use_ssl removed', deprecatedNames: [] }],
  },
  ssl_version: {
    type: 'string',
    default: '',
    help: 'SSL version to use (valid only if SSL enabled).',
    deprecatedNames: [{ group: null, name: 'kombu_ssl_version' }],
    history: [{ version: '16.0.0', note: 'deprecated name kombu_ssl_version removed', deprecatedNames: [] }],
  },
  ssl_key_file: {
    type: 'string',
    default: '',
    help: 'SSL key file (valid only if SSL enabled).',
    deprecatedNames: [{ group: null, name: 'kombu_ssl_keyfile' }],
    history: [{ version: '16.0.0', note: 'deprecated name kombu_ssl_keyfile removed', deprecatedNames: [] }],
  },
  ssl_cert_file: {
    type: 'string',
    default: '',
    help: 'SSL cert file (valid only if SSL enabled).',
    deprecatedNames: [{ group: null, name: 'kombu_ssl_certfile' }],
    history: [{ version: '16.0.0', note: 'deprecated name kombu_ssl_certfile removed', deprecatedNames: [] }],
  },
  ssl_ca_file: {
    type: 'string',
    default: '',
    help: 'SSL certification authority file (valid only if SSL enabled).',
    deprecatedNames: [{ group: null, name: 'kombu_ssl_ca_certs' }],
    history: [{ version: '16.0.0', note: 'deprecated name kombu_ssl_ca_certs removed', deprecatedNames: [] }],
  },
  ssl_enforce_hostname_verification: {
    type: 'boolean',
    default: false,
    help: 'Verify the broker hostname against the certificate when ssl_ca_file is set.',
    // Upstream added it in 18.1.0 (default True, deprecated for removal at
    // birth); the OSSN-0096 fix backported to stable branches and to Debian's
    // 14.0.3 (bookworm) and 16.1.0 (trixie) keeps the old behaviour by
    // default (False). osloscope keeps False.
    since: '18.1.0',
    backportedTo: ['14.0.3', '16.1.0'],
    history: [{ version: '18.1.0', note: 'upstream default True, deprecated for removal', default: true, deprecatedForRemoval: true }],
  },
  ssl_enforce_fips_mode: {
    type: 'boolean',
    default: false,
    help: 'Global toggle for enforcing the OpenSSL FIPS mode.',
    history: [{ version: '17.3.0', note: 'deprecated for removal', deprecatedForRemoval: true }],
  },
  heartbeat_in_pthread: {
    type: 'boolean',
    default: false,
    help: 'Run the health check heartbeat thread through a native python thread.',
    history: [{ version: '14.9.0', note: 'deprecated for removal', deprecatedForRemoval: true }],
    // kolla-ansible still renders it; oslo.config ignores it from 18.0.0 on.
    removedIn: '18.0.0',
  },
  kombu_reconnect_delay: {
    type: 'float',
    default: 1.0,
    min: 0.0,
    max: 4.5,
    help: 'How long to wait (in seconds) before reconnecting in response to an AMQP consumer cancel notification.',
    deprecatedNames: [DEFAULT_GROUP],
    history: [
      { version: '14.1.0', note: 'bounds dropped by mistake', min: null, max: null },
      { version: '14.4.0', note: 'bounds 0..4.5 restored', min: 0.0, max: 4.5 },
      { version: '16.0.0', note: '[DEFAULT] fallback removed', deprecatedNames: [] },
    ],
  },
  kombu_reconnect_splay: {
    type: 'float',
    default: 0.0,
    min: 0.0,
    since: '16.1.0',
    help: 'Random time to wait for when reconnecting in response to an AMQP consumer cancel notification.',
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
    history: [{ version: '16.0.0', note: '[DEFAULT] fallback removed', deprecatedNames: [] }],
  },
  rabbit_retry_interval: {
    type: 'integer',
    default: 1,
    help: 'How frequently to retry connecting with RabbitMQ.',
    history: [{ version: '16.1.0', note: 'minimum 1', min: 1 }],
  },
  rabbit_retry_backoff: {
    type: 'integer',
    default: 2,
    help: 'How long to backoff for between retries when connecting to RabbitMQ.',
    deprecatedNames: [DEFAULT_GROUP],
    history: [
      { version: '16.0.0', note: '[DEFAULT] fallback removed', deprecatedNames: [] },
      { version: '16.1.0', note: 'minimum 0', min: 0 },
    ],
  },
  rabbit_interval_max: {
    type: 'integer',
    default: 30,
    help: 'Maximum interval of RabbitMQ connection retries.',
    history: [{ version: '16.1.0', note: 'minimum 1', min: 1 }],
  },
  rabbit_ha_queues: {
    type: 'boolean',
    default: false,
    help: 'Try to use HA queues in RabbitMQ (x-ha-policy: all).',
    deprecatedNames: [DEFAULT_GROUP],
    history: [{ version: '16.0.0', note: '[DEFAULT] fallback removed', deprecatedNames: [] }],
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
    renamedIn: '14.3.0',
    renamedTo: 'rabbit_quorum_max_memory_length',
    removedIn: '17.0.0',
  },
  rabbit_quroum_max_memory_bytes: {
    type: 'integer',
    default: 0,
    help: 'Maximum bytes kept in memory by a quorum queue (x-max-in-memory-bytes); 0 means no limit.',
    renamedIn: '14.3.0',
    renamedTo: 'rabbit_quorum_max_memory_bytes',
    removedIn: '17.0.0',
  },
  rabbit_quorum_max_memory_length: {
    type: 'integer',
    default: 0,
    help: 'Maximum number of messages kept in memory by a quorum queue (x-max-in-memory-length); 0 means no limit.',
    since: '14.3.0',
    deprecatedNames: [{ group: null, name: 'rabbit_quroum_max_memory_length' }],
    history: [{ version: '17.0.0', note: 'deprecated name rabbit_quroum_max_memory_length removed', deprecatedNames: [] }],
  },
  rabbit_quorum_max_memory_bytes: {
    type: 'integer',
    default: 0,
    help: 'Maximum bytes kept in memory by a quorum queue (x-max-in-memory-bytes); 0 means no limit.',
    since: '14.3.0',
    deprecatedNames: [{ group: null, name: 'rabbit_quroum_max_memory_bytes' }],
    history: [{ version: '17.0.0', note: 'deprecated name rabbit_quroum_max_memory_bytes removed', deprecatedNames: [] }],
  },
  rabbit_transient_quorum_queue: {
    type: 'boolean',
    default: false,
    since: '14.7.0',
    help: 'Use quorum queues for transient queues (reply and fanout) in RabbitMQ.',
  },
  rabbit_stream_fanout: {
    type: 'boolean',
    default: false,
    since: '14.7.0',
    help:
      'Use one stream queue (x-queue-type: stream) per fanout exchange instead of one queue per server. ' +
      'Requires rabbit_transient_quorum_queue and a rabbit_qos_prefetch_count above 0.',
  },
  use_queue_manager: {
    type: 'boolean',
    default: false,
    since: '14.7.0',
    help: 'Name reply and fanout queues <hostname>:<processname>:<counter> instead of randomly.',
  },
  hostname: {
    type: 'string',
    default: null,
    since: '14.7.0',
    dynamicDefault: 'socket.gethostname()',
    help: 'Hostname used by queue manager. Defaults to the value returned by socket.gethostname().',
  },
  processname: {
    type: 'string',
    default: null,
    since: '14.7.0',
    dynamicDefault: 'os.path.basename(sys.argv[0])',
    help: 'Process name used by queue manager. Defaults to the program name.',
  },
  rabbit_transient_queues_ttl: {
    type: 'integer',
    default: 1800,
    min: 1,
    help: 'Seconds an unused reply or fanout queue lives (x-expires).',
    history: [{ version: '14.6.0', note: 'minimum 0 (0: no x-expires; with streams, no x-max-age)', min: 0 }],
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
    history: [{ version: '14.5.0', note: 'default 3', default: 3 }],
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
    history: [{ version: '16.0.0', note: '[DEFAULT] fallback removed', deprecatedNames: [] }],
  },
  rpc_conn_pool_size: {
    type: 'integer',
    default: 30,
    min: 1,
    help: 'Size of RPC connection pool.',
    deprecatedNames: [DEFAULT_GROUP],
    history: [{ version: '16.0.0', note: '[DEFAULT] fallback removed', deprecatedNames: [] }],
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
  return syncRenamedRabbitOptions(resolveGroupOptions(rabbitGroup, overrides), overrides);
}

/** Old spelling → new spelling of options renamed within the supported releases. */
export const RENAMED_RABBIT_OPTIONS: Readonly<Record<string, keyof RabbitOptions>> = {
  rabbit_quroum_max_memory_length: 'rabbit_quorum_max_memory_length',
  rabbit_quroum_max_memory_bytes: 'rabbit_quorum_max_memory_bytes',
};

/**
 * Give both spellings of a renamed option one value, so code written against
 * either name sees what the operator set. As in oslo.config
 * (`cfg.py:_Namespace._get_file_value`), the current name wins when both were
 * given.
 */
export function syncRenamedRabbitOptions(options: RabbitOptions, given: Partial<RabbitOptions>): RabbitOptions {
  const o = options as unknown as Record<string, unknown>;
  const g = given as Record<string, unknown>;
  for (const [oldName, newName] of Object.entries(RENAMED_RABBIT_OPTIONS)) {
    const value = g[newName] !== undefined ? g[newName] : g[oldName];
    if (value === undefined) continue;
    o[oldName] = value;
    o[newName] = value;
  }
  return options;
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

/**
 * `[DEFAULT] transport_url` (transport.py `_transport_opts`, secret). Kept
 * apart from MessagingOptions: the transport is built from it, not handed it.
 */
export const transportUrlOpt: StrOptDef<string> = {
  type: 'string',
  default: 'rabbit://',
  secret: true,
  help: 'The network address and optional user credentials for connecting to the messaging backend, in URL format.',
};

// ---------------------------------------------------------------------------
// [oslo_messaging_notifications]

/** `notify/notifier.py:_notifier_opts`. */
export interface NotificationOptions {
  /** MultiStrOpt: messaging, messagingv2, routing, log, test, noop */
  driver: string[];
  /** a transport URL for notifications; null: the RPC transport */
  transport_url: string | null;
  /** ListOpt */
  topics: string[];
  /** 0: no retry, -1: indefinitely */
  retry: number;
}

export const NOTIFICATIONS_GROUP = 'oslo_messaging_notifications';

export const notificationOpts: OptRegistry<NotificationOptions> = {
  driver: {
    type: 'multistring',
    default: [],
    help: 'The Drivers(s) to handle sending notifications. Possible values are messaging, messagingv2, routing, log, test, noop',
    deprecatedNames: [{ group: 'DEFAULT', name: 'notification_driver' }],
    history: [{ version: '16.0.0', note: 'deprecated name [DEFAULT] notification_driver removed', deprecatedNames: [] }],
  },
  transport_url: {
    type: 'string',
    default: null,
    secret: true,
    help: 'A URL representing the messaging driver to use for notifications. If not set, we fall back to the same configuration used for RPC.',
    deprecatedNames: [{ group: 'DEFAULT', name: 'notification_transport_url' }],
    history: [{ version: '16.0.0', note: 'deprecated name [DEFAULT] notification_transport_url removed', deprecatedNames: [] }],
  },
  topics: {
    type: 'list',
    default: ['notifications'],
    help: 'AMQP topic used for OpenStack notifications.',
    deprecatedNames: [
      { group: 'rpc_notifier2', name: 'topics' },
      { group: 'DEFAULT', name: 'notification_topics' },
    ],
    history: [{ version: '16.0.0', note: 'deprecated names [rpc_notifier2] topics and [DEFAULT] notification_topics removed', deprecatedNames: [] }],
  },
  retry: {
    type: 'integer',
    default: -1,
    help: 'The maximum number of attempts to re-send a notification message which failed to be delivered due to a recoverable error. 0 - No retry, -1 - indefinite',
  },
};

export const notificationGroup: OptGroup<NotificationOptions> = { name: NOTIFICATIONS_GROUP, opts: notificationOpts };

export function notificationDefaults(): NotificationOptions {
  return defaultsOf(notificationOpts);
}

// ---------------------------------------------------------------------------
// Releases

/**
 * The oslo.messaging releases whose option definitions the registry was
 * checked against, oldest first (series in docs/wire.md#versions).
 */
export const KNOWN_RELEASES = [
  '14.0.3', '14.1.0', '14.2.0', '14.3.0', '14.4.0', '14.5.0', '14.6.0', '14.7.0', '14.8.0', '14.9.0',
  '15.0.0', '16.0.0', '16.1.0', '17.0.0', '17.1.0', '17.2.0', '17.3.0', '18.0.0', '18.1.0',
] as const;
export const BASELINE_RELEASE = '14.0.3';

/** Compare dotted release numbers numerically (`14.10.0` > `14.9.0`). */
export function compareReleases(a: string, b: string): number {
  const pa = a.split('.').map((n) => Number.parseInt(n, 10) || 0);
  const pb = b.split('.').map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Whether `name` is a registered option of `def`'s group in release `version`. */
export function optExistsIn(def: OptDef, version: string): boolean {
  const since = def.since !== undefined && compareReleases(version, def.since) < 0;
  if (since && !(def.backportedTo ?? []).includes(version)) return false;
  if (def.renamedIn !== undefined && compareReleases(version, def.renamedIn) >= 0) return false;
  if (def.removedIn !== undefined && compareReleases(version, def.removedIn) >= 0) return false;
  return true;
}

/** `def` as release `version` defines it (its history applied up to that release), or undefined when absent there. */
export function optAt(def: OptDef, version: string): OptDef | undefined {
  if (!optExistsIn(def, version)) return undefined;
  let out: Record<string, unknown> = { ...def };
  for (const change of def.history ?? []) {
    if (compareReleases(version, change.version) < 0) break;
    const { version: _v, note: _n, ...fields } = change;
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      if (v === null && (k === 'min' || k === 'max')) {
        const { [k]: _drop, ...rest } = out;
        out = rest;
      } else out[k] = v;
    }
  }
  if (Array.isArray(out.deprecatedNames) && out.deprecatedNames.length === 0) delete out.deprecatedNames;
  if (out.deprecatedForRemoval === false) delete out.deprecatedForRemoval;
  return out as unknown as OptDef;
}

/** The options of `group` as release `version` registers them. */
export function optsAt<T>(group: OptGroup<T>, version: string): Record<string, OptDef> {
  const out: Record<string, OptDef> = {};
  for (const [name, def] of Object.entries<OptDef>(group.opts as Record<string, OptDef>)) {
    const at = optAt(def, version);
    if (at !== undefined) out[name] = at;
  }
  return out;
}

/**
 * What to tell an operator who set `name`, an option of `group` that the
 * newest releases no longer know: the release that renamed or removed it.
 * Undefined for options every supported release still has.
 */
export function retiredOptionNote<T>(group: OptGroup<T>, name: string): string | undefined {
  const def = lookup(group, name);
  if (def === undefined) return undefined;
  if (def.renamedTo !== undefined && def.renamedIn !== undefined) {
    const gone = def.removedIn !== undefined ? `; oslo.messaging ${def.removedIn} and later ignore the old name` : '';
    return `[${group.name}] ${name} was renamed ${def.renamedTo} in oslo.messaging ${def.renamedIn}${gone}`;
  }
  if (def.removedIn !== undefined) {
    return `[${group.name}] ${name} was removed in oslo.messaging ${def.removedIn} (older services still read it)`;
  }
  return undefined;
}

/** Every deprecated name of `group`'s options in any release: `group/name` → the option it stands for. */
export function deprecatedNamesOf<T>(group: OptGroup<T>): Map<string, { option: string; removedIn?: string }> {
  const out = new Map<string, { option: string; removedIn?: string }>();
  for (const [option, def] of Object.entries<OptDef>(group.opts as Record<string, OptDef>)) {
    for (const d of def.deprecatedNames ?? []) {
      const removal = (def.history ?? []).find((c) => c.deprecatedNames !== undefined && !c.deprecatedNames.some((x) => x.group === d.group && x.name === d.name));
      out.set(`${d.group ?? group.name}/${d.name ?? option}`, { option, removedIn: removal?.version });
    }
  }
  return out;
}

/**
 * Up to three registered names close to `name` (typos, singular/plural,
 * a deprecated spelling), closest first, for "did you mean" hints.
 */
export function closeOptionNames<T>(group: OptGroup<T>, name: string): string[] {
  const scored: [number, string][] = [];
  const seen = new Set<string>();
  const consider = (candidate: string, shown: string) => {
    if (seen.has(shown)) return;
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    const limit = Math.max(2, Math.floor(candidate.length / 5));
    if (d <= limit) {
      seen.add(shown);
      scored.push([d, shown]);
    }
  };
  for (const option of Object.keys(group.opts as Record<string, OptDef>)) consider(option, option);
  for (const [key, { option }] of deprecatedNamesOf(group)) {
    const [g, n] = key.split('/');
    if (g === group.name) consider(n, option);
  }
  return scored
    .sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]))
    .slice(0, 3)
    .map(([, n]) => n);
}

/** Optimal-string-alignment distance (Levenshtein plus adjacent swaps); names are short. */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 8) return 99;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        rows[i][j] = j;
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, rows[i - 2][j - 2] + 1);
      rows[i][j] = v;
    }
  }
  return rows[a.length][b.length];
}

/**
 * A ConfigError for options `group` does not know, naming every one of them
 * with close matches, e.g. from a transport URL query. oslo raises
 * NoSuchOptError for the first only (`_drivers/common.py:ConfigOptsProxy`);
 * its text starts the message so the two read alike.
 */
export function unknownOptionsError<T>(group: OptGroup<T>, names: readonly string[], where: string, part: string): ConfigError {
  const deprecated = deprecatedNamesOf(group);
  const parts = names.map((name) => {
    const old = deprecated.get(`${group.name}/${name}`);
    if (old !== undefined) return `${name} (an old name of ${old.option}, which ${where} does not accept: use ${old.option})`;
    const close = closeOptionNames(group, name);
    return close.length > 0 ? `${name} (did you mean ${close.join(', ')}?)` : name;
  });
  const head = `no such option ${names[0]} in group [${group.name}]`;
  const list = names.length === 1 ? parts[0] : parts.join('; ');
  return new ConfigError(`${head}: ${where} sets unknown option${names.length > 1 ? 's' : ''} ${list}`, part);
}

/** Convert text with the converter of `def`'s type (a multi-valued option converts one occurrence). */
export function convertOpt(def: OptDef, text: string): boolean | number | string | string[] {
  switch (def.type) {
    case 'list':
      return toList(text);
    case 'multistring':
      return [text];
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
  for (const [name, def] of Object.entries<OptDef>(opts as Record<string, OptDef>)) out[name] = Array.isArray(def.default) ? [...def.default] : def.default;
  return out as T;
}

export function lookup<T>(group: OptGroup<T>, name: string): OptDef | undefined {
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
      case 'list':
      case 'multistring':
        return Array.isArray(value) && value.every((v) => typeof v === 'string') ? undefined : `expected a list of strings, got ${describeValue(value)}`;
    }
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function describeValue(value: unknown): string {
  return typeof value === 'number' ? String(value) : value === null ? 'null' : typeof value;
}
