/**
 * No marked secret in any output channel, on the real RabbitMQ.
 *
 * In a throw-away vhost with tracing on (so the tap also sees replies), real
 * oslo.messaging traffic carries marked secrets everywhere a service puts
 * them: request contexts (`_context_auth_token`, service tokens), call args
 * (nova's `new_pass`, `adminPass`, `ssh_key`, `encryption_key_id`,
 * `password=` and `Authorization: Bearer` inside strings), reply results,
 * remote failures with tracebacks, notifications, and bodies that cannot be
 * decoded (text and invalid UTF-8, published raw with amqplib). Watching are
 * the server (HTTP API, NDJSON export, /api/rpc/history, socket.io frames,
 * its log at debug), `osloscope tap` and `osloscope serve` as a user runs
 * them. Every byte they write is searched for the mark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import amqplib from 'amqplib';
import pino from 'pino';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_EVENTS, type TrafficBatch } from '../../lib/socket-contracts.ts';
import { loadConfig } from '../../server/config.ts';
import { loggerOptions, startOsloscope, type RunningServer } from '../../server/index.ts';
import { Notifier, RpcClient, Transport } from '../../server/messaging/index.ts';
import { createTestVhost, managementAvailable, TEST_MANAGEMENT_URL, waitFor, type TestVhost } from '../../server/tap/test-support.ts';
import { pythonAvailable, startPeer, type PythonPeer } from '../interop/python-peer.ts';
import { tempHistoryDatabase } from '../../server/store/test-db.ts';

const BIN = fileURLToPath(new URL('../../bin/osloscope', import.meta.url));
const available = await managementAvailable();
if (!available && process.env.CI) throw new Error('RabbitMQ management API not reachable at ' + TEST_MANAGEMENT_URL);
const python = await pythonAvailable();
if (!python) {
  if (process.env.CI) throw new Error('python3 cannot import oslo_messaging');
  console.warn('\n*** secrets proof: no Python oslo.messaging, its peers are left out ***\n');
}

/** Every secret carries this; finding it anywhere is a leak. */
const MARK = `Mk${randomBytes(3).toString('hex')}`;
let n = 0;
const secret = (): string => `${MARK}x${++n}`;

interface Child {
  proc: ChildProcess;
  out: string[];
}

function start(args: string[], readyWhen: (line: string) => boolean): Promise<Child> {
  const proc = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'debug' } });
  const child: Child = { proc, out: [] };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`osloscope ${args[0]} did not start: ${child.out.join('')}`)), 30_000);
    let buf = '';
    const take = (d: Buffer) => {
      child.out.push(d.toString());
      buf += d.toString();
      if (buf.split('\n').some(readyWhen)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    proc.stdout!.on('data', take);
    proc.stderr!.on('data', take);
    proc.once('exit', (code) => reject(new Error(`osloscope ${args[0]} exited ${code}: ${child.out.join('')}`)));
  });
}

