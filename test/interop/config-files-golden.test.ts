/**
 * Golden test: server/messaging/oslo-config.ts against the real oslo.config
 * on the same files: Debian bookworm's /usr/bin/python3 (oslo.config 9.0.0),
 * or a stack's Python when TEST_PYTHON names one (trixie 9.7.1, sid 10.7).
 *
 * Every case is written to a temporary directory; `peers/config_files.py`
 * registers osloscope's option registry (sent as JSON, so only the parsing
 * is compared) and reads the files through `ConfigOpts(--config-file ...)`.
 * For every option both must agree on whether a file sets it and on its
 * value, and must both fail where oslo.config fails. Where we deliberately
 * go further than oslo.config, the case says so (`diverge`) and the test
 * checks that oslo really does fail.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { ConfigFileError, loadOsloConfig, type ConfigSource, type OsloFileConfig } from '../../server/messaging/oslo-config.ts';
import { messagingGroup, notificationGroup, rabbitGroup, transportUrlOpt, type OptDef } from '../../server/messaging/options.ts';
import { TransportURL } from '../../server/messaging/transport-url.ts';

const PYTHON = process.env.TEST_PYTHON || '/usr/bin/python3';
const PEER = fileURLToPath(new URL('./peers/config_files.py', import.meta.url));
const SECRET = 'S3cr3t-pw-7d1e';

interface Case {
  name: string;
  files: Record<string, string>;
  /** default: every file of `files` as --config-file, in order */
  sources?: [kind: 'file' | 'dir', name: string][];
  /** options a service would register itself (StrOpt), e.g. nova's my_ip */
  extra?: [group: string, name: string][];
  /** our error text must match */
  error?: RegExp;
  diverge?: string;
  /** further checks on what we read */
  check?: (c: OsloFileConfig) => void;
}

// A kolla-ansible 2025.1 rendered nova.conf (trimmed to what touches messaging,
// plus enough of the rest to look like the real thing).
const KOLLA_NOVA = `[DEFAULT]
debug = False
log_dir = /var/log/kolla/nova
state_path = /var/lib/nova
allow_resize_to_same_host = true
my_ip = 192.0.2.11
transport_url = rabbit://openstack:${SECRET}@192.0.2.11:5672,openstack:${SECRET}@192.0.2.12:5672,openstack:${SECRET}@192.0.2.13:5672//
instance_usage_audit = True
instance_usage_audit_period = hour
compute_driver = libvirt.LibvirtDriver

[conductor]
workers = 5

[vnc]
novncproxy_host = 192.0.2.11
novncproxy_port = 6080
server_listen = 192.0.2.11
server_proxyclient_address = 192.0.2.11

[oslo_concurrency]
lock_path = /var/lib/nova/tmp

[oslo_messaging_notifications]
transport_url = rabbit://openstack:${SECRET}@192.0.2.11:5672,openstack:${SECRET}@192.0.2.12:5672,openstack:${SECRET}@192.0.2.13:5672//
driver = messagingv2
topics = notifications,notifications_designate

[oslo_messaging_rabbit]
heartbeat_in_pthread = false
rabbit_quorum_queue = true
rabbit_transient_quorum_queue = true
rabbit_stream_fanout = true
use_queue_manager = true
rabbit_qos_prefetch_count = 1

[oslo_middleware]
enable_proxy_headers_parsing = True

[keystone_authtoken]
service_type = compute
www_authenticate_uri = http://192.0.2.10:5000
auth_url = http://192.0.2.10:5000
auth_type = password
project_domain_id = default
user_domain_id = default
project_name = service
username = nova
password = ${SECRET}
memcache_security_strategy = ENCRYPT
memcache_secret_key = ${SECRET}
memcached_servers = 192.0.2.11:11211,192.0.2.12:11211,192.0.2.13:11211

[libvirt]
connection_uri = qemu+tcp://192.0.2.11/system
live_migration_inbound_addr = 192.0.2.11

[placement]
auth_type = password
auth_url = http://192.0.2.10:5000
username = placement
password = ${SECRET}
region_name = RegionOne
valid_interfaces = internal

[oslo_policy]
policy_file = policy.yaml
`;

