/**
 * oslo.messaging's transport URL, parsed as `transport.py:TransportURL.parse`
 * (oslo.messaging 14.0.3 on Python 3.11's `urllib.parse`) parses it:
 *
 *   driver://[user[:pass]@]host[:port][,[user[:pass]@]host[:port]...]/[virtual_host][?query]
 *
 * The query holds `[oslo_messaging_rabbit]` overrides, converted by type as
 * `_drivers/common.py:ConfigOptsProxy` does. oslo only finds a bad query key or
 * value when the driver is built (NoSuchOptError / ValueError); here `parse`
 * fails at once, with a ConfigError whose `part` names what is wrong.
 *
 * Deliberate differences (each pinned by test/interop/transport-url-golden.test.ts):
 * - refused although oslo parses them: a port outside 1–65535 (oslo turns 0
 *   into 5672 and leaves the rest to the socket); credentials followed by no
 *   host at all (`u:p@`, hostname None, a TypeError later in
 *   `impl_rabbit:Connection._transform_transport_url`); a NaN or blank value
 *   for a numeric option; a literal `@` in the path (a password with an
 *   unencoded `/`, which would otherwise be shown as part of the virtual
 *   host); schemes other than the ones in DRIVERS (`kafka`, `kombu+amqp`, ...).
 * - accepted although oslo fails: an IPv6 host after another host (CPython's
 *   urlsplit checks brackets on the whole comma-joined netloc), `kombu://`
 *   (14.0.3 hands the scheme `kombu` to kombu, which has no such transport),
 *   and `memory://`.
 *
 * Passwords never appear in `toString()`, `describe()`, JSON, `util.inspect`
 * output or error messages.
 */

import { isIP } from 'node:net';

import { REDACTED } from '../../lib/tap-contracts.ts';
import { ConfigError } from './errors.ts';
import { parseQs, pyQuote, pyQuotePlus, pyUnquote, urlsplit } from './urllib.ts';
import {
  convertRabbitOption,
  isRabbitOption,
  rabbitGroup,
  resolveRabbitOptions,
  retiredOptionNote,
  syncRenamedRabbitOptions,
  unknownOptionsError,
  type RabbitOptions,
} from './options.ts';

export type TransportDriverName = 'rabbit' | 'memory';

/** One broker of the URL; a field is absent where oslo's TransportHost has None. */
export interface TransportHost {
  hostname: string;
  port?: number;
  username?: string;
  password?: string;
}

/** Where and how to open one AMQP connection, with kombu's defaults filled in. */
export interface AmqpEndpoint {
  hostname: string;
  port: number;
  username: string;
  password: string;
  vhost: string;
  ssl: boolean;
  /** `host:port` (`[v6]:port`), safe to log */
  label: string;
}

/** AMQP port kombu uses when the URL gives none (impl_rabbit:_transform_transport_url). */
export const DEFAULT_AMQP_PORT = 5672;

/** `scheme://user:password@` and, in multi-host transport URLs, `,user:password@`. */
const URL_USERINFO = /(\/\/|,)([^\s:@/,]*):([^\s@/,]+)@/g;

/**
 * Scrub passwords from URL-looking text (`rabbit://nova:s3cret@ctl:5672/` → `rabbit://nova:***@ctl:5672/`):
 * the one URL-password pattern, used by the tap's redaction, configuration errors and scripts.
 */
export function redactUrlPasswords(text: string): string {
  if (text.length < 8 || !text.includes('://') || !text.includes('@')) return text;
  return text.replace(URL_USERINFO, (_m, lead: string, user: string) => `${lead}${user}:${REDACTED}@`);
}

/**
 * Scheme → driver. oslo looks up the stevedore entry point named by the part
 * before the first `+` (`transport.py:_get_transport`): `rabbit` and its alias
 * `kombu` are the rabbit driver; `fake` is oslo's in-process driver, which is
 * what our `memory` driver is; `kombu+memory` is kombu's in-process transport,
 * used by oslo's own tests.
 */
