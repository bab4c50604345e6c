/**
 * `osloscope serve`: a diagnostic RPC server for checking a broker path end
 * to end. Any oslo client (Python or osloscope) can call it.
 */
import { ExpectedFailure, pyDumps, RpcServer, type Endpoint, type Transport } from '../../server/messaging/index.ts';
import { redact, redactObject } from '../../server/tap/redact.ts';
import { EXIT, openTransport, parse, reportError, required, type Io } from './common.ts';
import { CONFIG_FILE_HELP } from './config-files.ts';

export const SERVE_HELP = `usage: osloscope serve --topic T --server S [options]

Runs an RPC server on <topic>, <topic>.<server> and <topic>_fanout with methods:
  echo(value)            returns value
  add(a, b)              returns a + b
  sleep(secs)            waits secs seconds, returns secs
  fail(message)          raises ValueError(message)
  oslo_rpc_server_ping() returns "pong"
Each invocation is printed as one JSON line on stdout. Stops on SIGINT/SIGTERM.

  --topic T, --server S      (required)
  --exchange X               exchange (default: the control exchange)
  --version V                endpoint version (default 1.0)
  --namespace N              endpoint namespace (default none)
  --url URL, --control-exchange X, --debug
${CONFIG_FILE_HELP}`;

const options = {
  topic: { type: 'string' },
  server: { type: 'string' },
  exchange: { type: 'string' },
  version: { type: 'string' },
  namespace: { type: 'string' },
} as const;

export function diagnosticEndpoint(target: { version?: string; namespace?: string | null }, onInvoke: (method: string, args: Record<string, unknown>, ctxt: Record<string, unknown>) => void): Endpoint {
  return {
    target: { version: target.version ?? '1.0', namespace: target.namespace ?? null },
    echo(ctxt: Record<string, unknown>, args: Record<string, unknown>) {
      onInvoke('echo', args, ctxt);
      return args.value ?? null;
    },
    add(ctxt: Record<string, unknown>, args: Record<string, unknown>) {
      onInvoke('add', args, ctxt);
      const { a, b } = args;
      if (typeof a === 'number' && typeof b === 'number') return a + b;
      if (typeof a === 'string' && typeof b === 'string') return a + b;
      throw new ExpectedFailure('TypeError', 'builtins', `unsupported operand type(s) for +: '${pyType(a)}' and '${pyType(b)}'`);
    },
    async sleep(ctxt: Record<string, unknown>, args: Record<string, unknown>) {
      onInvoke('sleep', args, ctxt);
      const secs = Number(args.secs ?? 0);
      await new Promise((r) => setTimeout(r, Math.max(0, secs) * 1000));
      return args.secs ?? 0;
    },
    fail(ctxt: Record<string, unknown>, args: Record<string, unknown>) {
      onInvoke('fail', args, ctxt);
      throw new ExpectedFailure('ValueError', 'builtins', String(args.message ?? 'failure requested'));
    },
  };
}

function pyType(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  return Array.isArray(v) ? 'list' : 'dict';
}

export async function runServeCommand(argv: string[], io: Io, signal?: AbortSignal): Promise<number> {
  let transport: Transport | undefined;
  let server: RpcServer | undefined;
  try {
    const { values } = parse(argv, options);
    if (values.help) {
      io.stdout.write(`${SERVE_HELP}\n`);
      return EXIT.ok;
    }
    const topic = required(values.topic, 'topic');
    const serverName = required(values.server, 'server');
    transport = openTransport(values, io);
    const endpoint = diagnosticEndpoint({ version: values.version, namespace: values.namespace }, (method, args, ctxt) => {
      // stdout ends up in terminals and CI logs: callers' args and contexts carry passwords and tokens
      // (service_token, nova's new_pass, a password= in a message), masked as the dashboard masks them
      const { auth_token: _hidden, ...rest } = ctxt;
      io.stdout.write(`${pyDumps({ event: 'invoked', method, args: redact(args), ctxt: redactObject(rest) })}\n`);
    });
    server = new RpcServer(transport, { topic, server: serverName, exchange: values.exchange ?? null }, [endpoint], { pingEnabled: true });
    await server.start(0);
    io.stderr.write(`serving ${topic} / ${topic}.${serverName} on ${transport.url.describe()} (exchange ${values.exchange ?? transport.conf.control_exchange})\n`);
    io.stdout.write(`${pyDumps({ event: 'ready', topic, server: serverName, queues: server.queues })}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      signal?.addEventListener('abort', stop, { once: true });
    });
    return EXIT.ok;
  } catch (err) {
    return reportError(err, io);
  } finally {
    await server?.stop();
    await transport?.close();
  }
}
