import { describe, expect, it } from 'vitest';

import { ConfigError } from './errors.ts';
import {
  closeOptionNames,
  compareReleases,
  convertMessagingOption,
  convertOpt,
  convertRabbitOption,
  isRabbitOption,
  messagingDefaults,
  notificationDefaults,
  notificationOpts,
  optsAt,
  rabbitDefaults,
  rabbitGroup,
  rabbitOpts,
  resolveMessagingOptions,
  resolveRabbitOptions,
  retiredOptionNote,
  toBoolean,
  toFloat,
  toInteger,
  toList,
  toStr,
  unknownOptionsError,
  type RabbitOptions,
} from './options.ts';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

describe('rabbitDefaults', () => {
  it('has the 14.0.3 defaults the driver depends on', () => {
    const d = rabbitDefaults();
    expect(d).toMatchObject({
      heartbeat_timeout_threshold: 60,
      heartbeat_rate: 2,
      rabbit_transient_queues_ttl: 1800,
      amqp_durable_queues: false,
      amqp_auto_delete: false,
      rabbit_ha_queues: false,
      rabbit_quorum_queue: false,
      rabbit_quorum_delivery_limit: 0,
      rabbit_quroum_max_memory_length: 0,
      rabbit_quroum_max_memory_bytes: 0,
      rabbit_qos_prefetch_count: 0,
      rabbit_retry_interval: 1,
      rabbit_retry_backoff: 2,
      rabbit_interval_max: 30,
      kombu_reconnect_delay: 1.0,
      kombu_missing_consumer_retry_timeout: 60,
      kombu_failover_strategy: 'round-robin',
      kombu_compression: null,
      direct_mandatory_flag: true,
      enable_cancel_on_failover: false,
      ssl: false,
      ssl_ca_file: '',
      ssl_cert_file: '',
      ssl_key_file: '',
      ssl_version: '',
      rabbit_login_method: 'AMQPLAIN',
      rpc_conn_pool_size: 30,
      conn_pool_min_size: 2,
      conn_pool_ttl: 1200,
    });
  });

  it('holds one value per registered option and nothing else', () => {
    expect(Object.keys(rabbitDefaults()).sort()).toEqual(Object.keys(rabbitOpts).sort());
  });

  it('returns a fresh object each time', () => {
    const a = rabbitDefaults();
    a.ssl = true;
    expect(rabbitDefaults().ssl).toBe(false);
  });
});

describe('messagingDefaults', () => {
  it('has the [DEFAULT] values of 14.0.3', () => {
    expect(messagingDefaults()).toEqual({
      control_exchange: 'openstack',
      rpc_response_timeout: 60,
      executor_thread_pool_size: 64,
      rpc_ping_enabled: false,
    });
  });
});

describe('toBoolean (oslo_config types.Boolean)', () => {
  it.each(['true', 'TRUE', 'True', 'yes', 'YES', 'on', 'On', '1'])('%s is true', (text) => {
    expect(toBoolean(text)).toBe(true);
  });
  it.each(['false', 'FALSE', 'no', 'No', 'off', 'OFF', '0'])('%s is false', (text) => {
    expect(toBoolean(text)).toBe(false);
  });
  it.each(['', 'maybe', '2', 't', 'y', ' true', 'true ', '1,0'])('%j is refused', (text) => {
    expect(configError(() => toBoolean(text)).message).toContain('Unexpected boolean value');
  });
});

describe('toInteger (Python int() + bounds)', () => {
  it.each([
    ['10', 10],
    [' 10 ', 10],
    ['+10', 10],
    ['-5', -5],
    ['007', 7],
    ['1_000', 1000],
    ['\t42\n', 42],
  ])('%j is %d', (text, value) => {
    expect(toInteger(text)).toBe(value);
  });

  it.each(['', '   ', 'ten', '1.5', '1e3', '0x10', '1__0', '_1', '1_', '10abc', '99999999999999999999'])(
    '%j is refused',
    (text) => {
      configError(() => toInteger(text));
    },
  );

  it('applies min and max with oslo wording', () => {
    expect(toInteger('1', { min: 1 })).toBe(1);
    expect(configError(() => toInteger('0', { min: 1 })).message).toBe('Should be greater than or equal to 1');
    expect(configError(() => toInteger('11', { max: 10 })).message).toBe('Should be less than or equal to 10');
  });
});

