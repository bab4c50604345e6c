import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from './messaging/index.ts';
import { CONFIG_VARIABLES, isLoopback, loadConfig, describeConfig } from './config.ts';

const HASH = 'scrypt$AAAAAAAAAAAAAAAAAAAAAA$BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';

function problems(env: Record<string, string>): readonly { variable: string; problem: string }[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('defaults to the embedded demo on 127.0.0.1:3000', () => {
    const c = loadConfig({});
    expect(c.embedded).toBe(true);
    expect(c.demoFleet).toBe(true);
    expect(c.transportUrl.driver).toBe('memory');
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(3000);
    expect(c.tapMode).toBe('auto');
    expect(c.controlExchange).toBe('openstack');
    expect(c.controlExchanges).toContain('openstack');
    expect(c.controlExchanges).toContain('nova');
    expect(c.rpcResponseTimeout).toBe(60);
    expect(c.rpcConnPoolSize).toBe(30);
    expect(c.auth.enabled).toBe(false);
    expect(c.readOnly).toBe(false);
    expect(c.auditLog).toBe('.data/audit.log');
    expect(c.realtimeBatchMs).toBe(250);
  });

  it('turns the demo fleet off for a real broker unless asked for', () => {
    const c = loadConfig({ TRANSPORT_URL: 'rabbit://nova:s3cret@ctl1:5672,nova:s3cret@ctl2:5672/nova' });
    expect(c.embedded).toBe(false);
    expect(c.demoFleet).toBe(false);
    expect(loadConfig({ TRANSPORT_URL: 'rabbit://h/', DEMO_FLEET: 'on' }).demoFleet).toBe(true);
    expect(loadConfig({ DEMO_FLEET: 'off' }).demoFleet).toBe(false);
  });

  it('treats empty variables as unset', () => {
    const c = loadConfig({ TRANSPORT_URL: '', PORT: ' ', HOST: '' });
    expect(c.embedded).toBe(true);
    expect(c.port).toBe(3000);
  });

  it('parses every value it is given', () => {
    const c = loadConfig({
      CONTROL_EXCHANGE: 'nova',
      CONTROL_EXCHANGES: 'neutron, cinder',
      TAP_MODE: 'firehose',
      RABBITMQ_MANAGEMENT_URL: 'http://admin:p%40ss@rmq:15672/',
      PORT: '8080',
      RPC_RESPONSE_TIMEOUT: '30',
      RPC_CONN_POOL_SIZE: '10',
      READ_ONLY: 'yes',
      LOG_LEVEL: 'debug',
      REALTIME_BATCH_MS: '500',
      ALLOWED_ORIGINS: 'https://scope.example.com/some/path',
    });
    expect(c.controlExchanges).toEqual(['nova', 'neutron', 'cinder']);
    expect(c.tapMode).toBe('firehose');
    expect(c.management).toEqual({ url: 'http://rmq:15672', username: 'admin', password: 'p@ss', href: 'http://admin:p%40ss@rmq:15672/' });
    expect(c.port).toBe(8080);
    expect(c.rpcResponseTimeout).toBe(30);
    expect(c.rpcConnPoolSize).toBe(10);
    expect(c.readOnly).toBe(true);
    expect(c.logLevel).toBe('debug');
    expect(c.realtimeBatchMs).toBe(500);
    expect(c.allowedOrigins).toEqual(['https://scope.example.com']);
  });

  it('names every bad variable and its problem at once', () => {
    const p = problems({ PORT: 'eighty', TAP_MODE: 'sniff', RPC_RESPONSE_TIMEOUT: '0', READ_ONLY: 'maybe', LOG_LEVEL: 'loud' });
    const by = Object.fromEntries(p.map((x) => [x.variable, x.problem]));
    expect(Object.keys(by).sort()).toEqual(['LOG_LEVEL', 'PORT', 'READ_ONLY', 'RPC_RESPONSE_TIMEOUT', 'TAP_MODE']);
    expect(by.PORT).toMatch(/whole number between 0 and 65535.*"eighty"/);
    expect(by.TAP_MODE).toMatch(/auto, bindings, firehose, off/);
    expect(by.RPC_RESPONSE_TIMEOUT).toMatch(/between 1 and/);
    expect(by.READ_ONLY).toMatch(/1 or 0/);
  });

  it('explains a bad transport URL without echoing its password', () => {
    const p = problems({ TRANSPORT_URL: 'kafka://user:hunter2@host:9092/' });
    expect(p).toHaveLength(1);
    expect(p[0].variable).toBe('TRANSPORT_URL');
    expect(p[0].problem).not.toContain('hunter2');
    const q = problems({ TRANSPORT_URL: 'rabbit://u:hunter2@host:99999/' });
    expect(q[0].variable).toBe('TRANSPORT_URL');
    expect(JSON.stringify(q)).not.toContain('hunter2');
  });

  it('refuses a non-loopback address without access control', () => {
    const p = problems({ HOST: '0.0.0.0' });
    expect(p).toEqual([{ variable: 'HOST', problem: expect.stringMatching(/refusing to listen on 0\.0\.0\.0 without access control: set AUTH_USERS and SESSION_SECRET/) }]);
    expect(problems({ HOST: '::' })[0].variable).toBe('HOST');
    expect(problems({ HOST: 'example.com' })[0].problem).toMatch(/IP address/);
  });

  it('listens anywhere once access control is configured', () => {
    const c = loadConfig({ HOST: '0.0.0.0', AUTH_USERS: `alice:operator:${HASH},bob:viewer:${HASH}`, SESSION_SECRET: 'x'.repeat(32) });
    expect(c.auth.enabled).toBe(true);
    expect(c.auth.users.map((u) => `${u.name}:${u.role}`)).toEqual(['alice:operator', 'bob:viewer']);
  });

  it('checks the access-control settings', () => {
    expect(problems({ AUTH_USERS: `alice:operator:${HASH}` })).toEqual([{ variable: 'SESSION_SECRET', problem: expect.stringMatching(/at least 32 characters/) }]);
    const bad = problems({ AUTH_USERS: 'alice:admin:plaintext', SESSION_SECRET: 'x'.repeat(40) });
    expect(bad[0].variable).toBe('AUTH_USERS');
    expect(bad[0].problem).toMatch(/role must be viewer or operator/);
    expect(bad[0].problem).not.toContain('plaintext');
    expect(problems({ AUTH_USERS: 'alice:viewer:plaintext', SESSION_SECRET: 'x'.repeat(40) })[0].problem).toMatch(/scrypt hash/);
  });

  it('never shows secrets when described for logs', () => {
    const c = loadConfig({
      TRANSPORT_URL: 'rabbit://nova:s3cret@ctl1:5672/',
      RABBITMQ_MANAGEMENT_URL: 'http://admin:m4nage@ctl1:15672',
      AUTH_USERS: `alice:operator:${HASH}`,
      SESSION_SECRET: 'y'.repeat(32),
    });
    const text = JSON.stringify(describeConfig(c));
    expect(text).toContain('rabbit://nova:***@ctl1:5672/');
    for (const secret of ['s3cret', 'm4nage', HASH, 'yyyyyyyy']) expect(text).not.toContain(secret);
  });

  it('FIREHOSE_ENABLE and FIREHOSE_AUTO_OFF: off by default, a bad value names the variable', () => {
    expect(loadConfig({})).toMatchObject({ firehoseEnable: false, firehoseAutoOff: 0 });
    expect(loadConfig({ FIREHOSE_ENABLE: 'yes', FIREHOSE_AUTO_OFF: '900' })).toMatchObject({ firehoseEnable: true, firehoseAutoOff: 900 });
    expect(() => loadConfig({ FIREHOSE_AUTO_OFF: '-5' })).toThrow(/FIREHOSE_AUTO_OFF: expected a whole number between 0 and 604800/);
    expect(() => loadConfig({ FIREHOSE_ENABLE: 'maybe' })).toThrow(/FIREHOSE_ENABLE must be 1 or 0/);
  });

  it('documents every variable it reads', () => {
    const names = CONFIG_VARIABLES.map((v) => v.name);
    for (const n of ['TRANSPORT_URL', 'CONTROL_EXCHANGES', 'TAP_MODE', 'RABBITMQ_MANAGEMENT_URL', 'HOST', 'PORT', 'CONTROL_EXCHANGE', 'RPC_RESPONSE_TIMEOUT', 'RPC_CONN_POOL_SIZE', 'AUTH_USERS', 'SESSION_SECRET', 'READ_ONLY', 'AUDIT_LOG', 'LOG_LEVEL']) {
      expect(names).toContain(n);
    }
  });
});

