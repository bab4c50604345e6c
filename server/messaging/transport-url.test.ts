import { inspect } from 'node:util';

import { describe, expect, it } from 'vitest';

import { ConfigError } from './errors.ts';
import { rabbitDefaults } from './options.ts';
import { TransportURL, pyQuote, pyUnquote } from './transport-url.ts';

function parseError(url: string, overrides = {}): ConfigError {
  try {
    TransportURL.parse(url, overrides);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected ${JSON.stringify(url)} to be refused`);
}

describe('TransportURL.parse: scheme and driver', () => {
  it.each([
    ['rabbit://h/', 'rabbit'],
    ['kombu://h/', 'rabbit'],
    ['RABBIT://h/', 'rabbit'],
    ['memory://', 'memory'],
    ['fake://', 'memory'],
    ['kombu+memory:////', 'memory'],
  ] as const)('%s uses the %s driver', (url, driver) => {
    expect(TransportURL.parse(url).driver).toBe(driver);
  });

  it('keeps the scheme as written, lower-cased', () => {
    expect(TransportURL.parse('Kombu://h/').scheme).toBe('kombu');
    expect(TransportURL.parse('kombu+memory:////').scheme).toBe('kombu+memory');
  });

  it.each(['kafka://h/', 'amqp://h/', 'amqps://h/', 'foo://h/', 'rabbit+amqp://h/', 'constructor://h/', 'tostring://h/'])('%s names the unsupported driver', (url) => {
    const err = parseError(url);
    expect(err.part).toBe('scheme');
    expect(err.message).toContain(`"${url.slice(0, url.indexOf(':'))}"`);
  });

  it.each(['', '//h/', 'h:5672', '1rabbit://h/', ' ://h'])('%j has no usable scheme', (url) => {
    expect(parseError(url).part).toBe('scheme');
  });

  it('ignores leading control characters and embedded tabs/newlines like urlsplit', () => {
    const url = TransportURL.parse(' \x00rab\tbit://h\n1:5672/');
    expect(url.scheme).toBe('rabbit');
    expect(url.hosts).toEqual([{ hostname: 'h1', port: 5672 }]);
  });

  it('refuses a non-string', () => {
    expect(parseError(undefined as unknown as string).part).toBe('url');
  });
});

describe('TransportURL.parse: hosts', () => {
  it('reads several hosts, each with its own credentials', () => {
    const url = TransportURL.parse('rabbit://u1:p1@h1:5672,u2:p2@h2:5673,h3/');
    expect(url.hosts).toEqual([
      { hostname: 'h1', port: 5672, username: 'u1', password: 'p1' },
      { hostname: 'h2', port: 5673, username: 'u2', password: 'p2' },
      { hostname: 'h3' },
    ]);
    expect(url.warnings).toHaveLength(1);
    expect(url.warnings[0]).toContain('h3');
  });

  it('skips empty items of the host list', () => {
    expect(TransportURL.parse('rabbit://,h1,,h2,/').hosts).toEqual([{ hostname: 'h1' }, { hostname: 'h2' }]);
  });

  it('splits credentials at the last @ and user/password at the first :', () => {
    expect(TransportURL.parse('rabbit://us@er:p@ss:wo:rd@h/').hosts[0]).toEqual({
      hostname: 'h',
      username: 'us@er',
      password: 'p@ss:wo:rd',
    });
  });

  it('percent-decodes user and password, not the hostname', () => {
    expect(TransportURL.parse('rabbit://us%3Aer:p%2F%40%3A%25%2C@h%41/').hosts[0]).toEqual({
      hostname: 'h%41',
      username: 'us:er',
      password: 'p/@:%,',
    });
  });

  it('tells an absent password from an empty one', () => {
    expect(TransportURL.parse('rabbit://u@h/').hosts[0]).toEqual({ hostname: 'h', username: 'u' });
    expect(TransportURL.parse('rabbit://u:@h/').hosts[0]).toEqual({ hostname: 'h', username: 'u', password: '' });
    expect(TransportURL.parse('rabbit://:p@h/').hosts[0]).toEqual({ hostname: 'h', username: '', password: 'p' });
  });

  it('reads [v6]:port and [v6]', () => {
    expect(TransportURL.parse('rabbit://u:p@[::1]:5673,[fe80::1]/').hosts).toEqual([
      { hostname: '::1', port: 5673, username: 'u', password: 'p' },
      { hostname: 'fe80::1' },
    ]);
  });

  it.each(['rabbit://[::1/', 'rabbit://::1]/', 'rabbit://[::1]x:5672/', 'rabbit://[not-v6]:5672/', 'rabbit://[10.0.0.1]/', 'rabbit://h[1]/'])(
    '%s is an invalid IPv6 host',
    (url) => {
      expect(parseError(url).part).toBe('host');
    },
  );

  it('treats an empty port as none', () => {
    expect(TransportURL.parse('rabbit://h:/').hosts[0]).toEqual({ hostname: 'h' });
    expect(TransportURL.parse('rabbit://[::1]:/').hosts[0]).toEqual({ hostname: '::1' });
  });

  it('reads the port like Python int()', () => {
    expect(TransportURL.parse('rabbit://h:+5_672/').hosts[0].port).toBe(5672);
    expect(TransportURL.parse('rabbit://h:1/').hosts[0].port).toBe(1);
    expect(TransportURL.parse('rabbit://h:65535/').hosts[0].port).toBe(65535);
  });

  it.each(['rabbit://h:0/', 'rabbit://h:65536/', 'rabbit://h:-1/', 'rabbit://h:abc/', 'rabbit://h:56 72/', 'rabbit://h:1.5/'])(
    '%s has a bad port',
    (url) => {
      expect(parseError(url).part).toBe('port');
    },
  );

  it('refuses a host entry with nothing after the credentials', () => {
    expect(parseError('rabbit://u:p@/').part).toBe('host');
    expect(parseError('rabbit://h1,u:p@/').message).toContain('#2');
  });

  it('keeps an empty hostname with a port (kombu connects to localhost)', () => {
    const url = TransportURL.parse('rabbit://:5673/');
    expect(url.hosts).toEqual([{ hostname: '', port: 5673 }]);
    expect(url.amqpEndpoints()[0]).toMatchObject({ hostname: 'localhost', port: 5673, label: 'localhost:5673' });
  });

  it('has no hosts for rabbit:// (localhost in the endpoints)', () => {
    expect(TransportURL.parse('rabbit://').hosts).toEqual([]);
  });

  it('refuses netloc characters that NFKC-normalize into delimiters', () => {
    // U+FF03 FULLWIDTH NUMBER SIGN normalizes to '#'
    expect(parseError('rabbit://h\uff03x/').part).toBe('host');
  });
});

describe('TransportURL.parse: virtual host', () => {
  it.each([
    ['rabbit://h', null],
    ['rabbit://h?ssl=1', null],
    ['rabbit://h/', ''],
    ['rabbit://h//', '/'],
    ['rabbit://h/vh', 'vh'],
    ['rabbit://h/%2Fvh', '/vh'],
    ['rabbit://h/a/b', 'a/b'],
    ['rabbit://h/v%20h%C3%A9', 'v hé'],
    ['rabbit://h/%zz%4', '%zz%4'],
    ['rabbit://h/%C3%28', '\ufffd('],
    ['rabbit://h/vh#frag', 'vh'],
    ['rabbit:///vh', 'vh'],
    ['kombu+memory:////', '/'],
  ])('%s has virtual host %j', (url, vhost) => {
    expect(TransportURL.parse(url).virtualHost).toBe(vhost);
  });

  it("refuses a literal '@' in the path (an unencoded '/' in a password)", () => {
    const err = parseError('rabbit://guest:/s3cret@h/');
    expect(err.part).toBe('vhost');
    expect(err.message).not.toContain('s3cret');
    expect(TransportURL.parse('rabbit://h/a%40b').virtualHost).toBe('a@b');
  });
});

describe('TransportURL.parse: query', () => {
  it('parses like parse_qs and joins repeated keys with ","', () => {
    const url = TransportURL.parse('rabbit://h/?kombu_compression=gzip&kombu_compression=bz2&ssl=1');
    expect(url.query).toEqual({ kombu_compression: 'gzip,bz2', ssl: '1' });
    expect(url.options.kombu_compression).toBe('gzip,bz2');
  });

  it('drops blank values and fields without "=", decodes + and %XX', () => {
    const url = TransportURL.parse('rabbit://h/?ssl=&bogus&&rabbit_qos_prefetch_count=+1%30');
    expect(url.query).toEqual({ rabbit_qos_prefetch_count: ' 10' });
    expect(url.options.rabbit_qos_prefetch_count).toBe(10);
  });

  it('applies query values over defaults, converted by type', () => {
    const url = TransportURL.parse(
      'rabbit://h/?ssl=1&heartbeat_timeout_threshold=30&rpc_conn_pool_size=10&amqp_durable_queues=TRUE&kombu_reconnect_delay=2.5',
    );
    expect(url.options).toEqual({
      ...rabbitDefaults(),
      ssl: true,
      heartbeat_timeout_threshold: 30,
      rpc_conn_pool_size: 10,
      amqp_durable_queues: true,
      kombu_reconnect_delay: 2.5,
    });
  });

  it('lets the query win over caller overrides, which win over defaults', () => {
    const url = TransportURL.parse('rabbit://h/?heartbeat_timeout_threshold=30', {
      heartbeat_timeout_threshold: 10,
      rabbit_qos_prefetch_count: 5,
    });
    expect(url.options.heartbeat_timeout_threshold).toBe(30);
    expect(url.options.rabbit_qos_prefetch_count).toBe(5);
    expect(url.options.rpc_conn_pool_size).toBe(30);
  });

  it('refuses bad overrides', () => {
    expect(parseError('rabbit://h/', { rpc_conn_pool_size: 0 }).part).toBe('option:rpc_conn_pool_size');
  });

  it.each([
    ['rabbit://h/?bogus=1', 'bogus'],
    ['rabbit://h/?ssl=maybe', 'ssl'],
    ['rabbit://h/?ssl=1&ssl=0', 'ssl'],
    ['rabbit://h/?amqp_auto_delete=2', 'amqp_auto_delete'],
    ['rabbit://h/?rabbit_transient_queues_ttl=0', 'rabbit_transient_queues_ttl'],
    ['rabbit://h/?kombu_failover_strategy=Shuffle', 'kombu_failover_strategy'],
    ['rabbit://h/?kombu_reconnect_delay=4.6', 'kombu_reconnect_delay'],
    ['rabbit://h/?kombu_reconnect_delay=nan', 'kombu_reconnect_delay'],
    ['rabbit://h/?rpc_conn_pool_size=+', 'rpc_conn_pool_size'],
    ['rabbit://h/?control_exchange=nova', 'control_exchange'],
    ['rabbit://h/?rabbit_use_ssl=1', 'rabbit_use_ssl'],
    ['rabbit://h/?__proto__=1', '__proto__'],
    ['rabbit://h/?ssl=1&bogus%5Fkey=1', 'bogus_key'],
  ])('%s is refused naming %s', (url, key) => {
    const err = parseError(url);
    expect(err.part).toBe(`query:${key}`);
    expect(err.message).toContain(key);
  });

  it('knows the options of every release 14.0.3-18.x (kolla 2025.1 layout)', () => {
    const url = TransportURL.parse(
      'rabbit://h/?rabbit_quorum_queue=true&rabbit_transient_quorum_queue=true&rabbit_stream_fanout=true&use_queue_manager=true&rabbit_qos_prefetch_count=1&kombu_reconnect_splay=0.5&hostname=ctl1&processname=nova-api',
    );
    expect(url.options).toMatchObject({
      rabbit_transient_quorum_queue: true,
      rabbit_stream_fanout: true,
      use_queue_manager: true,
      kombu_reconnect_splay: 0.5,
      hostname: 'ctl1',
      processname: 'nova-api',
    });
    expect(url.warnings).toEqual([]);
  });

  it('names every unknown query option with close matches', () => {
    const err = parseError('rabbit://h/?rabbit_quorum_queues=true&use_queue_manger=1&ssl=1');
    expect(err.part).toBe('query:rabbit_quorum_queues');
    expect(err.message).toMatch(/^no such option rabbit_quorum_queues in group \[oslo_messaging_rabbit\]/);
    expect(err.message).toContain('rabbit_quorum_queues (did you mean rabbit_quorum_queue?)');
    expect(err.message).toContain('use_queue_manger (did you mean use_queue_manager?)');
  });

  it('accepts retired options with a warning naming the release', () => {
    const url = TransportURL.parse('rabbit://h/?heartbeat_in_pthread=true&rabbit_quroum_max_memory_length=5');
    expect(url.options.heartbeat_in_pthread).toBe(true);
    expect(url.options.rabbit_quorum_max_memory_length).toBe(5);
    expect(url.warnings.join('\n')).toContain('heartbeat_in_pthread was removed in oslo.messaging 18.0.0');
    expect(url.warnings.join('\n')).toContain('rabbit_quroum_max_memory_length was renamed rabbit_quorum_max_memory_length');
  });

  it('lets the query win over overrides for both spellings of a renamed option', () => {
    const url = TransportURL.parse('rabbit://h/?rabbit_quroum_max_memory_bytes=9', { rabbit_quorum_max_memory_bytes: 1 });
    expect(url.options.rabbit_quorum_max_memory_bytes).toBe(9);
    expect(url.options.rabbit_quroum_max_memory_bytes).toBe(9);
  });

  it('checks hosts before the query, so an unencoded "?" in a password fails on the host', () => {
    const err = parseError('rabbit://user:Zq9?ss@h/');
    expect(err.part).toBe('port');
    expect(err.message).not.toContain('Zq9');
  });
});

describe('amqpEndpoints', () => {
  it('fills kombu defaults per host, in URL order', () => {
    const url = TransportURL.parse('rabbit://u:p@h1:5673,u2:p%40ss@h2,h3//?ssl=1');
    expect(url.amqpEndpoints()).toEqual([
      { hostname: 'h1', port: 5673, username: 'u', password: 'p', vhost: '/', ssl: true, label: 'h1:5673' },
      { hostname: 'h2', port: 5672, username: 'u2', password: 'p@ss', vhost: '/', ssl: true, label: 'h2:5672' },
      { hostname: 'h3', port: 5672, username: 'guest', password: 'guest', vhost: '/', ssl: true, label: 'h3:5672' },
    ]);
  });

  it('maps rabbit:// to localhost guest/guest', () => {
    expect(TransportURL.parse('rabbit://').amqpEndpoints()).toEqual([
      { hostname: 'localhost', port: 5672, username: 'guest', password: 'guest', vhost: '/', ssl: false, label: 'localhost:5672' },
    ]);
  });

  it("turns an empty or absent vhost into '/' and keeps others", () => {
    expect(TransportURL.parse('rabbit://h').amqpEndpoints()[0].vhost).toBe('/');
    expect(TransportURL.parse('rabbit://h/').amqpEndpoints()[0].vhost).toBe('/');
    expect(TransportURL.parse('rabbit://h/nova').amqpEndpoints()[0].vhost).toBe('nova');
    expect(TransportURL.parse('rabbit://h/%2Fvh').amqpEndpoints()[0].vhost).toBe('/vh');
  });

  it('uses guest for an empty user or password, as kombu does', () => {
    expect(TransportURL.parse('rabbit://u@h/').amqpEndpoints()[0]).toMatchObject({ username: 'u', password: 'guest' });
    expect(TransportURL.parse('rabbit://:@h/').amqpEndpoints()[0]).toMatchObject({ username: 'guest', password: 'guest' });
  });

  it('brackets v6 addresses in the label only', () => {
    expect(TransportURL.parse('rabbit://[::1]:5673/').amqpEndpoints()[0]).toMatchObject({ hostname: '::1', label: '[::1]:5673' });
  });

  it('is empty for the memory driver', () => {
    expect(TransportURL.parse('fake://').amqpEndpoints()).toEqual([]);
  });
});

describe('redaction', () => {
  const secret = 'S3cr3t-pw';
  const url = TransportURL.parse(`rabbit://alice:${secret}@h1:5672,bob:${secret}%2F%40x@[::1]:5673,carol@h3/%2Fvh?ssl=1`);

  it('toString writes the URL as oslo does, with *** for every password', () => {
    expect(url.toString()).toBe('rabbit://alice:***@h1:5672,bob:***@[::1]:5673,carol@h3//vh?ssl=1');
  });

  it('keeps an empty password hidden too', () => {
    expect(TransportURL.parse('rabbit://u:@h/').toString()).toBe('rabbit://u:***@h/');
  });

  it('quotes user names, vhost and query like urllib', () => {
    expect(TransportURL.parse('rabbit://a%20b%2Fc@h/v%20h?kombu_compression=a+b').toString()).toBe(
      'rabbit://a%20b%2Fc@h/v%20h?kombu_compression=a+b',
    );
  });

  it('describe() gives hosts with ports and the vhost, no credentials', () => {
    expect(url.describe()).toBe('rabbit://h1:5672,[::1]:5673,h3:5672//vh');
    expect(TransportURL.parse('rabbit://').describe()).toBe('rabbit://localhost:5672/');
    expect(TransportURL.parse('kombu://u:p@h/nova').describe()).toBe('rabbit://h:5672/nova');
    expect(TransportURL.parse('fake://').describe()).toBe('memory:///');
  });

  it('never shows a password in String(), JSON, inspect or describe', () => {
    for (const text of [String(url), `${url}`, JSON.stringify({ url }), inspect(url), inspect({ nested: url }), url.describe()]) {
      expect(text).not.toContain(secret);
    }
  });

  it('never shows a password in error messages', () => {
    const bad = [
      `rabbit://u:${secret}@h:99999/`,
      `rabbit://u:${secret}@h:x/`,
      `rabbit://u:${secret}@h/?bogus=1`,
      `rabbit://u:${secret}@h/?ssl=nope`,
      `rabbit://u:${secret}@[::1/`,
      `rabbit://u:${secret}@/`,
      `rabbit://u:/${secret}@h/`,
      `rabbit://u:${secret}#x@h/`,
      `kafka://u:${secret}@h/`,
      `u:${secret}@h`,
    ];
    for (const text of bad) {
      const err = parseError(text);
      expect(err.message, text).not.toContain(secret);
      expect(String(err.part), text).not.toContain(secret);
    }
  });

  it('cannot be changed after parsing', () => {
    expect(Object.isFrozen(url.hosts[0])).toBe(true);
    expect(Object.isFrozen(url.options)).toBe(true);
    expect(Object.isFrozen(url.query)).toBe(true);
  });
});

describe('pyUnquote / pyQuote (urllib.parse)', () => {
  it('decodes like unquote(errors="replace")', () => {
    expect(pyUnquote('a%2Fb%40c')).toBe('a/b@c');
    expect(pyUnquote('%E2%82%AC')).toBe('€');
    expect(pyUnquote('%e2%82%ac')).toBe('€');
    expect(pyUnquote('%E2%82')).toBe('\ufffd');
    expect(pyUnquote('%FF%41')).toBe('\ufffdA');
    expect(pyUnquote('%EF%BB%BFx')).toBe('\ufeffx');
    expect(pyUnquote('100%')).toBe('100%');
    expect(pyUnquote('%G1%4')).toBe('%G1%4');
    expect(pyUnquote('é%41')).toBe('éA');
    // bytes on either side of a non-ASCII character are decoded separately
    expect(pyUnquote('%C3é%A9')).toBe('\ufffdé\ufffd');
  });

  it('encodes like quote(safe)', () => {
    expect(pyQuote('a b/c~d_e.f-g')).toBe('a%20b/c~d_e.f-g');
    expect(pyQuote('a/b', '')).toBe('a%2Fb');
    expect(pyQuote("!'()*é")).toBe('%21%27%28%29%2A%C3%A9');
  });
});