// neutron.conf as a distribution ships it: commented-out sample lines, a
// multi-host transport_url with per-host credentials and a vhost, ';' comments.
const NEUTRON = `[DEFAULT]
#
# From neutron
#

# Where to store Neutron state files. (string value)
#state_path = /var/lib/neutron
core_plugin = ml2
service_plugins = router,segments
; The messaging driver to use
#transport_url = rabbit://
transport_url = rabbit://neutron:${SECRET}@ctl-1.example.org:5671,neutron2:${SECRET}%40x@ctl-2.example.org:5671,ctl-3.example.org:5671/neutron?ssl=1
control_exchange = neutron
rpc_response_timeout = 120
executor_thread_pool_size: 128

[agent]
root_helper = "sudo neutron-rootwrap /etc/neutron/rootwrap.conf"

[database]
connection = mysql+pymysql://neutron:${SECRET}@db/neutron

[oslo_messaging_notifications]
#driver =
driver = messagingv2
driver = log
#topics = notifications

[oslo_messaging_rabbit]
#amqp_durable_queues = false
amqp_durable_queues = true
rabbit_transient_quorum_queue = True
use_queue_manager = yes
kombu_reconnect_delay = 0.5
ssl_ca_file = /etc/neutron/ca.pem
heartbeat_timeout_threshold = ' 30 '
rabbit_quorum_queues = true
`;

