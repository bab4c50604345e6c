/**
 * `osloscope call` / `osloscope cast`: one RPC through the oslo-compatible
 * client, result as JSON on stdout.
 */
import { pyDumps, RpcClient, type Transport } from '../../server/messaging/index.ts';
import { EXIT, jsonObject, numberOption, openTransport, parse, reportError, required, UsageError, writeJson, type Io } from './common.ts';
import { CONFIG_FILE_HELP } from './config-files.ts';
import { redact } from '../../server/tap/index.ts';

const URL_HELP = `  --url URL                  transport URL (default $TRANSPORT_URL, the files' transport_url, or ${'rabbit://guest:guest@127.0.0.1:5672/'})
  --control-exchange X       default exchange (default $CONTROL_EXCHANGE, the files' control_exchange, or openstack)
${CONFIG_FILE_HELP}`;

/** `osloscope call --help`: only the flags call takes. */
export const CALL_HELP = `usage: osloscope call --topic T --method M [options]

Invoke a method and print its JSON result on stdout.

  --topic T                  target topic (required)
  --server S                 send to <topic>.<server> only
  --exchange X               exchange (default: the control exchange)
  --namespace N, --version V target namespace / version (version is sent as given)
  --method M                 method name (required)
  --args JSON                method arguments as a JSON object (default {})
  --context JSON             request context as a JSON object (default {})
  --timeout S                call timeout in seconds (default rpc_response_timeout: the files', else 60)
  --call-monitor-timeout S   ask the server for heartbeats; fail if none for S seconds
  --retry N                  connection attempts beyond the first (default 0)
${URL_HELP}
  --traceback                print a remote traceback on stderr
  --json                     errors as one JSON object on stderr: {"error":{"code","message"}}
  --debug                    log to stderr

exit: 0 ok, 2 usage, 3 remote error, 4 timeout, 5 cannot connect, 6 refused by the broker`;

/** `osloscope cast --help`: only the flags cast takes (no result, so no timeout or traceback). */
export const CAST_HELP = `usage: osloscope cast --topic T --method M [options]

Invoke a method without waiting for a result; prints where it was sent.

  --topic T                  target topic (required)
  --server S                 send to <topic>.<server> only
  --fanout                   cast to every server of the topic (<topic>_fanout)
  --exchange X               exchange (default: the control exchange)
  --namespace N, --version V target namespace / version (version is sent as given)
  --method M                 method name (required)
  --args JSON                method arguments as a JSON object (default {})
  --context JSON             request context as a JSON object (default {})
  --retry N                  connection attempts beyond the first (default 0)
${URL_HELP}
  --json                     errors as one JSON object on stderr: {"error":{"code","message"}}
  --debug                    log to stderr

exit: 0 sent, 2 usage, 5 cannot connect, 6 refused by the broker`;

const sharedOptions = {
  topic: { type: 'string' },
  server: { type: 'string' },
  exchange: { type: 'string' },
  namespace: { type: 'string' },
  version: { type: 'string' },
  method: { type: 'string' },
  args: { type: 'string' },
  context: { type: 'string' },
  retry: { type: 'string' },
} as const;

const callOptions = {
  ...sharedOptions,
  timeout: { type: 'string' },
  'call-monitor-timeout': { type: 'string' },
  traceback: { type: 'boolean' },
} as const;

const castOptions = { ...sharedOptions, fanout: { type: 'boolean' } } as const;

export async function runRpcCommand(kind: 'call' | 'cast', argv: string[], io: Io): Promise<number> {
  let transport: Transport | undefined;
  let traceback = false;
  try {
    if (kind === 'call' && argv.includes('--fanout')) throw new UsageError('a call cannot be used with --fanout (use cast)');
    const { values: v } = parse(argv, kind === 'call' ? callOptions : castOptions);
    const values = v as typeof v & { timeout?: string; 'call-monitor-timeout'?: string; traceback?: boolean; fanout?: boolean };
    if (values.help) {
      io.stdout.write(`${kind === 'call' ? CALL_HELP : CAST_HELP}\n`);
      return EXIT.ok;
    }
    traceback = !!values.traceback;
    const topic = required(values.topic, 'topic');
    const method = required(values.method, 'method');
    const args = jsonObject(values.args, 'args');
    const context = jsonObject(values.context, 'context');
    const timeout = numberOption(values.timeout, 'timeout');
    const cmt = numberOption(values['call-monitor-timeout'], 'call-monitor-timeout');
    const retry = numberOption(values.retry, 'retry') ?? 0;
    transport = openTransport(values, io);
    const client = new RpcClient(
      transport,
      {
        topic,
        server: values.server ?? null,
        exchange: values.exchange ?? null,
        namespace: values.namespace ?? null,
        version: values.version ?? null,
        fanout: !!values.fanout,
      },
      { timeout: timeout ?? null, callMonitorTimeout: cmt ?? null, retry },
    );
    if (kind === 'call') {
      const r = await client.callDetailed(context, method, args);
      // redacted like the dashboard's Console result: a service's answer can carry an adminPass or a token
      writeJson(io, redact(r.result), pyDumps);
    } else {
      const info = await client.cast(context, method, args);
      writeJson(io, { ok: true, exchange: info.exchange, routing_key: info.routingKey, unique_id: info.uniqueId }, pyDumps);
    }
    return EXIT.ok;
  } catch (err) {
    return reportError(err, io, { traceback });
  } finally {
    await transport?.close();
  }
}
