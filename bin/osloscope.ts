/**
 * osloscope command line. Every command uses the same messaging core as the
 * web server, through server/messaging/index.ts.
 */
import { runRpcCommand } from './commands/rpc.ts';
import { runNotifyCommand } from './commands/notify.ts';
import { runServeCommand } from './commands/serve.ts';
import { EXIT, type Io } from './commands/common.ts';

const HELP = `osloscope — watch and drive oslo.messaging RPC traffic on RabbitMQ

usage: osloscope <command> [options]     (osloscope <command> --help for details)

  call     invoke a method and print its JSON result
  cast     invoke a method without waiting (--fanout for every server)
  notify   send a notification (messagingv2 or v1)
  tap      print decoded traffic as NDJSON (--count, --seconds, --firehose)
  serve    run a diagnostic RPC server (echo, add, sleep, fail, ping)
  demo     run the demo fleet of simulated services against a broker
  bench    measure RPC throughput and latency vs Python oslo.messaging and raw amqplib

Every command takes --config-file PATH (repeatable) and --config-dir DIR: the oslo.config
files a service uses (nova.conf, neutron.conf) for transport_url, control_exchange and
[oslo_messaging_rabbit]; flags and $TRANSPORT_URL / $CONTROL_EXCHANGE win over them.

exit codes: 0 ok, 2 usage, 3 remote error, 4 timeout, 5 cannot connect`;

type Command = (argv: string[], io: Io) => Promise<number>;

const commands: Record<string, Command> = {
  call: (argv, io) => runRpcCommand('call', argv, io),
  cast: (argv, io) => runRpcCommand('cast', argv, io),
  notify: runNotifyCommand,
  serve: (argv, io) => runServeCommand(argv, io),
  tap: async (argv, io) => (await import('../server/tap/tap-command.ts')).runTapCommand(argv, io),
  demo: async (argv, io) => (await import('../server/demo/demo-command.ts')).runDemoCommand(argv, io),
  bench: async (argv, io) => (await import('./commands/bench.ts')).runBenchCommand(argv, io),
};

export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(`${HELP}\n`);
    return name ? EXIT.ok : EXIT.usage;
  }
  const command = commands[name];
  if (!command) {
    io.stderr.write(`osloscope: unknown command '${name}' (try osloscope --help)\n`);
    return EXIT.usage;
  }
  return command(rest, io);
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
      process.stderr.write(`osloscope: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