const cases: Case[] = [
  {
    name: 'kolla-rendered nova.conf (2025.1, Q+T+S+M)',
    files: { 'nova.conf': KOLLA_NOVA },
    extra: [['DEFAULT', 'my_ip']],
    check: (c) => {
      expect(c.rabbit).toMatchObject({ rabbit_quorum_queue: true, rabbit_transient_quorum_queue: true, rabbit_stream_fanout: true, use_queue_manager: true, rabbit_qos_prefetch_count: 1, heartbeat_in_pthread: false });
      expect(c.notifications.topics).toEqual(['notifications', 'notifications_designate']);
      const url = TransportURL.parse(c.defaults.transport_url!, c.rabbit);
      expect(url.hosts.map((h) => h.hostname)).toEqual(['192.0.2.11', '192.0.2.12', '192.0.2.13']);
      expect(url.options.rabbit_stream_fanout).toBe(true);
      expect(c.notes.join('\n')).toContain('heartbeat_in_pthread was removed in oslo.messaging 18.0.0');
    },
  },
  {
    name: 'neutron.conf with a multi-host transport_url, ":" separator, quotes and a helm-style typo',
    files: { 'neutron.conf': NEUTRON },
    check: (c) => {
      const url = TransportURL.parse(c.defaults.transport_url!, c.rabbit);
      expect(url.hosts.map((h) => [h.hostname, h.port, h.username])).toEqual([
        ['ctl-1.example.org', 5671, 'neutron'],
        ['ctl-2.example.org', 5671, 'neutron2'],
        ['ctl-3.example.org', 5671, undefined],
      ]);
      expect(url.virtualHost).toBe('neutron');
      expect(url.options).toMatchObject({ ssl: true, amqp_durable_queues: true, kombu_reconnect_delay: 0.5, heartbeat_timeout_threshold: 30 });
      expect(c.defaults).toMatchObject({ control_exchange: 'neutron', rpc_response_timeout: 120, executor_thread_pool_size: 128 });
      expect(c.notifications.driver).toEqual(['messagingv2', 'log']);
      expect(c.notes.join('\n')).toMatch(/rabbit_quorum_queues is not an oslo.messaging option and is ignored.*did you mean rabbit_quorum_queue/);
    },
  },
  {
    name: 'later files override earlier ones; the last occurrence in a file wins; sections repeat',
    files: {
      'a.conf': '[DEFAULT]\ncontrol_exchange = a1\ncontrol_exchange = a2\nrpc_response_timeout = 10\n[oslo_messaging_rabbit]\nssl = true\n',
      'b.conf': '[oslo_messaging_rabbit]\nssl = false\n[DEFAULT]\ncontrol_exchange = b\n[oslo_messaging_rabbit]\nrabbit_retry_interval = 3\n',
    },
    check: (c) => expect(c.defaults).toMatchObject({ control_exchange: 'b', rpc_response_timeout: 10 }),
  },
  {
    name: 'MultiStrOpt collects every occurrence across files, deprecated names first within a file',
    files: {
      'a.conf': '[oslo_messaging_notifications]\ndriver = one\n[DEFAULT]\nnotification_driver = old-a\n',
      'b.conf': '[DEFAULT]\nnotification_driver = old-b\n[oslo_messaging_notifications]\ndriver = two\ndriver = three\n',
    },
    check: (c) => expect(c.notifications.driver).toEqual(['old-a', 'one', 'old-b', 'two', 'three']),
  },
  {
    name: 'deprecated names and groups: the current name wins within a file, a newer file wins over it',
    files: {
      'a.conf': '[oslo_messaging_rabbit]\nrabbit_ha_queues = true\n[DEFAULT]\nrabbit_ha_queues = false\nrpc_conn_pool_size = 5\n[rpc_notifier2]\ntopics = legacy\n',
      'b.conf': '[oslo_messaging_rabbit]\nrabbit_use_ssl = yes\nkombu_ssl_ca_certs = /ca.pem\n[DEFAULT]\nnotification_topics = newer\n',
    },
    check: (c) => {
      expect(c.rabbit).toMatchObject({ rabbit_ha_queues: true, rpc_conn_pool_size: 5, ssl: true, ssl_ca_file: '/ca.pem' });
      expect(c.notes.join('\n')).toMatch(/\[oslo_messaging_rabbit\] rabbit_use_ssl is an old name of \[oslo_messaging_rabbit\] ssl \(oslo.messaging 16.0.0/);
    },
  },
  {
    name: 'section names: case-insensitive except DEFAULT; spaces inside brackets make another section',
    files: { 'a.conf': '[OSLO_Messaging_Rabbit]\nssl = on\n[default]\ncontrol_exchange = ignored\n[ oslo_messaging_notifications ]\nretry = 5\n[DEFAULT]\nrpc_response_timeout = 7\n' },
    check: (c) => {
      expect(c.defaults.control_exchange).toBeUndefined();
      expect(c.notifications.retry).toBeUndefined();
      expect(c.notes.join('\n')).toContain('[default] is not [DEFAULT]');
    },
  },
  {
    name: 'comments only at line start; continuation lines; a blank line ends a value',
    files: {
      'a.conf':
        '# comment\n; another\n[DEFAULT]\ncontrol_exchange = nova # not a comment\n[oslo_messaging_notifications]\ntopics = a,\n  b ,\n\tc\n\n  \ntransport_url = x\n   # indented: part of the value\n',
    },
    check: (c) => {
      expect(c.defaults.control_exchange).toBe('nova # not a comment');
      expect(c.notifications.topics).toEqual(['a', 'b', 'c']);
      expect(c.notifications.transport_url).toBe('x\n# indented: part of the value');
    },
  },
  {
    name: 'separators, quotes and whitespace',
    files: {
      'a.conf':
        '[DEFAULT]\ncontrol_exchange: ex=1:2\n  rpc_response_timeout=   "15"   \n[oslo_messaging_rabbit]\nssl_ca_file = "/a b.pem"\nssl_cert_file = \'x"\nssl_key_file = "\nssl_version =\nprocessname = \'nova-api\'  \nkombu_compression = "gzip\' \n',
    },
  },
  {
    name: 'CRLF and CR line endings',
    files: { 'a.conf': '[DEFAULT]\r\ncontrol_exchange = crlf\r\n[oslo_messaging_rabbit]\rssl = true\r' },
  },
  {
    name: 'booleans as oslo.config accepts them',
    files: { 'a.conf': '[oslo_messaging_rabbit]\nssl = YES\namqp_durable_queues = 0\nrabbit_quorum_queue = On\nuse_queue_manager = off\nrabbit_stream_fanout = TRUE\nrabbit_transient_quorum_queue = 1\n' },
  },
  { name: 'a boolean oslo.config refuses', files: { 'a.conf': '[oslo_messaging_rabbit]\nssl = enabled\n' }, error: /a\.conf:2: \[oslo_messaging_rabbit\] ssl has an invalid value: Unexpected boolean value 'enabled'/ },
  { name: 'an integer out of bounds', files: { 'a.conf': '[oslo_messaging_rabbit]\nrpc_conn_pool_size = 0\n' }, error: /a\.conf:2:.*greater than or equal to 1/ },
  { name: 'a choice that is not one', files: { 'a.conf': '[oslo_messaging_rabbit]\nkombu_failover_strategy = random\n' }, error: /kombu_failover_strategy/ },
  {
    name: 'interpolation: $name, ${name}, $group.name, $$, \\$, a lone $, and the option group first',
    files: {
      'a.conf':
        '[DEFAULT]\ncontrol_exchange = ${rpc_response_timeout}x$$y\\$z$\nrpc_response_timeout = 30\nprocessname = from-default\n[oslo_messaging_rabbit]\nprocessname = $hostname-$control_exchange-$kombu_reconnect_delay-$ssl-$kombu_compression\nhostname = h1\nssl_version = $oslo_messaging_notifications.retry/$oslo_messaging_rabbit.ssl\nssl_cert_file = $ssl_key_file.pem\nssl_key_file = $ {x} $1 $-\n[oslo_messaging_notifications]\nretry = 4\n',
    },
    extra: [['DEFAULT', 'processname']],
  },
  {
    name: "interpolation of a service's own option (nova's $my_ip, $state_path)",
    files: { 'a.conf': '[DEFAULT]\nmy_ip = 10.0.0.5\nstate_path = /var/lib/nova\nlock = $state_path/lock\ntransport_url = rabbit://u:p@$my_ip:5672/\n[oslo_messaging_rabbit]\nssl_ca_file = $lock/ca.pem\n' },
    extra: [['DEFAULT', 'my_ip'], ['DEFAULT', 'state_path'], ['DEFAULT', 'lock']],
    check: (c) => expect(c.rabbit.ssl_ca_file).toBe('/var/lib/nova/lock/ca.pem'),
  },
  {
    name: 'the same without the service registering them',
    files: { 'a.conf': '[DEFAULT]\nmy_ip = 10.0.0.5\ntransport_url = rabbit://u:p@$my_ip:5672/\n' },
    diverge: 'we read $my_ip from the file as nova would; oslo.config with only our options raises NoSuchOptError',
    check: (c) => expect(c.defaults.transport_url).toBe('rabbit://u:p@10.0.0.5:5672/'),
  },
  {
    name: 'a $ reference set nowhere, inside a secret, is an error that shows no part of the value',
    files: { 'a.conf': `[DEFAULT]\ntransport_url = rabbit://openstack:${SECRET}$w0rd@ctl:5672/\n` },
    error: /a\.conf:2: \[DEFAULT\] transport_url refers to a \$ reference \(not shown: the value is secret\) that is set in none of the files; write \$\$ for a literal \$/,
  },
  {
    name: 'a reference cycle',
    files: { 'a.conf': '[DEFAULT]\ncontrol_exchange = $a\na = $b\nb = $control_exchange\n' },
    error: /refers to itself through \[DEFAULT\] control_exchange -> \[DEFAULT\] a -> \[DEFAULT\] b -> \[DEFAULT\] control_exchange/,
    diverge: 'a, b are not registered (we read them raw); oslo.config fails on them with NoSuchOptError rather than recursion',
  },
  {
    name: 'a reference cycle between registered options',
    files: { 'a.conf': '[oslo_messaging_rabbit]\nhostname = $processname\nprocessname = $hostname\n' },
    error: /refers to itself/,
  },
  {
    name: 'substituting a group name',
    files: { 'a.conf': '[DEFAULT]\ncontrol_exchange = $oslo_messaging_rabbit\n' },
    error: /substituting group oslo_messaging_rabbit not supported/,
  },
  {
    name: '$$ in a password, ${...} braces, "=" inside values, unicode spaces, form feeds and an empty value',
    files: {
      'a.conf':
        '[DEFAULT]\ntransport_url = rabbit://openstack:pa$$w0rd@h:5672/\ncontrol_exchange = ${control_exchange_base}-x=y\ncontrol_exchange_base: \u00a0nova\u00a0\n\f\n' +
        '[oslo_messaging_rabbit]\nssl_version:\nssl_ca_file = a=b:c\n[DEFAULT]   \nrpc_response_timeout = \t 12 \n',
    },
    extra: [['DEFAULT', 'control_exchange_base']],
    check: (c) => expect(TransportURL.parse(c.defaults.transport_url!).hosts[0].password).toBe('pa$w0rd'),
  },
  { name: '$DEFAULT.name is no group to oslo.config', files: { 'a.conf': '[DEFAULT]\ncontrol_exchange = $DEFAULT.rpc_response_timeout\n' }, error: /has no group named exactly DEFAULT/ },
  { name: 'a $group.name reference with the group in the wrong case', files: { 'a.conf': '[DEFAULT]\ncontrol_exchange = $OSLO_MESSAGING_RABBIT.ssl\n' }, error: /no group named exactly OSLO_MESSAGING_RABBIT/ },
  {
    name: 'ListOpt: trailing commas, blanks and spaces',
    files: { 'a.conf': '[oslo_messaging_notifications]\ntopics =  a , ,b,,, \n' },
  },
  { name: 'an empty ListOpt', files: { 'a.conf': '[oslo_messaging_notifications]\ntopics =\n' } },
  {
    name: '--config-dir: *.conf only, sorted, no hidden files, in command-line order with --config-file',
    files: {
      'first.conf': '[DEFAULT]\ncontrol_exchange = first\nrpc_response_timeout = 1\n',
      'd/20-b.conf': '[DEFAULT]\ncontrol_exchange = dir-b\n',
      'd/10-a.conf': '[DEFAULT]\ncontrol_exchange = dir-a\nrpc_response_timeout = 2\n',
      'd/.hidden.conf': '[DEFAULT]\ncontrol_exchange = hidden\n',
      'd/zz.conf.bak': '[DEFAULT]\ncontrol_exchange = backup\n',
      'd/Z.conf': '[DEFAULT]\nexecutor_thread_pool_size = 3\n',
      'last.conf': '[DEFAULT]\nrpc_response_timeout = 9\n',
    },
    sources: [
      ['file', 'first.conf'],
      ['dir', 'd'],
      ['file', 'last.conf'],
    ],
    check: (c) => expect(c.defaults).toMatchObject({ control_exchange: 'dir-b', rpc_response_timeout: 9, executor_thread_pool_size: 3 }),
  },
  { name: 'a missing file', files: {}, sources: [['file', 'nope.conf']], error: /nope\.conf: cannot read the configuration file: no such file or directory/ },
  { name: 'a missing directory', files: {}, sources: [['dir', 'nodir']], error: /nodir: cannot read the configuration directory/ },
  { name: 'an assignment before any section', files: { 'a.conf': 'control_exchange = x\n[DEFAULT]\n' }, error: /a\.conf:1: Section must be started before assignment/ },
  { name: 'a line without separator', files: { 'a.conf': `[DEFAULT]\nkeystone_password ${SECRET}\n` }, error: /a\.conf:2: No ':' or '=' found in assignment$/ },
  {
    name: "a ':' before the '=' splits there (a URL written without '=')",
    files: { 'a.conf': `[DEFAULT]\ntransport_url rabbit://u:${SECRET}@h/\n` },
    check: (c) => expect(c.defaults.transport_url).toBeUndefined(),
  },
  { name: 'an empty key', files: { 'a.conf': '[DEFAULT]\n= x\n' }, error: /a\.conf:2: Key cannot be empty/ },
  { name: 'a continuation without a key', files: { 'a.conf': '[DEFAULT]\n  x\n' }, error: /a\.conf:2: Unexpected continuation line/ },
  { name: 'an empty section name', files: { 'a.conf': '[]\n' }, error: /a\.conf:1: Empty section name/ },
  { name: 'an unclosed section', files: { 'a.conf': '[DEFAULT\n' }, error: /a\.conf:1: Invalid section/ },
  { name: 'a byte-order mark', files: { 'a.conf': '\ufeff[DEFAULT]\ncontrol_exchange = x\n' }, error: /a\.conf:1: the file starts with a byte-order mark/ },
];

// --- running both sides -------------------------------------------------------

const root = mkdtempSync(join(tmpdir(), 'osloscope-conf-golden-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function materialize(c: Case, i: number): ConfigSource[] {
  const dir = join(root, String(i));
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(c.files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  const sources = c.sources ?? Object.keys(c.files).map((n) => ['file', n] as ['file', string]);
  return sources.map(([kind, name]) => ({ kind, path: join(dir, name) }));
}

const schema: Record<string, Record<string, OptDef>> = {
  DEFAULT: { ...(messagingGroup.opts as Record<string, OptDef>), transport_url: transportUrlOpt },
  [rabbitGroup.name]: rabbitGroup.opts as Record<string, OptDef>,
  [notificationGroup.name]: notificationGroup.opts as Record<string, OptDef>,
};

type PyResult = { ok: true; values: Record<string, { set: boolean; value: unknown }> } | { ok: false; stage: string; error: string; option?: string };

const available = spawnSync(PYTHON, ['-c', 'import oslo_config'], { encoding: 'utf8' }).status === 0;
if (!available) {
  const why = `${PYTHON} cannot import oslo_config (apt-get install python3-oslo.config)`;
  if (process.env.CI) throw new Error(why);
  console.warn(`\n*** SKIPPING config file golden test: ${why} ***\n`);
}

const sourcesOf = cases.map((c, i) => materialize(c, i));
const py: PyResult[] = available
  ? (() => {
      const input = JSON.stringify({ schema, cases: cases.map((c, i) => ({ sources: sourcesOf[i].map((s) => [s.kind, s.path]), extra: c.extra ?? [] })) });
      const r = spawnSync(PYTHON, [PEER], { input, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 60_000 });
      if (r.status !== 0) throw new Error(`config_files.py failed (${r.status}): ${r.stderr}`);
      return JSON.parse(r.stdout) as PyResult[];
    })()
  : [];

function ours(sources: ConfigSource[]): OsloFileConfig | ConfigFileError {
  try {
    return loadOsloConfig(sources);
  } catch (err) {
    if (err instanceof ConfigFileError) return err;
    throw err;
  }
}

function valueOf(c: OsloFileConfig, key: string): unknown {
  const [group, name] = key.split('.');
  const bag = group === 'DEFAULT' ? c.defaults : group === rabbitGroup.name ? c.rabbit : c.notifications;
  return (bag as Record<string, unknown>)[name];
}

describe.skipIf(!available)('configuration files against oslo.config', () => {
  it('ran every case', () => {
    expect(py).toHaveLength(cases.length);
  });

  describe.each(cases.map((c, i) => ({ ...c, i })))('$name', (c) => {
    const result = ours(sourcesOf[c.i]);
    const theirs = py[c.i];

    if (c.diverge) {
      it(`differs from oslo.config on purpose: ${c.diverge}`, () => {
        expect(theirs.ok, 'oslo.config should fail here').toBe(false);
      });
    } else {
      it(theirs?.ok ? 'is read by both' : `is refused by both (oslo: ${theirs && !theirs.ok ? theirs.error : ''})`, () => {
        expect(result instanceof ConfigFileError ? result.message : 'read', 'ours').toBe(theirs.ok ? 'read' : result instanceof ConfigFileError ? result.message : 'an error');
      });
    }

    if (c.error) {
      it('fails with a message naming file and line', () => {
        expect(result).toBeInstanceOf(ConfigFileError);
        expect((result as ConfigFileError).message).toMatch(c.error!);
      });
    }

    it('never shows a secret in an error', () => {
      if (result instanceof ConfigFileError) expect(result.message).not.toContain(SECRET);
    });

    if (theirs?.ok && !(result instanceof ConfigFileError) && !c.diverge) {
      it('reads the same options with the same values', () => {
        for (const [key, { set, value }] of Object.entries(theirs.values)) {
          if (set) expect(valueOf(result, key), key).toEqual(value);
          else expect(valueOf(result, key), `${key} is set by no file`).toBeUndefined();
        }
      });
    }

    if (c.check && !(result instanceof ConfigFileError)) {
      it('gives the operator what the file says', () => c.check!(result));
    }
  });
});
