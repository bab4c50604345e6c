import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { ConfigError } from '../../server/messaging/index.ts';
import { parse } from './common.ts';
import { cliSettings, configSourcesOf } from './config-files.ts';

const dir = mkdtempSync(join(tmpdir(), 'osloscope-cli-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function conf(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const DEFAULT = 'rabbit://guest:guest@127.0.0.1:5672/';

describe('cliSettings', () => {
  const nova = conf(
    'nova.conf',
    '[DEFAULT]\ntransport_url = rabbit://nova:pw@ctl1:5672,nova:pw@ctl2:5672/nova?rabbit_qos_prefetch_count=50\ncontrol_exchange = nova\nrpc_response_timeout = 90\n' +
      '[oslo_messaging_rabbit]\nrabbit_quorum_queue = true\nrabbit_stream_fanout = true\nrabbit_qos_prefetch_count = 1\n' +
      '[oslo_messaging_notifications]\ntransport_url = rabbit://notif:pw@notif-host:5672/\n',
  );

  it("takes the files' URL, [oslo_messaging_rabbit] options (the URL query winning) and [DEFAULT] options", () => {
    const s = cliSettings(parse(['--config-file', nova], {}).values, {}, DEFAULT);
    expect(s.url.hosts.map((h) => h.hostname)).toEqual(['ctl1', 'ctl2']);
    expect(s.url.options).toMatchObject({ rabbit_quorum_queue: true, rabbit_stream_fanout: true, rabbit_qos_prefetch_count: 50 });
    expect(s).toMatchObject({ controlExchange: 'nova', rpcResponseTimeout: 90, urlSource: `${nova}:2` });
  });

  it('lets flags win over the environment, and the environment over the files', () => {
    const values = parse(['--config-file', nova, '--control-exchange', 'flag'], {}).values;
    const s = cliSettings(values, { TRANSPORT_URL: 'rabbit://env-host/', CONTROL_EXCHANGE: 'env' }, DEFAULT);
    expect(s.url.hosts[0].hostname).toBe('env-host');
    expect(s.urlSource).toBe('TRANSPORT_URL');
    expect(s.controlExchange).toBe('flag');
    // the files' rabbit options still apply to a URL from elsewhere
    expect(s.url.options.rabbit_quorum_queue).toBe(true);
    expect(cliSettings(parse(['--url', 'rabbit://flag-host/', '--config-file', nova], {}).values, { TRANSPORT_URL: 'rabbit://env-host/' }, DEFAULT).url.hosts[0].hostname).toBe('flag-host');
  });

  it('uses [oslo_messaging_notifications] transport_url first for notifications', () => {
    const values = parse(['--config-file', nova], {}).values;
    expect(cliSettings(values, {}, DEFAULT, { notifications: true }).url.hosts[0].hostname).toBe('notif-host');
  });

  it('falls back to the default URL and exchange without files', () => {
    const s = cliSettings(parse([], {}).values, {}, DEFAULT);
    expect(s).toMatchObject({ urlSource: 'the default URL', controlExchange: 'openstack', rpcResponseTimeout: undefined, files: null });
  });

  it('keeps --config-file and --config-dir in command-line order', () => {
    const values = parse(['--config-dir', '/d1', '--config-file', 'a.conf', '--config-dir=/d2', '--config-file=b.conf'], {}).values;
    expect(configSourcesOf(values)).toEqual([
      { kind: 'dir', path: '/d1' },
      { kind: 'file', path: 'a.conf' },
      { kind: 'dir', path: '/d2' },
      { kind: 'file', path: 'b.conf' },
    ]);
  });

  it('names the file and line of a bad transport_url without its password', () => {
    const bad = conf('bad.conf', '\n[DEFAULT]\ntransport_url = rabbit://nova:Pa55w0rd@ctl:99999/\n');
    let err: unknown;
    try {
      cliSettings(parse(['--config-file', bad], {}).values, {}, DEFAULT);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(new RegExp(`^transport URL from ${bad}:3: `));
    expect((err as Error).message).not.toContain('Pa55w0rd');
  });
});
