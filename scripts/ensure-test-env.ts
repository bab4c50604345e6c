/**
 * `npm test`'s pretest: makes sure this machine can run every test layer.
 *
 * - RabbitMQ reachable at TEST_AMQP_URL (a real AMQP connect); a local
 *   rabbitmq-server is installed (apt, as root) and started when needed;
 * - its management API answering at TEST_RABBITMQ_MANAGEMENT_URL (the tap
 *   tests use it); the plugin is enabled when it does not;
 * - Debian's /usr/bin/python3 importing oslo_messaging (interop peers) and
 *   eventlet (green-thread benchmark), installed with apt as root;
 * - /usr/bin/chromium for the Playwright specs, installed with apt as root.
 *
 * One `[test-env]` line per check or action. Exits non-zero naming what is
 * missing when it cannot fix it (not root, remote broker, ...). Fast when
 * everything is there: the checks run concurrently.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import amqplib from 'amqplib';

const AMQP_URL = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MANAGEMENT_URL = process.env.TEST_RABBITMQ_MANAGEMENT_URL ?? 'http://127.0.0.1:15672';
const PYTHON = '/usr/bin/python3';
const CHROMIUM = '/usr/bin/chromium';
const NGINX = '/usr/sbin/nginx';
const BROKER_START_TIMEOUT_MS = 60_000;
const MANAGEMENT_START_TIMEOUT_MS = 45_000;
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

const problems: string[] = [];

function say(line: string): void {
  console.log(`[test-env] ${line}`);
}

function problem(line: string): void {
  problems.push(line);
  say(`MISSING: ${line}`);
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code} ${err.message}` : err.message;
  }
  return String(err);
}

interface RunResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, env: childEnv() }, (err, stdout, stderr) => {
      resolve({ ok: !err, stdout: String(stdout), stderr: String(stderr) || (err ? errorText(err) : '') });
    });
  });
}

/** Runs a command with its output shown (apt-get). */
function runVisible(cmd: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env: childEnv() });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Debian's Python must not pick up the settings of another Python on PATH.
  delete env.PYTHONHOME;
  delete env.PYTHONPATH;
  // Faster imports for the probe (see test/interop/python-peer.ts).
  env.EVENTLET_NO_GREENDNS = 'yes';
  env.SETUPTOOLS_USE_DISTUTILS = 'stdlib';
  return env;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  return dirs
    .filter((d) => d.startsWith('/'))
    .map((d) => `${d}/${name}`)
    .find((p) => existsSync(p));
}

// ---------------------------------------------------------------- broker

interface BrokerAddress {
  host: string;
  port: number;
  user: string;
  password: string;
  label: string;
}

function brokerAddress(url: string): BrokerAddress {
  const u = new URL(url);
  const port = u.port ? Number(u.port) : u.protocol === 'amqps:' ? 5671 : 5672;
  const host = u.hostname || 'localhost';
  return {
    host,
    port,
    user: decodeURIComponent(u.username) || 'guest',
    password: decodeURIComponent(u.password) || 'guest',
    label: `${host}:${port}`,
  };
}

async function amqpConnect(url: string): Promise<string | null> {
  try {
    const conn = await amqplib.connect(url, { timeout: 3_000 });
    await conn.close();
    return null;
  } catch (err) {
    return errorText(err);
  }
}

async function waitForBroker(url: string, timeoutMs: number): Promise<string | null> {
  const deadline = Date.now() + timeoutMs;
  let last: string | null = 'not tried';
  while (Date.now() < deadline) {
    last = await amqpConnect(url);
    if (last === null) return null;
    await sleep(1_000);
  }
  return last;
}

// ------------------------------------------------------------ management

async function managementStatus(addr: BrokerAddress): Promise<{ ok: boolean; detail: string }> {
  const auth = Buffer.from(`${addr.user}:${addr.password}`).toString('base64');
  try {
    const res = await fetch(new URL('/api/overview', MANAGEMENT_URL), {
      headers: { authorization: `Basic ${auth}` },
      signal: AbortSignal.timeout(3_000),
    });
    if (res.status === 200) {
      const body = (await res.json()) as { rabbitmq_version?: string };
      return { ok: true, detail: `RabbitMQ ${body.rabbitmq_version ?? '?'}` };
    }
    return { ok: false, detail: `HTTP ${res.status}` };
  } catch (err) {
    const cause = err instanceof Error && err.cause ? errorText(err.cause) : errorText(err);
    return { ok: false, detail: cause };
  }
}

// ------------------------------------------------------------------ main

// One interpreter start for both imports (importing oslo_messaging alone
// takes most of a second).
const PYTHON_PROBE = `
import json
out = {"oslo": None, "eventlet": False}
try:
    import oslo_messaging, importlib.metadata as m
    out["oslo"] = m.version("oslo.messaging")
except Exception as e:
    out["error"] = repr(e)
try:
    import eventlet
    out["eventlet"] = True
except Exception:
    pass
print(json.dumps(out))
`;