describe('TRANSPORT_URLS', () => {
  it('TRANSPORT_URL alone is one transport named default', () => {
    const c = loadConfig({ TRANSPORT_URL: 'rabbit://u:p@h:5672/', RABBITMQ_MANAGEMENT_URL: 'http://a:b@h:15672' });
    expect(c.transports.map((t) => t.name)).toEqual(['default']);
    expect(c.transports[0].transportUrl).toBe(c.transportUrl);
    expect(c.transports[0].management?.url).toBe('http://h:15672');
  });

  it('names several transports, multi-host URLs with their commas, in order; the first is the default', () => {
    const c = loadConfig({
      TRANSPORT_URLS: 'cell1=rabbit://nova:s1@c1a:5672,nova:s2@c1b:5672/cell1, neutron=rabbit://neutron:s3@net:5673/?ssl=0\ncell_2=memory://',
      RABBITMQ_MANAGEMENT_URLS: 'neutron=http://admin:m@net:15673',
    });
    expect(c.transports.map((t) => t.name)).toEqual(['cell1', 'neutron', 'cell_2']);
    expect(c.transports[0].transportUrl.hosts.map((h) => h.hostname)).toEqual(['c1a', 'c1b']);
    expect(c.transports[0].transportUrl.virtualHost).toBe('cell1');
    expect(c.transports[1].transportUrl.hosts[0].port).toBe(5673);
    expect(c.transports[2].transportUrl.driver).toBe('memory');
    // the first is what the single-transport fields describe
    expect(c.transportUrl).toBe(c.transports[0].transportUrl);
    expect(c.embedded).toBe(false);
    expect(c.demoFleet).toBe(false);
    // management: named → its own; unnamed → null (the tap guesses from the first host)
    expect(c.transports[1].management).toMatchObject({ url: 'http://net:15673', username: 'admin', password: 'm' });
    expect(c.transports[0].management).toBeNull();
    // described without any password
    const shown = JSON.stringify(describeConfig(c));
    expect(shown).toContain('cell1');
    expect(shown).not.toMatch(/s1|s2|s3|:m@/);
  });

  it('refuses bad names, duplicates, bad URLs and too many, naming the variable and hiding passwords', () => {
    const bad = problems({ TRANSPORT_URLS: 'c,Cell1=rabbit://u:pw1@h/,a=rabbit://u:pw2@h/,a=rabbit://u:pw3@h/,all=rabbit://h/,b=kafka://u:pw4@h/' });
    const text = bad.map((p) => `${p.variable}: ${p.problem}`).join('\n');
    expect(bad.every((p) => p.variable === 'TRANSPORT_URLS')).toBe(true);
    expect(text).toMatch(/"Cell1" is not a transport name/);
    expect(text).toMatch(/names the transport a twice/);
    expect(text).toMatch(/"all" is not a transport name/);
    expect(text).toMatch(/b: .*kafka/);
    expect(text).toMatch(/expected name=url, got "c"/);
    expect(text).not.toMatch(/pw[1-4]/);
    const many = Array.from({ length: 33 }, (_, i) => `t${i}=rabbit://h${i}/`).join(',');
    expect(problems({ TRANSPORT_URLS: many }).map((p) => p.problem).join()).toMatch(/names 33 transports; at most 32/);
    expect(problems({ TRANSPORT_URLS: ',' }).map((p) => p.problem).join()).toMatch(/names no transport/);
    const long = `a=rabbit://${'h'.repeat(70_000)}/`;
    expect(problems({ TRANSPORT_URLS: long })[0].variable).toBe('TRANSPORT_URLS');
  });

  it('refuses TRANSPORT_URL with TRANSPORT_URLS, and management URLs that name no transport', () => {
    expect(problems({ TRANSPORT_URL: 'rabbit://h/', TRANSPORT_URLS: 'a=rabbit://h/' }).map((p) => p.variable)).toContain('TRANSPORT_URLS');
    expect(problems({ TRANSPORT_URLS: 'a=rabbit://h/', RABBITMQ_MANAGEMENT_URL: 'http://h:15672' }).map((p) => p.variable)).toEqual(['RABBITMQ_MANAGEMENT_URL']);
    const m = problems({ TRANSPORT_URLS: 'a=rabbit://h/', RABBITMQ_MANAGEMENT_URLS: 'b=http://x:secret9@h:15672,a=ftp://h' });
    expect(m.map((p) => p.variable)).toEqual(['RABBITMQ_MANAGEMENT_URLS', 'RABBITMQ_MANAGEMENT_URLS']);
    expect(m[0].problem).toMatch(/names "b", which TRANSPORT_URLS does not \(known: a\)/);
    expect(m[1].problem).toMatch(/a: expected an http/);
    expect(JSON.stringify(m)).not.toContain('secret9');
    expect(problems({ RABBITMQ_MANAGEMENT_URLS: 'a=http://h:15672' })[0].variable).toBe('RABBITMQ_MANAGEMENT_URLS');
  });
});