describe('toFloat (Python float() + bounds)', () => {
  it.each([
    ['1', 1],
    ['1.5', 1.5],
    [' 2.25 ', 2.25],
    ['.5', 0.5],
    ['3.', 3],
    ['1e0', 1],
    ['4.5E-1', 0.45],
    ['1_0.5', 10.5],
    ['-0.0', -0],
    ['inf', Infinity],
    ['-Infinity', -Infinity],
  ])('%j is %d', (text, value) => {
    expect(toFloat(text)).toBe(value);
  });

  it.each(['', 'abc', '1.2.3', '0x1p3', '1e', 'nan', 'NaN', '-nan', '1._5'])('%j is refused', (text) => {
    configError(() => toFloat(text));
  });

  it('applies min and max', () => {
    expect(toFloat('4.5', { min: 0, max: 4.5 })).toBe(4.5);
    expect(configError(() => toFloat('4.6', { min: 0, max: 4.5 })).message).toBe('Should be less than or equal to 4.5');
    expect(configError(() => toFloat('-0.1', { min: 0, max: 4.5 })).message).toBe('Should be greater than or equal to 0');
    configError(() => toFloat('inf', { max: 4.5 }));
  });
});

describe('toStr (types.String with choices)', () => {
  it('keeps any text without choices', () => {
    expect(toStr(' gzip,bz2 ')).toBe(' gzip,bz2 ');
  });
  it('accepts exact choices only', () => {
    expect(toStr('shuffle', ['round-robin', 'shuffle'])).toBe('shuffle');
    expect(configError(() => toStr('Shuffle', ['round-robin', 'shuffle'])).message).toBe(
      "Valid values are [round-robin, shuffle], but found 'Shuffle'",
    );
  });
});

describe('convertRabbitOption', () => {
  it('converts by the option type', () => {
    expect(convertRabbitOption('ssl', 'on')).toBe(true);
    expect(convertRabbitOption('rpc_conn_pool_size', '10')).toBe(10);
    expect(convertRabbitOption('kombu_reconnect_delay', '2.5')).toBe(2.5);
    expect(convertRabbitOption('rabbit_login_method', 'PLAIN')).toBe('PLAIN');
    expect(convertRabbitOption('kombu_compression', 'gzip')).toBe('gzip');
  });

  it('names the option and the part in a bad-value failure', () => {
    const err = configError(() => convertRabbitOption('rabbit_transient_queues_ttl', '0', 'query:rabbit_transient_queues_ttl'));
    expect(err.part).toBe('query:rabbit_transient_queues_ttl');
    expect(err.message).toContain('rabbit_transient_queues_ttl');
    expect(err.message).toContain('greater than or equal to 1');
    expect(err.cause).toBeInstanceOf(ConfigError);
  });

  it('refuses unknown, [DEFAULT] and deprecated names like NoSuchOptError', () => {
    for (const name of ['bogus', 'control_exchange', 'rabbit_use_ssl', 'kombu_reconnect_timeout', 'toString', '__proto__']) {
      const err = configError(() => convertRabbitOption(name, '1'));
      expect(err.message).toBe(`no such option ${name} in group [oslo_messaging_rabbit]`);
      expect(err.part).toBe(`option:${name}`);
    }
  });

  it("knows 14.0.3's typo-ed quorum names and the 14.3.0 spelling", () => {
    expect(isRabbitOption('rabbit_quroum_max_memory_length')).toBe(true);
    expect(isRabbitOption('rabbit_quroum_max_memory_bytes')).toBe(true);
    expect(isRabbitOption('rabbit_quorum_max_memory_length')).toBe(true);
    expect(isRabbitOption('rabbit_quorum_max_memory_bytes')).toBe(true);
    expect(isRabbitOption('rabbit_quorum_queues')).toBe(false);
  });
});

describe('convertOpt', () => {
  it('dispatches on the definition type', () => {
    expect(convertOpt(rabbitOpts.amqp_durable_queues, 'yes')).toBe(true);
    expect(convertOpt(rabbitOpts.heartbeat_rate, '-5')).toBe(-5);
    expect(() => convertOpt(rabbitOpts.kombu_failover_strategy, 'random')).toThrow(ConfigError);
  });
});