async function pythonCheck(): Promise<{ oslo: string | null; eventlet: boolean; error?: string }> {
  if (!existsSync(PYTHON)) return { oslo: null, eventlet: false, error: `${PYTHON} not found` };
  const res = await run(PYTHON, ['-c', PYTHON_PROBE], 30_000);
  try {
    const parsed = JSON.parse(res.stdout) as { oslo: string | null; eventlet: boolean; error?: string };
    return parsed;
  } catch {
    return { oslo: null, eventlet: false, error: res.stderr.trim() || 'no output' };
  }
}

let aptUpdated = false;

async function aptInstall(packages: string[]): Promise<boolean> {
  if (!aptUpdated) {
    say('apt-get update');
    if (!(await runVisible('apt-get', ['update']))) {
      say('apt-get update failed');
      return false;
    }
    aptUpdated = true;
  }
  say(`apt-get install -y ${packages.join(' ')}`);
  return runVisible('apt-get', ['install', '-y', ...packages]);
}

async function startLocalBroker(addr: BrokerAddress): Promise<void> {
  const server = findExecutable('rabbitmq-server');
  if (!server) {
    problem('rabbitmq-server is not installed (apt-get install rabbitmq-server)');
    return;
  }
  // Never start a second node next to a running one: it would only clash.
  const ctl = findExecutable('rabbitmqctl');
  if (ctl && (await run(ctl, ['-q', 'status'], 20_000)).ok) {
    problem(`a local RabbitMQ node is running but nothing accepts AMQP at ${addr.label}; check TEST_AMQP_URL and the node's listeners`);
    return;
  }
  if (!IS_ROOT) {
    problem(`RabbitMQ is not running at ${addr.label} and starting rabbitmq-server needs root (sudo rabbitmq-server -detached)`);
    return;
  }
  say('starting rabbitmq-server -detached');
  const started = await run(server, ['-detached'], 30_000);
  if (!started.ok) say(`rabbitmq-server -detached: ${started.stderr.trim()}`);
  const err = await waitForBroker(AMQP_URL, BROKER_START_TIMEOUT_MS);
  if (err === null) say(`started rabbitmq-server; broker ${addr.label} reachable`);
  else problem(`started rabbitmq-server but ${addr.label} still refuses AMQP after ${BROKER_START_TIMEOUT_MS / 1000} s: ${err}`);
}

async function ensureManagement(
  addr: BrokerAddress,
  local: boolean,
  first: { ok: boolean; detail: string },
): Promise<void> {
  if (first.ok) {
    say(`management API ${MANAGEMENT_URL} answers (${first.detail})`);
    return;
  }
  if (first.detail === 'HTTP 401') {
    problem(`management API ${MANAGEMENT_URL} rejects ${addr.user}'s credentials (HTTP 401)`);
    return;
  }
  const plugins = findExecutable('rabbitmq-plugins');
  if (!local || !plugins) {
    problem(`management API ${MANAGEMENT_URL} does not answer (${first.detail}); enable it: rabbitmq-plugins enable rabbitmq_management`);
    return;
  }
  say(`management API ${MANAGEMENT_URL} does not answer (${first.detail}); enabling rabbitmq_management`);
  const enabled = await run(plugins, ['enable', 'rabbitmq_management'], 60_000);
  if (!enabled.ok) {
    problem(`rabbitmq-plugins enable rabbitmq_management failed${IS_ROOT ? '' : ' (not root)'}: ${enabled.stderr.trim().split('\n').slice(-3).join(' ')}`);
    return;
  }
  const deadline = Date.now() + MANAGEMENT_START_TIMEOUT_MS;
  let last = first;
  while (Date.now() < deadline) {
    last = await managementStatus(addr);
    if (last.ok) {
      say(`enabled rabbitmq_management; API ${MANAGEMENT_URL} answers (${last.detail})`);
      return;
    }
    await sleep(1_000);
  }
  problem(`enabled rabbitmq_management but ${MANAGEMENT_URL} still does not answer (${last.detail})`);
}