const DRIVERS: Readonly<Record<string, TransportDriverName>> = {
  rabbit: 'rabbit',
  kombu: 'rabbit',
  memory: 'memory',
  fake: 'memory',
  'kombu+memory': 'memory',
};

interface TransportURLFields {
  driver: TransportDriverName;
  scheme: string;
  hosts: TransportHost[];
  virtualHost: string | null;
  query: Record<string, string>;
  options: RabbitOptions;
  warnings: string[];
}

export class TransportURL {
  /** Which driver serves this URL. */
  readonly driver: TransportDriverName;
  /** The scheme as written, lower-cased (oslo `TransportURL.transport`). */
  readonly scheme: string;
  readonly hosts: readonly Readonly<TransportHost>[];
  /** Percent-decoded path without its first `/`; null when the URL has no path. */
  readonly virtualHost: string | null;
  /** The query as oslo keeps it: `parse_qs`, repeated keys joined with `,`. */
  readonly query: Readonly<Record<string, string>>;
  /** `[oslo_messaging_rabbit]` defaults, then the caller's overrides, then the query. */
  readonly options: Readonly<RabbitOptions>;
  /** What oslo would only log (e.g. hosts mixed with and without credentials). */
  readonly warnings: readonly string[];

  private constructor(fields: TransportURLFields) {
    this.driver = fields.driver;
    this.scheme = fields.scheme;
    this.hosts = Object.freeze(fields.hosts.map((h) => Object.freeze(h)));
    this.virtualHost = fields.virtualHost;
    this.query = Object.freeze(fields.query);
    this.options = Object.freeze(fields.options);
    this.warnings = Object.freeze(fields.warnings);
  }

  /**
   * Parse `url` as oslo's `TransportURL.parse` does. `overrides` play the part
   * of the configuration file's `[oslo_messaging_rabbit]` section: the URL query
   * wins over them, as in `ConfigOptsProxy`.
   */
  static parse(url: string, overrides: Partial<RabbitOptions> = {}): TransportURL {
    if (typeof url !== 'string') throw new ConfigError('Wrong URL type: the transport URL must be a string', 'url');
    const split = urlsplit(url);
    if (split.scheme === '') throw new ConfigError('No scheme specified in the transport URL', 'scheme');

    const driver = Object.hasOwn(DRIVERS, split.scheme) ? DRIVERS[split.scheme] : undefined;
    if (driver === undefined) {
      throw new ConfigError(
        `Unsupported transport driver "${split.scheme}" (supported: ${Object.keys(DRIVERS).join(', ')})`,
        'scheme',
      );
    }

    const { hosts, warnings } = parseHosts(split.netloc);

    let virtualHost: string | null = null;
    if (split.path.startsWith('/')) {
      if (split.path.includes('@')) {
        throw new ConfigError(
          "The transport URL path contains a literal '@': a password containing '/' must be percent-encoded " +
            "(%2F), and an '@' in a virtual host must be written %40",
          'vhost',
        );
      }
      virtualHost = pyUnquote(split.path.slice(1));
    }

    const query = parseQs(split.query);
    // Every unknown key is named at once, with close matches: oslo's
    // ConfigOptsProxy stops at the first with NoSuchOptError, and a typo in a
    // query (helm's `rabbit_quorum_queues`) is otherwise easy to miss. Options
    // of any release 14.0.3-18.x are known; those later releases renamed or
    // removed are accepted with a warning saying which release did so.
    const unknown = Object.keys(query).filter((key) => !isRabbitOption(key));
    if (unknown.length > 0) throw unknownOptionsError(rabbitGroup, unknown, 'the transport URL query', `query:${unknown[0]}`);
    const options = resolveRabbitOptions(overrides);
    const given: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(query)) {
      given[key] = convertRabbitOption(key, value, `query:${key}`);
      const note = retiredOptionNote(rabbitGroup, key);
      if (note !== undefined) warnings.push(`transport URL query: ${note}`);
    }
    // The query wins over the caller's overrides, as in ConfigOptsProxy.
    Object.assign(options, given);
    syncRenamedRabbitOptions(options, given as Partial<RabbitOptions>);