describe('resolveRabbitOptions', () => {
  it('applies valid typed overrides on top of the defaults', () => {
    const o = resolveRabbitOptions({ ssl: true, rpc_conn_pool_size: 5, kombu_compression: 'gzip' });
    expect(o.ssl).toBe(true);
    expect(o.rpc_conn_pool_size).toBe(5);
    expect(o.kombu_compression).toBe('gzip');
    expect(o.heartbeat_timeout_threshold).toBe(60);
  });

  it('accepts null for an option whose oslo default is None', () => {
    expect(resolveRabbitOptions({ kombu_compression: null }).kombu_compression).toBeNull();
  });

  it('refuses overrides of the wrong type, out of bounds or off the choices', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ssl: 'yes' }, 'ssl'],
      [{ rpc_conn_pool_size: 0 }, 'rpc_conn_pool_size'],
      [{ rpc_conn_pool_size: 1.5 }, 'rpc_conn_pool_size'],
      [{ kombu_reconnect_delay: 5 }, 'kombu_reconnect_delay'],
      [{ kombu_reconnect_delay: NaN }, 'kombu_reconnect_delay'],
      [{ kombu_failover_strategy: 'random' }, 'kombu_failover_strategy'],
      [{ ssl_ca_file: null }, 'ssl_ca_file'],
      [{ bogus: 1 }, 'bogus'],
    ];
    for (const [overrides, name] of cases) {
      const err = configError(() => resolveRabbitOptions(overrides as Partial<RabbitOptions>));
      expect(err.part).toBe(`option:${name}`);
      expect(err.message).toContain(name);
    }
  });
});

describe('[DEFAULT] options', () => {
  it('converts and resolves like the rabbit group', () => {
    expect(convertMessagingOption('rpc_response_timeout', '30')).toBe(30);
    expect(convertMessagingOption('rpc_ping_enabled', 'true')).toBe(true);
    expect(convertMessagingOption('control_exchange', 'nova')).toBe('nova');
    expect(resolveMessagingOptions({ control_exchange: 'neutron' }).control_exchange).toBe('neutron');
    expect(configError(() => convertMessagingOption('ssl', '1')).message).toBe('no such option ssl in group [DEFAULT]');
    expect(configError(() => resolveMessagingOptions({ rpc_response_timeout: 'soon' } as never)).part).toBe(
      'option:rpc_response_timeout',
    );
  });
});

describe('registry across releases (optsAt)', () => {
  it('adds the 14.7.0 layout options and the 16.1.0 splay where oslo did', () => {
    const at = (v: string) => optsAt(rabbitGroup, v);
    for (const name of ['rabbit_transient_quorum_queue', 'rabbit_stream_fanout', 'use_queue_manager', 'hostname', 'processname']) {
      expect(at('14.6.0')[name], `${name} at 14.6.0`).toBeUndefined();
      expect(at('14.7.0')[name], `${name} at 14.7.0`).toBeDefined();
    }
    expect(at('16.0.0').kombu_reconnect_splay).toBeUndefined();
    expect(at('16.1.0').kombu_reconnect_splay).toMatchObject({ type: 'float', default: 0, min: 0 });
  });

  it('retires heartbeat_in_pthread in 18.0.0 and the quroum typo names in 14.3.0', () => {
    expect(optsAt(rabbitGroup, '17.3.0').heartbeat_in_pthread).toMatchObject({ deprecatedForRemoval: true });
    expect(optsAt(rabbitGroup, '18.0.0').heartbeat_in_pthread).toBeUndefined();
    expect(optsAt(rabbitGroup, '14.2.0').rabbit_quroum_max_memory_length).toBeDefined();
    expect(optsAt(rabbitGroup, '14.3.0').rabbit_quroum_max_memory_length).toBeUndefined();
    expect(optsAt(rabbitGroup, '16.1.0').rabbit_quorum_max_memory_length?.deprecatedNames).toEqual([
      { group: null, name: 'rabbit_quroum_max_memory_length' },
    ]);
    expect(optsAt(rabbitGroup, '17.0.0').rabbit_quorum_max_memory_length?.deprecatedNames).toBeUndefined();
  });

  it('applies later changes of defaults and bounds in order', () => {
    expect(optsAt(rabbitGroup, '14.4.0').heartbeat_rate.default).toBe(2);
    expect(optsAt(rabbitGroup, '14.5.0').heartbeat_rate.default).toBe(3);
    expect(optsAt(rabbitGroup, '14.1.0').kombu_reconnect_delay).not.toHaveProperty('max');
    expect(optsAt(rabbitGroup, '14.4.0').kombu_reconnect_delay).toMatchObject({ min: 0, max: 4.5 });
    expect(optsAt(rabbitGroup, '18.1.0').ssl_enforce_hostname_verification).toMatchObject({ default: true, deprecatedForRemoval: true });
    expect(optsAt(rabbitGroup, '14.0.3').ssl_enforce_hostname_verification).toMatchObject({ default: false });
    expect(optsAt(rabbitGroup, '17.3.0').ssl_enforce_hostname_verification).toBeUndefined();
  });

  it('compares releases numerically', () => {
    expect(compareReleases('14.10.0', '14.9.0')).toBeGreaterThan(0);
    expect(compareReleases('18.1', '18.1.0')).toBe(0);
    expect(compareReleases('14.0.3', '16.0.0')).toBeLessThan(0);
  });
});