async function main(): Promise<void> {
  const started = Date.now();
  let addr: BrokerAddress;
  try {
    addr = brokerAddress(AMQP_URL);
  } catch {
    problem(`TEST_AMQP_URL is not a URL: ${AMQP_URL}`);
    return;
  }
  const local = LOCAL_HOSTS.has(addr.host);

  // Look at everything at once; fix afterwards.
  const [brokerErr, python, management] = await Promise.all([
    amqpConnect(AMQP_URL),
    pythonCheck(),
    managementStatus(addr),
  ]);
  const chromium = existsSync(CHROMIUM);
  // the reverse-proxy e2e (e2e/nginx.spec.ts) runs nginx as its own child; the system service is never used
  const nginx = existsSync(NGINX);

  const brokerOk = brokerErr === null;
  // A broker that answers but refuses the login is up: nothing to start.
  const loginRefused = brokerErr !== null && /ACCESS[-_]REFUSED|\b403\b/.test(brokerErr);
  if (brokerOk) say(`broker ${addr.label} reachable`);
  else say(`broker ${addr.label} not reachable (${brokerErr})`);
  if (loginRefused) problem(`broker ${addr.label} refuses the login of TEST_AMQP_URL's user ${addr.user}`);
  if (python.oslo) say(`${PYTHON} imports oslo_messaging ${python.oslo}`);
  else say(`${PYTHON} cannot import oslo_messaging${python.error ? ` (${python.error})` : ''}`);
  if (python.eventlet) say(`${PYTHON} imports eventlet`);
  else say(`${PYTHON} cannot import eventlet`);
  say(chromium ? `chromium ${CHROMIUM} present` : `chromium ${CHROMIUM} not found`);
  say(nginx ? `nginx ${NGINX} present` : `nginx ${NGINX} not found`);

  // The broker can only be fixed here when it is local and on the port a
  // local node uses.
  const localPort = Number(process.env.RABBITMQ_NODE_PORT ?? 5672);
  const brokerFixable = !brokerOk && !loginRefused && local && addr.port === localPort;
  if (!brokerOk && !loginRefused && !brokerFixable) {
    problem(
      local
        ? `nothing accepts AMQP at ${addr.label} and a local rabbitmq-server would listen on ${localPort}, not ${addr.port}; point TEST_AMQP_URL at a running broker`
        : `broker ${addr.label} (TEST_AMQP_URL) is not reachable and is not on this machine; start it there`,
    );
  }

  const wanted: Array<[pkg: string, why: string]> = [];
  if (brokerFixable && !findExecutable('rabbitmq-server')) wanted.push(['rabbitmq-server', 'rabbitmq-server not installed']);
  if (!python.oslo) wanted.push(['python3-oslo.messaging', `${PYTHON} cannot import oslo_messaging`]);
  if (!python.eventlet) wanted.push(['python3-eventlet', `${PYTHON} cannot import eventlet`]);
  if (!chromium) wanted.push(['chromium', `${CHROMIUM} not found`]);
  // promtool checks the alerting rules and a live /metrics (test/integration/deploy-promtool.test.ts)
  const promtool = findExecutable('promtool');
  if (!promtool) wanted.push(['prometheus', 'promtool not found']);
  if (!nginx) wanted.push(['nginx', `${NGINX} not found`]);

  if (wanted.length) {
    const pkgs = wanted.map(([p]) => p);
    if (!IS_ROOT) {
      for (const [pkg, why] of wanted) {
        if (pkg === 'python3-eventlet') say(`WARNING: ${why} (only bench-client --green needs it): apt-get install ${pkg}`);
        else if (pkg === 'prometheus' && !process.env.CI) say(`WARNING: ${why} (the deploy files check skips without it): apt-get install ${pkg}`);
        else problem(`${why}; not root, cannot install it: sudo apt-get install ${pkg}`);
      }
    } else if (await aptInstall(pkgs)) {
      say(`installed ${pkgs.join(', ')}`);
      const again = await pythonCheck();
      if (!python.oslo && !again.oslo) problem(`${PYTHON} still cannot import oslo_messaging after installing python3-oslo.messaging`);
      if (!python.eventlet && !again.eventlet) problem(`${PYTHON} still cannot import eventlet after installing python3-eventlet`);
      if (!chromium && !existsSync(CHROMIUM)) problem(`${CHROMIUM} still missing after installing chromium`);
      if (!promtool && !findExecutable('promtool')) problem('promtool still missing after installing prometheus');
    } else {
      problem(`apt-get install ${pkgs.join(' ')} failed`);
    }
  }

  let brokerUp = brokerOk;
  if (brokerFixable) {
    // A fresh install may have started the service already.
    if ((await amqpConnect(AMQP_URL)) === null) {
      say(`broker ${addr.label} reachable`);
      brokerUp = true;
    } else {
      await startLocalBroker(addr);
      brokerUp = (await amqpConnect(AMQP_URL)) === null;
    }
  }

  // Re-probe only when the broker was just started.
  if (brokerUp) await ensureManagement(addr, local, brokerOk ? management : await managementStatus(addr));
  else say('management API not checked: no broker');

  if (!problems.length) say(`ready (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

main()
  .catch((err: unknown) => {
    problem(`unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  })
  .finally(() => {
    if (problems.length) {
      console.error(`[test-env] cannot run the tests; fix ${problems.length === 1 ? 'this' : 'these'} first:`);
      for (const p of problems) console.error(`[test-env]   - ${p}`);
      process.exit(1);
    }
    process.exit(0);
  });
