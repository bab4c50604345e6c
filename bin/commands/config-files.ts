/**
 * `--config-file PATH` / `--config-dir DIR` for every osloscope command: read
 * the oslo.config files a service already uses (nova.conf, neutron.conf) for
 * `[DEFAULT] transport_url`, `control_exchange`, `rpc_response_timeout`,
 * `[oslo_messaging_rabbit]` and `[oslo_messaging_notifications]`.
 *
 * Order and precedence follow oslo.config (`cfg.py:_ConfigFileOpt`,
 * `_ConfigDirOpt`): files are read in command-line order, a directory's
 * `*.conf` files at the place of its `--config-dir`, later files win.
 * Explicit command-line flags win over environment variables
 * ($TRANSPORT_URL, $CONTROL_EXCHANGE), which win over the files, which win
 * over defaults.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

import {
  configSourcesFromTokens,
  loadOsloConfig,
  originOf,
  transportUrlFrom,
  type ConfigSource,
  type OsloFileConfig,
  type SettingCandidate,
  type TransportURL,
} from '../../server/messaging/index.ts';

export const configFileOptions = {
  'config-file': { type: 'string', multiple: true },
  'config-dir': { type: 'string', multiple: true },
} as const satisfies ParseArgsConfig['options'];

export const CONFIG_FILE_HELP = `  --config-file PATH         oslo.config file to read (nova.conf, neutron.conf, ...): [DEFAULT]
                             transport_url, control_exchange, rpc_response_timeout,
                             [oslo_messaging_rabbit], [oslo_messaging_notifications]; repeatable,
                             later files override earlier ones (oslo.config's order)
  --config-dir DIR           read DIR/*.conf in name order, at its place among the --config-file
  precedence: command-line flags, then $TRANSPORT_URL / $CONTROL_EXCHANGE, then the files, then defaults`;

type Token = NonNullable<ReturnType<typeof parseArgs>['tokens']>[number];

const order = new WeakMap<object, ConfigSource[]>();

/** Remember, for a parseArgs `values` object, the config sources in command-line order. */
export function rememberConfigSources(values: object, tokens: readonly Token[] | undefined): void {
  order.set(values, configSourcesFromTokens(tokens));
}

/** The config sources of parsed `values`, in command-line order. */
export function configSourcesOf(values: { 'config-file'?: string[]; 'config-dir'?: string[] }): ConfigSource[] {
  const remembered = order.get(values);
  if (remembered !== undefined) return remembered;
  return [
    ...(values['config-file'] ?? []).map((path) => ({ kind: 'file' as const, path })),
    ...(values['config-dir'] ?? []).map((path) => ({ kind: 'dir' as const, path })),
  ];
}

/** The files' settings, or null when none were given. Throws a ConfigError (exit 2) naming file and line. */
export function readConfigFiles(values: { 'config-file'?: string[]; 'config-dir'?: string[] }): OsloFileConfig | null {
  const sources = configSourcesOf(values);
  return sources.length === 0 ? null : loadOsloConfig(sources);
}

export interface CliSettings {
  url: TransportURL;
  /** where the URL came from (never the URL itself) */
  urlSource: string;
  controlExchange: string;
  rpcResponseTimeout: number | undefined;
  files: OsloFileConfig | null;
}

/**
 * The transport URL and [DEFAULT] options for a command, by precedence.
 * `notifications`: use `[oslo_messaging_notifications] transport_url` before
 * `[DEFAULT] transport_url`, as oslo's get_notification_transport does.
 */
export function cliSettings(
  values: { url?: string; 'control-exchange'?: string; 'config-file'?: string[]; 'config-dir'?: string[] },
  env: NodeJS.ProcessEnv,
  defaultUrl: string,
  opts: { notifications?: boolean } = {},
): CliSettings {
  const files = readConfigFiles(values);
  const candidates: SettingCandidate[] = [
    { value: values.url, source: '--url' },
    { value: env.TRANSPORT_URL, source: 'TRANSPORT_URL' },
  ];
  if (files) {
    if (opts.notifications && files.notifications.transport_url) {
      candidates.push({ value: files.notifications.transport_url, source: originOf(files, 'oslo_messaging_notifications', 'transport_url') });
    }
    candidates.push({ value: files.defaults.transport_url, source: originOf(files, 'DEFAULT', 'transport_url') });
  }
  candidates.push({ value: defaultUrl, source: 'the default URL' });
  const { url, source } = transportUrlFrom(candidates, files?.rabbit ?? {});
  return {
    url,
    urlSource: source,
    controlExchange: values['control-exchange'] ?? env.CONTROL_EXCHANGE ?? files?.defaults.control_exchange ?? 'openstack',
    rpcResponseTimeout: files?.defaults.rpc_response_timeout,
    files,
  };
}

/** Notes about the files and the URL, one line each on stderr. */
export function writeConfigNotes(settings: CliSettings, stderr: NodeJS.WritableStream, prefix = 'osloscope'): void {
  for (const note of settings.files?.notes ?? []) stderr.write(`${prefix}: note: ${note}\n`);
  for (const warning of settings.url.warnings) stderr.write(`${prefix}: note: ${warning}\n`);
}
