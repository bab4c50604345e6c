/**
 * `osloscope ping --topic T [--server S]...`: oslo_rpc_server_ping to every
 * server of a topic (server/tap/ping.ts). Servers come from the broker's
 * `<topic>.<server>` queues (management API) and --server; exit 0 when all
 * answered, 3 when some did not.
 */
import { ManagementInspector } from '../../server/tap/inspector.ts';
import {
  DEFAULT_PING_TIMEOUT_S,
  discoverServers,
  MAX_PING_TIMEOUT_S,
  MIN_PING_TIMEOUT_S,
  pingFleet,
  type FleetPing,
  type ListedQueue,
} from '../../server/tap/ping.ts';
import type { Transport } from '../../server/messaging/index.ts';
import { EXIT, openTransport, parse, reportError, required, UsageError, type Io } from './common.ts';
import { CONFIG_FILE_HELP } from './config-files.ts';

export const PING_HELP = `usage: osloscope ping --topic T [--server S]... [options]

Send oslo_rpc_server_ping (answered by services with rpc_ping_enabled = true) to every server
of a topic and report who answered, in how long, and who did not. Servers are the topic's
<topic>.<server> queues as the management API lists them, plus every --server.

  --topic T                  topic whose servers to ping (required)
  --server S                 ping only this server (repeatable); no management API needed
  --exchange X               exchange (default: the control exchange)
  --timeout S                seconds to wait for each server (default ${DEFAULT_PING_TIMEOUT_S}, ${MIN_PING_TIMEOUT_S}-${MAX_PING_TIMEOUT_S})
  --management-url URL       RabbitMQ management API (default $RABBITMQ_MANAGEMENT_URL, else
                             http://<amqp host>:15672 with the transport URL's credentials)
  --url URL                  transport URL (default $TRANSPORT_URL, the files' transport_url, or rabbit://guest:guest@127.0.0.1:5672/)
  --control-exchange X       default exchange (default $CONTROL_EXCHANGE, the files' control_exchange, or openstack)
${CONFIG_FILE_HELP}
  --json                     the result as one JSON object on stdout; errors as JSON on stderr
  --debug                    log to stderr

A server without rpc_ping_enabled answers NoSuchMethod (or UnsupportedVersion): alive, counted as answered.
exit: 0 every server answered, 3 some did not (or none was found), 2 usage, 5 cannot connect`;

const options = {
  topic: { type: 'string' },
  server: { type: 'string', multiple: true },
  exchange: { type: 'string' },
  timeout: { type: 'string' },
  'management-url': { type: 'string' },
} as const;

interface Discovered {
  queues: ListedQueue[] | null;
  note: string | null;
}

/** The vhost's queues from the management API: the explicit URL, or the AMQP host's :15672 / port+10000. */
async function listQueues(transport: Transport, explicit: string | undefined): Promise<Discovered> {
  const ep = transport.url.amqpEndpoints()[0];
  const vhost = ep?.vhost ?? '/';
  const host = ep ? ep.label.replace(/:\d+$/, '') : '127.0.0.1';
  const urls = explicit ? [explicit] : [...new Set([15672, (ep?.port ?? 5672) + 10000])].map((p) => `http://${host}:${p}`);
  let lastError = '';
  for (const url of urls) {
    const m = new ManagementInspector({ url, vhost, username: ep?.username, password: ep?.password, timeoutMs: explicit ? 10_000 : 3000 });
    try {
      if (!explicit) {
        // a guess counts only when that API serves our AMQP port (another broker on the host lists other queues)
        if (!(await m.servesAmqpPort(ep?.port ?? 5672)).ok) continue;
      }
      return { queues: await m.queues(), note: null };
    } catch (err) {
      lastError = `${m.describe()}: ${(err as Error).message}`;
    }
  }
  return { queues: null, note: `the broker's queues could not be listed (${lastError || 'no management API found'}); give --management-url or --server` };
}

export async function runPingCommand(argv: string[], io: Io): Promise<number> {
  let transport: Transport | undefined;
  try {
    const { values } = parse(argv, options);
    if (values.help) {
      io.stdout.write(`${PING_HELP}\n`);
      return EXIT.ok;
    }
    const topic = required(values.topic, 'topic');
    let timeout = DEFAULT_PING_TIMEOUT_S;
    if (values.timeout !== undefined) {
      timeout = Number(values.timeout);
      if (!Number.isFinite(timeout) || timeout < MIN_PING_TIMEOUT_S || timeout > MAX_PING_TIMEOUT_S) {
        throw new UsageError(`--timeout must be a number of seconds from ${MIN_PING_TIMEOUT_S} to ${MAX_PING_TIMEOUT_S}, got '${values.timeout}'`);
      }
    }
    const mgmt = values['management-url'] ?? io.env.RABBITMQ_MANAGEMENT_URL;
    if (mgmt !== undefined) {
      try {
        new URL(mgmt);
      } catch {
        throw new UsageError(`--management-url is not a URL: '${mgmt}'`);
      }
    }
    const only = values.server ?? [];
    transport = openTransport(values, io);
    // connect (and declare the reply queue) first: a broker that cannot be reached is exit 5, not a missing fleet
    await transport.getReplyWaiter(0);
    const found: Discovered = only.length > 0 ? { queues: null, note: null } : await listQueues(transport, mgmt);
    const candidates = discoverServers({ topic, queues: found.queues, only });
    const result = await pingFleet(transport, {
      topic,
      exchange: values.exchange ?? null,
      candidates,
      timeoutSeconds: timeout,
      discovery: {
        queueSource: found.queues ? 'management' : 'none',
        queues: candidates.filter((c) => c.sources.includes('queue')).length,
        observed: 0,
        given: only.length,
        note: found.note,
      },
    });
    if (values.json) io.stdout.write(`${JSON.stringify(result)}\n`);
    else io.stdout.write(formatPing(result));
    if (result.servers.length === 0) {
      if (!values.json) io.stderr.write(`osloscope ping: no server of topic '${topic}' found${found.note ? `: ${found.note}` : ''}\n`);
      return EXIT.remote;
    }
    return result.missing > 0 ? EXIT.remote : EXIT.ok;
  } catch (err) {
    return reportError(err, io);
  } finally {
    await transport?.close();
  }
}

/** The human view: one header line, one line per server. */
export function formatPing(r: FleetPing): string {
  const lines = [`topic ${r.topic}${r.exchange ? ` on exchange ${r.exchange}` : ''}: ${r.answered} of ${r.servers.length} server(s) answered (timeout ${r.timeoutSeconds} s)`];
  if (r.discovery.note) lines.push(`note: ${r.discovery.note}`);
  const rows = r.servers.map((s) => [s.server, s.status, s.latencyMs === null ? '-' : `${s.latencyMs} ms`, s.consumers === null ? '-' : String(s.consumers), s.sources.join(','), s.message ?? '']);
  if (rows.length > 0) {
    const head = ['SERVER', 'STATUS', 'LATENCY', 'CONSUMERS', 'FROM', ''];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
    for (const row of [head, ...rows]) lines.push(`  ${row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('  ')}`.trimEnd());
  }
  return `${lines.join('\n')}\n`;
}