describe('isLoopback', () => {
  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) expect(isLoopback(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1']) expect(isLoopback(h)).toBe(false);
  });
});

describe('.env.example', () => {
  it('lists every configuration variable', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
    const listed = new Set([...text.matchAll(/^#?([A-Z_]+)=/gm)].map((m) => m[1]));
    expect([...CONFIG_VARIABLES.map((v) => v.name)].filter((n) => !listed.has(n))).toEqual([]);
    expect([...listed].filter((n) => !CONFIG_VARIABLES.some((v) => v.name === n))).toEqual([]);
  });
});

describe('OSLO_CONFIG_FILES', () => {
  const dir = mkdtempSync(join(tmpdir(), 'osloscope-config-files-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const nova = write(
    'nova.conf',
    '[DEFAULT]\ntransport_url = rabbit://nova:N0v4-pw@ctl1:5672,nova:N0v4-pw@ctl2:5672/\ncontrol_exchange = nova\nrpc_response_timeout = 120\n' +
      '[oslo_messaging_rabbit]\nrabbit_quorum_queue = true\nrpc_conn_pool_size = 12\nrabbit_quorum_queues = true\n' +
      '[oslo_messaging_notifications]\ntopics = notifications,notifications_designate\n',
  );

  it("takes the broker, exchange, timeouts and rabbit options from a service's file", () => {
    const c = loadConfig({ OSLO_CONFIG_FILES: nova });
    expect(c.embedded).toBe(false);
    expect(c.demoFleet).toBe(false);
    expect(c.transportUrl.hosts.map((h) => h.hostname)).toEqual(['ctl1', 'ctl2']);
    expect(c.transportUrl.options.rabbit_quorum_queue).toBe(true);
    expect(c).toMatchObject({ controlExchange: 'nova', rpcResponseTimeout: 120, rpcConnPoolSize: 12 });
    expect(c.controlExchanges[0]).toBe('nova');
    expect(c.osloConfig.files).toEqual([nova]);
    expect(c.osloConfig.notifications.topics).toEqual(['notifications', 'notifications_designate']);
    expect(c.osloConfig.notes.join('\n')).toContain('rabbit_quorum_queues is not an oslo.messaging option');
    const shown = JSON.stringify(describeConfig(c));
    expect(shown).not.toContain('N0v4-pw');
    expect(shown).toContain(nova);
  });

  it('lets the variables win over the files, and later files over earlier ones', () => {
    const later = write('later.conf', '[DEFAULT]\ncontrol_exchange = later\n');
    const c = loadConfig({ OSLO_CONFIG_FILES: `${nova}, ${later}`, TRANSPORT_URL: 'rabbit://env-host/', RPC_RESPONSE_TIMEOUT: '5' });
    expect(c.transportUrl.hosts[0].hostname).toBe('env-host');
    expect(c.transportUrl.options.rabbit_quorum_queue).toBe(true);
    expect(c).toMatchObject({ controlExchange: 'later', rpcResponseTimeout: 5, rpcConnPoolSize: 12 });
    expect(loadConfig({ OSLO_CONFIG_FILES: nova, CONTROL_EXCHANGE: 'env' }).controlExchange).toBe('env');
  });

  it('reads a directory as its *.conf files', () => {
    const d = join(dir, 'nova.conf.d');
    mkdirSync(d);
    writeFileSync(join(d, '10.conf'), '[DEFAULT]\nrpc_response_timeout = 7\n');
    expect(loadConfig({ OSLO_CONFIG_FILES: `${nova},${d}` }).rpcResponseTimeout).toBe(7);
  });

  it('stops start-up naming the variable, the file and the line, without the password', () => {
    const bad = write('bad.conf', '[DEFAULT]\ntransport_url = rabbit://nova:N0v4-pw@ctl:notaport/\n');
    const p = problems({ OSLO_CONFIG_FILES: bad });
    expect(p).toHaveLength(1);
    expect(p[0].variable).toBe('OSLO_CONFIG_FILES');
    expect(p[0].problem).toContain(`${bad}:2`);
    expect(p[0].problem).not.toContain('N0v4-pw');
    expect(problems({ OSLO_CONFIG_FILES: join(dir, 'missing.conf') })[0].problem).toContain('missing.conf: cannot read the configuration file: no such file or directory');
    const zero = write('zero.conf', '[DEFAULT]\nrpc_response_timeout = 0\n');
    expect(problems({ OSLO_CONFIG_FILES: zero })[0].problem).toBe(`[DEFAULT] rpc_response_timeout = 0 in ${zero}:2: osloscope needs a whole number between 1 and 86400`);
  });
});
