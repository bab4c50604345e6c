/**
 * osloscope command line. Every command uses the same messaging core as the
 * web server, through server/messaging/index.ts.
 */
import { runRpcCommand } from './commands/rpc.ts';
import { runNotifyCommand } from './commands/notify.ts';
import { runServeCommand } from './commands/serve.ts';
import { ERROR_CODES, EXIT, writeError, type Io } from './commands/common.ts';

const HELP = `osloscope — watch and drive oslo.messaging RPC traffic on RabbitMQ

usage: osloscope <command> [options]     (osloscope <command> --help for details)

  call     invoke a method and print its JSON result
  cast     invoke a method without waiting (--fanout for every server)
  notify   send a notification (messagingv2 or v1)
  tap      print decoded traffic as NDJSON, or one readable line each (--pretty)
  ping     oslo_rpc_server_ping every server of a topic: who answered, latency, who did not
  serve    run a diagnostic RPC server (echo, add, sleep, fail, ping)
  demo     run the demo fleet of simulated services against a broker
  why      the story of the call(s) a pasted log line, msg_id or request id names, from the history store
  record   run the tap into the history store without the dashboard (headless capture)
  bench    measure RPC throughput and latency vs Python oslo.messaging and raw amqplib

Every command takes --config-file PATH (repeatable) and --config-dir DIR: the oslo.config
files a service uses (nova.conf, neutron.conf) for transport_url, control_exchange and
[oslo_messaging_rabbit]; flags and $TRANSPORT_URL / $CONTROL_EXCHANGE win over them.

Every command takes --json: errors then go to stderr as one JSON object,
{"error":{"code":"usage|remote_error|timeout|cannot_connect|refused|failure","message":...}},
with the same exit codes.

exit codes: 0 ok, 2 usage, 3 remote error (ping: some server did not answer), 4 timeout,
5 cannot connect, 6 refused by the broker`;

type Command = (argv: string[], io: Io) => Promise<number>;

const commands: Record<string, Command> = {
  call: (argv, io) => runRpcCommand('call', argv, io),
  cast: (argv, io) => runRpcCommand('cast', argv, io),
  notify: runNotifyCommand,
  serve: (argv, io) => runServeCommand(argv, io),
  tap: async (argv, io) => (await import('./commands/tap.ts')).runTapCommand(argv, io),
  demo: async (argv, io) => (await import('./commands/demo.ts')).runDemoCommand(argv, io),
  bench: async (argv, io) => (await import('./commands/bench.ts')).runBenchCommand(argv, io),
  ping: async (argv, io) => (await import('./commands/ping.ts')).runPingCommand(argv, io),
  why: async (argv, io) => (await import('./commands/why.ts')).runWhyCommand(argv, io),
  record: async (argv, io) => (await import('./commands/record.ts')).runRecordCommand(argv, io),
};

/** Commands that parse --json themselves and write their errors with writeError. */
const NATIVE_JSON = new Set(['call', 'cast', 'notify', 'serve', 'tap', 'bench', 'ping', 'why']);

/** `--json` among the options (not after a `--`). */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * For a command without its own --json: its stderr lines are held and, when it fails,
 * given as one JSON error (the lines are the message); when it succeeds they pass through.
 */
async function withJsonErrors(command: Command, argv: string[], io: Io): Promise<number> {
  const held: string[] = [];
  let size = 0;
  const stderr = new (await import('node:stream')).Writable({
    write(chunk: Buffer | string, _enc, done) {
      const text = String(chunk);
      if (size < 64 * 1024) held.push(text);
      size += text.length;
      done();
    },
  });
  const end = argv.indexOf('--');
  const rest = end < 0 ? argv.filter((a) => a !== '--json') : [...argv.slice(0, end).filter((a) => a !== '--json'), ...argv.slice(end)];
  // the command writes plain lines (json off): they become the one JSON error below, never JSON inside JSON
  const code = await command(rest, { ...io, stderr, json: false });
  const text = held.join('');
  if (code === EXIT.ok) io.stderr.write(text);
  else writeError({ ...io, json: true }, code, text.trim() || `failed (${ERROR_CODES[code] ?? 'failure'})`);
  return code;
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  const json = wantsJson(argv);
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    if (!name && json) return writeError({ ...io, json }, EXIT.usage, 'osloscope: no command given (try osloscope --help)');
    io.stdout.write(`${HELP}\n`);
    return name ? EXIT.ok : EXIT.usage;
  }
  const command = commands[name];
  if (!command) return writeError({ ...io, json }, EXIT.usage, `osloscope: unknown command '${name}' (try osloscope --help)`);
  if (json && !NATIVE_JSON.has(name)) return withJsonErrors(command, rest, io);
  return command(rest, json ? { ...io, json } : io);
}

const isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) {
  const io: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
      // Commands close their connections; leave no timer keeping the process alive.
      setTimeout(() => process.exit(code), 200).unref();
    },
    (err: unknown) => {
      writeError({ stderr: process.stderr, json: wantsJson(process.argv.slice(2)) }, EXIT.failure, `osloscope: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