describe('retired options, renamed options and close matches', () => {
  it('says which release removed or renamed an option', () => {
    expect(retiredOptionNote(rabbitGroup, 'heartbeat_in_pthread')).toContain('removed in oslo.messaging 18.0.0');
    expect(retiredOptionNote(rabbitGroup, 'rabbit_quroum_max_memory_bytes')).toMatch(/renamed rabbit_quorum_max_memory_bytes in oslo.messaging 14.3.0.*17.0.0/);
    expect(retiredOptionNote(rabbitGroup, 'rabbit_quorum_queue')).toBeUndefined();
  });

  it('keeps both spellings of a renamed option equal, the new one winning', () => {
    expect(resolveRabbitOptions({ rabbit_quroum_max_memory_length: 7 })).toMatchObject({
      rabbit_quroum_max_memory_length: 7,
      rabbit_quorum_max_memory_length: 7,
    });
    expect(resolveRabbitOptions({ rabbit_quroum_max_memory_bytes: 1, rabbit_quorum_max_memory_bytes: 2 })).toMatchObject({
      rabbit_quroum_max_memory_bytes: 2,
      rabbit_quorum_max_memory_bytes: 2,
    });
  });

  it('suggests the option a typo was meant to be', () => {
    expect(closeOptionNames(rabbitGroup, 'rabbit_quorum_queues')[0]).toBe('rabbit_quorum_queue');
    expect(closeOptionNames(rabbitGroup, 'use_queue_manger')).toContain('use_queue_manager');
    expect(closeOptionNames(rabbitGroup, 'kombu_ssl_keyfil')).toContain('ssl_key_file');
    expect(closeOptionNames(rabbitGroup, 'completely_unrelated')).toEqual([]);
  });

  it('names every unknown option in one error, oslo wording first', () => {
    const err = unknownOptionsError(rabbitGroup, ['rabbit_quorum_queues', 'rabbit_use_ssl', 'zzz'], 'the transport URL query', 'query:rabbit_quorum_queues');
    expect(err.message).toMatch(/^no such option rabbit_quorum_queues in group \[oslo_messaging_rabbit\]/);
    expect(err.message).toContain('did you mean rabbit_quorum_queue');
    expect(err.message).toContain('rabbit_use_ssl (an old name of ssl');
    expect(err.message).toContain('zzz');
    expect(err.part).toBe('query:rabbit_quorum_queues');
  });
});

describe('[oslo_messaging_notifications] and list values', () => {
  it("has notifier.py's defaults", () => {
    expect(notificationDefaults()).toEqual({ driver: [], transport_url: null, topics: ['notifications'], retry: -1 });
    expect(notificationOpts.transport_url.secret).toBe(true);
  });

  it('splits a ListOpt like types.List', () => {
    expect(toList(' a , b,,c ,,')).toEqual(['a', 'b', '', 'c']);
    expect(toList('  ')).toEqual([]);
    expect(toList(',')).toEqual([]);
    expect(toList('notifications')).toEqual(['notifications']);
  });
});
