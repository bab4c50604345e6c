/**
 * Shared plumbing of the osloscope CLI: argument parsing with node:util,
 * the exit-code contract (README "Command line": 0 ok, 2 usage, 3 remote
 * error, 4 timeout, 5 cannot connect, 6 refused by the broker) and
 * one-line errors on stderr.
 */
import { LOG_REDACTION, redactText } from '../../server/tap/redact.ts';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import pino from 'pino';
import {
  BrokerRefusal,
  ConfigError,
  MessageDeliveryFailure,
  MessagingTimeout,
  pyLoads,
  refusalIn,
  RemoteError,
  Transport,
  type Logger,
} from '../../server/messaging/index.ts';
import { cliSettings, configFileOptions, rememberConfigSources, writeConfigNotes, type CliSettings } from './config-files.ts';

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** --json: errors go to stderr as one JSON object, {"error":{"code","message"}} */
  json?: boolean;
}

export const EXIT = { ok: 0, failure: 1, usage: 2, remote: 3, timeout: 4, connect: 5, refused: 6 } as const;

/** The `error.code` of a --json error, per exit code. */
export const ERROR_CODES: Record<number, string> = {
  1: 'failure',
  2: 'usage',
  3: 'remote_error',
  4: 'timeout',
  5: 'cannot_connect',
  6: 'refused',
};

/** A command's error on stderr: one line of text, or with --json one JSON object. Returns `exit`. */
export function writeError(io: Pick<Io, 'stderr' | 'json'>, exit: number, message: string, extra: Record<string, unknown> = {}): number {
  const oneLine = message.replace(/\s*\n\s*/g, ' ').trim();
  if (io.json) io.stderr.write(`${JSON.stringify({ error: { code: ERROR_CODES[exit] ?? 'failure', message: oneLine, ...extra } })}\n`);
  else io.stderr.write(`${oneLine}\n`);
  return exit;
}

export const DEFAULT_URL = 'rabbit://guest:guest@127.0.0.1:5672/';

/**
 * Map an error to the CLI exit code contract (README "Command line"):
 * 2 usage or configuration, 3 remote error, 4 timeout, 5 cannot connect,
 * 6 refused by the broker.
 */
export function exitCodeFor(err: unknown): number {
  if (err instanceof RemoteError) return 3;
  if (err instanceof MessagingTimeout) return 4;
  if (err instanceof BrokerRefusal) return 6;
  if (err instanceof MessageDeliveryFailure) return refusalIn(err) ? 6 : 5;
  if (err instanceof ConfigError) return 2;
  return 1;
}

/** A usage problem: exit 2 with this line. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const commonOptions = {
  url: { type: 'string' },
  'control-exchange': { type: 'string' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  ...configFileOptions,
} as const satisfies ParseArgsConfig['options'];

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    const parsed = parseArgs({ args: argv, options: { ...commonOptions, ...options }, allowPositionals: false, strict: true, tokens: true });
    // --config-file / --config-dir are read in command-line order, as oslo.config does
    rememberConfigSources(parsed.values, parsed.tokens);
    return parsed;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function makeLogger(io: Io, debug: boolean | undefined): Logger {
  // Logs go to stderr: stdout carries only JSON results.
  // ... and never with a secret: remote failures logged at debug quote what callers sent
  return pino({ level: debug ? 'debug' : 'warn', base: undefined, ...LOG_REDACTION }, pino.destination({ dest: 2, sync: true }));
}

export function openTransport(
  values: { url?: string; 'control-exchange'?: string; debug?: boolean; 'config-file'?: string[]; 'config-dir'?: string[] },
  io: Io,
  extra: { rpc_response_timeout?: number; settings?: CliSettings } = {},
): Transport {
  // flags, then environment, then --config-file/--config-dir, then defaults (config-files.ts)
  const settings = extra.settings ?? cliSettings(values, io.env, DEFAULT_URL);
  if (!extra.settings) writeConfigNotes(settings, io.stderr);
  const conf: Record<string, unknown> = { control_exchange: settings.controlExchange };
  const timeout = extra.rpc_response_timeout ?? settings.rpcResponseTimeout;
  if (timeout !== undefined) conf.rpc_response_timeout = timeout;
  return new Transport(settings.url, { conf, log: makeLogger(io, values.debug), programName: 'osloscope' });
}

/** Parse a JSON option (Python-tolerant: NaN, big ints) that must be an object. */
export function jsonObject(text: string | undefined, name: string): Record<string, unknown> {
  if (text === undefined || text === '') return {};
  let v: unknown;
  try {
    v = pyLoads(text);
  } catch (err) {
    throw new UsageError(`--${name} is not valid JSON: ${(err as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`--${name} must be a JSON object`);
  return v as Record<string, unknown>;
}

export function numberOption(text: string | undefined, name: string, { min = 0 }: { min?: number } = {}): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number >= ${min}, got '${text}'`);
  return n;
}

export function required(value: string | undefined, name: string): string {
  if (!value) throw new UsageError(`--${name} is required`);
  return value;
}

/** One line on stderr (with --json one JSON object), exit code per the contract. */
export function reportError(err: unknown, io: Io, opts: { traceback?: boolean } = {}): number {
  if (err instanceof UsageError) return writeError(io, EXIT.usage, `osloscope: ${err.message} (see --help)`);
  if (err instanceof RemoteError) {
    // the service's own words (its message, its traceback) may quote a password or a token: a terminal or a CI log is an output too
    const traceback = opts.traceback ? redactText(err.traceback.join('')) : '';
    const code = writeError(io, EXIT.remote, `RemoteError: ${err.module}.${err.excType}: ${redactText(err.value)}`, io.json ? { exc_type: err.excType, module: err.module, ...(opts.traceback ? { traceback } : {}) } : {});
    if (opts.traceback && !io.json) io.stderr.write(traceback);
    return code;
  }
  if (err instanceof MessagingTimeout) return writeError(io, EXIT.timeout, `MessagingTimeout: ${err.message}`);
  // Before MessageDeliveryFailure: a send that gave up may carry the refusal as its cause.
  const refusal = refusalIn(err);
  if (refusal) return writeError(io, EXIT.refused, `Refused by the broker (${refusal.code}): ${refusal.message}`);
  if (err instanceof MessageDeliveryFailure) return writeError(io, EXIT.connect, `Cannot connect: ${err.message}`);
  if (err instanceof ConfigError) return writeError(io, EXIT.usage, `osloscope: ${err.message}`);
  const code = exitCodeFor(err);
  return writeError(io, code === 1 ? EXIT.failure : code, `osloscope: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
}

export function writeJson(io: Io, value: unknown, jsonText: (v: unknown) => string): void {
  io.stdout.write(`${jsonText(value)}\n`);
}