    return new TransportURL({ driver, scheme: split.scheme, hosts, virtualHost, query, options, warnings });
  }

  /**
   * The URL as oslo's `TransportURL.__str__` writes it, with every password
   * replaced by `***`. This is the form that may be logged or shown.
   */
  toString(): string {
    const netlocs = this.hosts.map((host) => {
      let netloc = '';
      if (host.username !== undefined || host.password !== undefined) {
        if (host.username !== undefined) netloc += pyQuote(host.username, '');
        if (host.password !== undefined) netloc += `:${REDACTED}`;
        netloc += '@';
      }
      netloc += bracketed(host.hostname);
      if (host.port !== undefined) netloc += `:${host.port}`;
      return netloc;
    });
    let out = `${this.scheme}://${netlocs.join(',')}/`;
    if (this.virtualHost) out += pyQuote(this.virtualHost, '/');
    const query = Object.entries(this.query);
    if (query.length > 0) out += `?${query.map(([k, v]) => `${pyQuotePlus(k)}=${pyQuotePlus(v)}`).join('&')}`;
    return out;
  }

  /**
   * One AMQP endpoint per host, in URL order, as `impl_rabbit:Connection`
   * hands them to kombu (`_transform_transport_url`): port 5672, user and
   * password `guest` and vhost `/` when empty or absent; no hosts means
   * `localhost`. The order is left to the driver (oslo shuffles per
   * connection). The memory driver has no AMQP endpoints.
   *
   * Credentials and vhost are the decoded values, not kombu's re-reading of
   * the URL oslo builds: oslo leaves '/' unescaped in the password and the
   * vhost unescaped altogether, so kombu misreads a password with '/' and a
   * vhost with '%', '?', '#' or ';'.
   */
  amqpEndpoints(): AmqpEndpoint[] {
    if (this.driver !== 'rabbit') return [];
    const vhost = this.virtualHost || '/';
    const ssl = this.options.ssl;
    const hosts: readonly Readonly<TransportHost>[] = this.hosts.length > 0 ? this.hosts : [{ hostname: 'localhost' }];
    return hosts.map((host) => {
      const port = host.port ?? DEFAULT_AMQP_PORT;
      // kombu.utils.url.url_to_parts: unquote(urlparse(...).hostname), which is
      // lower-cased first; an empty name means localhost (`rabbit://:5673/`).
      const hostname = pyUnquote(host.hostname.toLowerCase()) || 'localhost';
      return {
        hostname,
        port,
        username: host.username || 'guest',
        password: host.password || 'guest',
        vhost,
        ssl,
        label: `${bracketed(hostname)}:${port}`,
      };
    });
  }

  /** `rabbit://host1:5672,host2:5672/vhost`: where this URL points, without credentials. */
  describe(): string {
    const labels =
      this.driver === 'rabbit'
        ? this.amqpEndpoints().map((e) => e.label)
        : this.hosts.map((h) => (h.port === undefined ? bracketed(h.hostname) : `${bracketed(h.hostname)}:${h.port}`));
    return `${this.driver}://${labels.join(',')}/${this.virtualHost ? pyQuote(this.virtualHost, '/') : ''}`;
  }

  /** JSON.stringify gets the redacted form, so a serialized config never carries a password. */
  toJSON(): string {
    return this.toString();
  }

  /** console.log / util.inspect show the redacted form too. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `TransportURL <${this.toString()}>`;
  }
}

// ---------------------------------------------------------------------------
// Hosts (transport.py:TransportURL.parse)

function parseHosts(netloc: string): { hosts: TransportHost[]; warnings: string[] } {
  const hosts: TransportHost[] = [];
  const withCredentials: string[] = [];
  const withoutCredentials: string[] = [];
  let index = 0;
  for (const item of netloc.split(',')) {
    if (item === '') continue;
    index += 1;
    const host = parseHost(item, index);
    if (host.username === undefined || host.password === undefined) withoutCredentials.push(host.hostname);
    else withCredentials.push(host.hostname);
    hosts.push(host);
  }
  const warnings: string[] = [];
  if (withCredentials.length > 0 && withoutCredentials.length > 0) {
    warnings.push(
      'All hosts must be set with username/password or not at the same time. ' +
        `Hosts with credentials are: ${withCredentials.join(', ')}. ` +
        `Hosts without credentials are ${withoutCredentials.join(', ')}.`,
    );
  }
  return { hosts, warnings };
}

function parseHost(item: string, index: number): TransportHost {
  let hostPort = item;
  let username: string | undefined;
  let password: string | undefined;

  // Credentials end at the *last* '@' (a user name may hold one); user and
  // password split at the *first* ':'.
  const at = item.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = item.slice(0, at);
    hostPort = item.slice(at + 1);
    const colon = userinfo.indexOf(':');
    if (colon >= 0) {
      username = pyUnquote(userinfo.slice(0, colon));
      password = pyUnquote(userinfo.slice(colon + 1));
    } else {
      username = pyUnquote(userinfo);
    }
  }

  // An empty host part becomes hostname None in oslo, which then fails with a
  // TypeError in impl_rabbit:Connection._transform_transport_url; refuse it up
  // front. (An empty name *with* a port, `:5672`, is '' in oslo and kombu
  // connects to localhost, so that one is kept.)
  if (hostPort === '') throw new ConfigError(`Host #${index} of the transport URL has no hostname`, 'host');

  let hostname: string;
  let portText: string | undefined;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0) throw new ConfigError(`Invalid IPv6 URL: host #${index} has no closing ']'`, 'host');
    hostname = hostPort.slice(1, close);
    const rest = hostPort.slice(close + 1);
    // urllib.parse._check_bracketed_netloc: only ':port' may follow the bracket.
    if (rest !== '' && !rest.startsWith(':')) {
      throw new ConfigError(`Invalid IPv6 URL: only ":port" may follow "]" in host #${index}`, 'host');
    }
    if (isIP(hostname) !== 6) {
      throw new ConfigError(`Invalid IPv6 URL: "${hostname}" in host #${index} is not an IPv6 address`, 'host');
    }
    if (rest !== '') portText = rest.slice(1);
  } else {
    // urlsplit refuses a ']' without '[' (and any bracket not at the start).
    if (/[[\]]/.test(hostPort)) throw new ConfigError(`Invalid IPv6 URL in host #${index}`, 'host');
    const colon = hostPort.indexOf(':');
    if (colon >= 0) {
      hostname = hostPort.slice(0, colon);
      portText = hostPort.slice(colon + 1);
    } else {
      hostname = hostPort;
    }
  }


  const host: TransportHost = { hostname };
  if (portText !== undefined && portText !== '') host.port = parsePort(portText, hostname, index);
  if (username !== undefined) host.username = username;
  if (password !== undefined) host.password = password;
  return host;
}

const PY_INT_RE = /^[\t\n\v\f\r\x1c-\x20]*([+-]?[0-9](?:_?[0-9])*)[\t\n\v\f\r\x1c-\x20]*$/;

/**
 * Python `int(port)` as oslo does, plus the range check oslo leaves to the
 * socket. The port text is not echoed: when a password holds an unencoded
 * '/', '?' or '#', what lands here is the start of that password.
 */
function parsePort(text: string, hostname: string, index: number): number {
  const digits = PY_INT_RE.exec(text)?.[1];
  const value = digits === undefined ? NaN : Number(digits.replaceAll('_', ''));
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new ConfigError(
      `Invalid port for host #${index} ("${hostname}") of the transport URL: expected an integer from 1 to 65535 ` +
        "(percent-encode '/', '?', '#', ',' and '@' in a password)",
      'port',
    );
  }
  return value;
}

function bracketed(hostname: string): string {
  return hostname.includes(':') ? `[${hostname}]` : hostname;
}

/** urllib.parse's quote and unquote as the URL uses them (server/messaging/urllib.ts). */
export { pyQuote, pyUnquote };