describe.skipIf(!available)('marked secrets on the real broker', () => {
  let vh: TestVhost;
  let srv: RunningServer;
  let tapCli: Child;
  let serveCli: Child;
  const logLines: string[] = [];
  const frames: string[] = [];
  const transports: Transport[] = [];
  const peers: PythonPeer[] = [];
  let socket: Socket;
  const topic = `sec-${randomBytes(3).toString('hex')}`;
  let published = 0;
  /** messages the socket's traffic batches carried (or counted as skipped) */
  let pushedMessages = 0;

  beforeAll(async () => {
    vh = await createTestVhost('osloscope-secrets', { tracing: true });
    const log = pino(
      loggerOptions('debug'),
      new Writable({
        write(chunk, _enc, cb) {
          logLines.push(chunk.toString());
          cb();
        },
      }),
    );
    srv = await startOsloscope(
      loadConfig({
        PORT: '0',
        DEMO_FLEET: 'off',
        TRANSPORT_URL: vh.url,
        CONTROL_EXCHANGE: 'nova',
        TAP_MODE: 'firehose',
        RABBITMQ_MANAGEMENT_URL: TEST_MANAGEMENT_URL,
        AUDIT_LOG: join(mkdtempSync(join(tmpdir(), 'osloscope-secrets-')), 'audit.log'),
        HISTORY_DATABASE: tempHistoryDatabase(),
        LOG_LEVEL: 'debug',
      }),
      { withoutPages: true, log },
    );
    await waitFor(async () => ((await (await fetch(`${srv.url}/api/health`)).json()) as { data: { tap?: { state: string } } }).data.tap?.state === 'running', 'the tap');
    socket = connect(srv.url, { path: '/socket.io', transports: ['websocket'], reconnection: false, forceNew: true });
    socket.onAny((event: string, payload: unknown) => {
      frames.push(`${event} ${JSON.stringify(payload)}`);
      if (event === SERVER_EVENTS.trafficBatch) {
        const batch = payload as TrafficBatch;
        pushedMessages += batch.messages.length + batch.skipped;
      }
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    for (const [event, payload] of [
      ['traffic:subscribe', { filter: '' }],
      ['calls:subscribe', {}],
      ['status:subscribe', {}],
    ] as const) {
      const ack = await socket.timeout(5000).emitWithAck(event, payload);
      frames.push(`${event}:ack ${JSON.stringify(ack)}`);
    }
    tapCli = await start(['tap', '--url', vh.url, '--firehose', '--exchange', 'nova', '--management-url', TEST_MANAGEMENT_URL], (l) => /tapping|firehose|listening|mode/i.test(l));
    serveCli = await start(['serve', '--debug', '--url', vh.url, '--control-exchange', 'nova', '--topic', topic, '--server', 'h1'], (l) => l.includes('"ready"'));
  }, 90_000);

  afterAll(async () => {
    socket?.close();
    await Promise.all(peers.map((p) => p.stop().catch(() => undefined)));
    tapCli?.proc.kill('SIGTERM');
    serveCli?.proc.kill('SIGTERM');
    await Promise.all(transports.map((t) => t.close().catch(() => undefined)));
    await srv?.close();
    await vh?.remove();
  });

  function transport(prog: string): Transport {
    const t = new Transport(vh.url, { programName: prog, conf: { control_exchange: 'nova' } });
    transports.push(t);
    return t;
  }

  it('publishes calls, replies, failures with tracebacks, notifications and undecodable bodies full of secrets', async () => {
    const client = new RpcClient(transport('nova-api'), { topic, server: 'h1' }, { timeout: 15 });
    const ctxt = { user: 'u1', project_id: 'p1', request_id: 'req-sec-1', auth_token: secret(), service_token: secret(), service_user_password: secret() };
    // echo returns `value`: every secret travels in the call and back in the reply
    await client.call(ctxt, 'echo', {
      value: {
        new_pass: secret(),
        adminPass: secret(),
        admin_pass: secret(),
        ssh_key: `ssh-rsa ${secret()} root@h`,
        encryption_key_id: secret(),
        connection_info: { auth_password: secret(), data: { secret_uuid: secret() } },
        note: `retry with password=${secret()} and Authorization: Bearer ${secret()}`,
        transport_url: `rabbit://nova:${secret()}@ctl:5672/`,
        instance: { name: 'vm-visible', key_name: 'mykey' },
      },
    });
    published += 2;
    // a remote failure: message and traceback quote the secret
    await expect(client.call(ctxt, 'fail', { message: `Failed to set admin password: new_pass=${secret()} token: ${secret()}` })).rejects.toThrow();
    published += 2;
    // fired from the dashboard: the error lands in /api/rpc/history too
    const fired = await fetch(`${srv.url}/api/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ target: { topic, server: 'h1' }, method: 'fail', args: { message: `keystone said X-Auth-Token: ${secret()} adminPass='${secret()}'` }, context: { auth_token: secret() } }),
    });
    expect(fired.status).toBe(502);
    published += 2;
    await new Notifier(transport('nova-compute'), { publisherId: 'compute.h1' }).info({ auth_token: secret(), user: 'u1' }, 'compute.instance.rebuild.start', {
      new_pass: secret(),
      admin_password: secret(),
      message: `rebuild with password=${secret()}`,
    });
    published += 1;
    const amqp = await amqplib.connect(vh.amqpUrl);
    try {
      const ch = await amqp.createConfirmChannel();
      const body1 = `{"oslo.version": "2.0", "oslo.message": "{\\"_context_auth_token\\": \\"${secret()}\\", \\"method\\": \\"x\\", \\"args\\": {\\"password\\": \\"${secret()}\\"}, broken`;
      ch.publish('nova', topic, Buffer.from(body1), { contentType: 'application/json' });
      const body2 = Buffer.concat([Buffer.from(`{"_context_auth_token": "${secret()}", "new_pass": "${secret()}", "x": "`), Buffer.from([0xff, 0xfe, 0xfd])]);
      ch.publish('nova', topic, body2, { contentType: 'application/json' });
      const body3 = `Traceback (most recent call last):\n  File "x.py", line 1\nkeystoneauth1.exceptions.Unauthorized: {'X-Auth-Token': '${secret()}', 'password': '${secret()}'}`;
      ch.publish('nova', topic, Buffer.from(body3));
      await ch.waitForConfirms();
      published += 3;
    } finally {
      await amqp.close();
    }
    if (python) {
      // real oslo.messaging: its own envelope, context serialisation, traceback and notifier
      const pyTopic = `${topic}-py`;
      const pyServer = await startPeer('rpc-server', ['--url', vh.url, '--topic', pyTopic, '--server', 'py1', '--conf', 'control_exchange=nova']);
      const pyClient = await startPeer('rpc-client', ['--url', vh.url, '--conf', 'control_exchange=nova']);
      const pyNotifier = await startPeer('notify', ['--url', vh.url]);
      peers.push(pyServer, pyClient, pyNotifier);
      const pyCtxt = { auth_token: secret(), request_id: 'req-sec-py', user_id: 'u1', project_id: 'p1' };
      const ok = await pyClient.rpc({ op: 'call', target: { topic: pyTopic }, method: 'echo', args: { value: { adminPass: secret(), password: secret(), note: `Authorization: Bearer ${secret()}` } }, ctxt: pyCtxt, timeout: 20 });
      expect(ok.ok).toBe(true);
      const failed = await pyClient.rpc({ op: 'call', target: { topic: pyTopic }, method: 'fail', args: { message: `rebuild failed: new_pass=${secret()} admin_pass=${secret()}` }, ctxt: pyCtxt, timeout: 20 });
      expect(failed.ok).toBe(false);
      await pyNotifier.notify({ driver: 'messagingv2', publisher_id: 'compute.py1', event_type: 'compute.instance.rebuild.end', priority: 'info', payload: { new_pass: secret(), ssh_key: secret() }, ctxt: pyCtxt });
      published += 5;
    }
    // the tap saw it all (calls, replies, the notification, the undecodable ones)
    await waitFor(
      async () => {
        const r = (await (await fetch(`${srv.url}/api/messages?limit=1000`)).json()) as { data: { messages?: unknown[] } | unknown[] };
        const list = Array.isArray(r.data) ? r.data : (r.data.messages ?? []);
        return list.length >= published;
      },
      'the tap to see every message',
      30_000,
    );
    await waitFor(() => tapCli.out.join('').split('\n').filter((l) => l.startsWith('{')).length >= published - 1, '`osloscope tap` to print them', 30_000);
    // the socket carried every message too, and a status push came after the last of them
    await waitFor(() => pushedMessages >= published, 'the socket to push every message', 30_000);
    const mark = frames.length;
    await waitFor(() => frames.slice(mark).some((f) => f.startsWith(`${SERVER_EVENTS.statusUpdate} `)), 'a status push after the traffic', 15_000);
  }, 120_000);

  it('shows what is not secret, so the channels really carry the traffic', async () => {
    const messages = await (await fetch(`${srv.url}/api/messages?limit=1000`)).text();
    expect(messages).toContain('vm-visible');
    expect(messages).toContain('"kind":"unknown"');
    expect(messages).toContain('req-sec-1');
    expect(tapCli.out.join('')).toContain('vm-visible');
    expect(serveCli.out.join('')).toContain('vm-visible');
    expect(frames.join('\n')).toContain('vm-visible');
    expect(await (await fetch(`${srv.url}/api/rpc/history`)).text()).toContain('keystone said');
    expect(n).toBeGreaterThan(25);
    if (python) {
      expect(messages).toContain('req-sec-py');
      expect(messages).toContain('compute.instance.rebuild.end');
      expect(messages).toMatch(/"tb":\["Traceback \(most recent call last\)/);
    }
  });

  it('no marked secret in any output channel', async () => {
    const channels: Record<string, string> = {
      'GET /api/messages': await (await fetch(`${srv.url}/api/messages?limit=1000`)).text(),
      'NDJSON export': await (await fetch(`${srv.url}/api/messages?format=ndjson`)).text(),
      'GET /api/rpc/history': await (await fetch(`${srv.url}/api/rpc/history`)).text(),
      'GET /api/calls': await (await fetch(`${srv.url}/api/calls`)).text(),
      'GET /api/status': await (await fetch(`${srv.url}/api/status`)).text(),
      'socket.io frames': frames.join('\n'),
      'osloscope tap (stdout+stderr)': tapCli.out.join(''),
      'osloscope serve --debug (stdout+stderr)': serveCli.out.join(''),
      'server log at debug': logLines.join(''),
    };
    const leaks = Object.entries(channels)
      .filter(([, text]) => text.includes(MARK))
      .map(([name, text]) => {
        const i = text.indexOf(MARK);
        return `${name}: …${text.slice(Math.max(0, i - 160), i + 40)}…`;
      });
    expect(leaks).toEqual([]);
    // the NDJSON export held every message
    expect(channels['NDJSON export'].trim().split('\n').length).toBeGreaterThanOrEqual(published);
  });
});
