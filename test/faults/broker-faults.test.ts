/**
 * The fault suite (issue #8, "Proof"): a RabbitMQ node of its own (`scripts/stacks/stack up
 * sid-fault`, RabbitMQ 4.3 on AMQP 5691) that this file stops, starts and cuts at will, with
 * steady traffic between real peers (a Python oslo.messaging RPC server, osloscope casting to it
 * and its own RpcServer answering), the tap running and fired calls in flight at every cut.
 *
 * - FAULT_RESTARTS (default 20) broker stop/start cycles: the tap must consume again within 2 s of the
 *   broker accepting TCP connections (polled every 20 ms while it boots). Every FAULT_NODE_EVERY-th
 *   cycle (default 5, starting with the first) stops and starts the whole node (Erlang VM and all,
 *   27-71 s a cycle on the loaded test machine); the others stop and start the broker application
 *   (`rabbitmqctl stop_app` / `start_app`, 12-20 s), which looks the same to clients: every
 *   connection closed with a shutdown reason, connections refused until the listener comes back;
 * - FAULT_CUTS (default 20) close-all-connections cuts (`rabbitmqctl close_all_connections -p VHOST`
 *   for the first two, then the same close of every connection of the vhost through the management
 *   API, which spares the CLI's start-up): the tap must consume again within 2 s of losing its
 *   connection;
 * - at every cut, calls fired and still pending fail at once (within 1 s of the reply connection's
 *   loss) with ConnectionLost, never a MessagingTimeout;
 * - nothing hangs: every wait has a deadline.
 *
 * The tap runs with oslo's default retry policy (rabbit_retry_interval 1 s, +2 s, kombu_reconnect_delay
 * 1 s), as users run it: the quick first attempts of listen links are what is measured. The
 * distributions (min / median / max) are printed at the end of each test. A recovery slower than
 * FAULT_TRACE_MS (default 1000) prints what the tap's transport did meanwhile (wireTrace: connect attempts,
 * each replay step and how long the broker took, refusals, states, log lines).
 *
 * Runs only in the matrix's sid-fault cell (TEST_STACK=sid-fault); never against the shared brokers.
 */
import { execFile, spawn } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionLost, MessagingTimeout, RpcClient, RpcServer, Transport, type Endpoint, type Link } from '../../server/messaging/index.ts';
import { ManagementInspector, Tap } from '../../server/tap/index.ts';
import { startPeer, stopAllPeers, uniqueName } from '../interop/python-peer.ts';
import { eventually } from '../support/brokers.ts';

const run = promisify(execFile);
const STACK = fileURLToPath(new URL('../../scripts/stacks/stack', import.meta.url));
const inFault = process.env.TEST_STACK === 'sid-fault';
const RESTARTS = Number.parseInt(process.env.FAULT_RESTARTS ?? '', 10) || 20;
const CUTS = Number.parseInt(process.env.FAULT_CUTS ?? '', 10) || 20;
const NODE_EVERY = Number.parseInt(process.env.FAULT_NODE_EVERY ?? '', 10) || 5;
/** issue #8 item 2: tap consuming again within 2 s of the broker accepting connections */
const TARGET_MS = 2000;
const TRACE_MS = Number(process.env.FAULT_TRACE_MS ?? 1000);
/** pending fired calls fail within this long of the reply connection's loss */
const FAIL_FAST_MS = 1000;
const AMQP = new URL(process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5691');
const MGMT = process.env.TEST_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15691';
if (inFault && AMQP.port !== '5691') throw new Error(`TEST_STACK=sid-fault expects the fault node on AMQP 5691, got ${AMQP.host}`);

async function stack(...args: string[]): Promise<void> {
  await run(STACK, args, { timeout: 240_000 });
}

/** The fault node up with its broker application running, whatever an earlier cycle left behind. */
async function ensureUp(): Promise<void> {
  await stack('ctl', 'sid-fault', 'start_app').catch(() => undefined); // the node is up with the app stopped
  await stack('node-start', 'sid-fault', '1');
}

/** Resolves once the port accepts a TCP connection (the broker opens its listener last in its boot). */
async function waitAccepting(port: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect({ host: '127.0.0.1', port });
      s.setTimeout(500);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.once('timeout', () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return Date.now();
    if (Date.now() > deadline) throw new Error(`port ${port} not accepting after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return `n=${s.length} min=${s[0]} median=${q(0.5)} p90=${q(0.9)} max=${s.at(-1)} ms`;
}

/**
 * Everything the tap's transport does on the wire while it recovers, with times: each connect attempt (start,
 * outcome, duration), each step on its links (declare, bind, consume, ... and how long the broker took to answer),
 * its links' states and its log lines. Printed for a recovery slower than a second, to tell a connect that hangs
 * from a replay step refused or slow, a late loss or a back-off sleep.
 */
function wireTrace(transport: Transport, logged: { at: number; text: string }[]) {
  const lines = logged;
  const note = (text: string) => lines.push({ at: Date.now(), text });
  const driver = transport.driver;
  const connect = driver.connect.bind(driver);
  let n = 0;
  driver.connect = async (options) => {
    const id = ++n;
    const t0 = Date.now();
    note(`connect#${id} attempt=${options.attempt ?? 0} starts`);
    let link: Link;
    try {
      link = await connect(options);
    } catch (err) {
      note(`connect#${id} failed after ${Date.now() - t0} ms: ${(err as Error).message}`);
      throw err;
    }
    note(`connect#${id} open after ${Date.now() - t0} ms`);
    return new Proxy(link, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function' || !TRACED.has(String(prop))) return typeof value === 'function' ? value.bind(target) : value;
        return async (...args: unknown[]) => {
          const s = Date.now();
          const what = `connect#${id} ${String(prop)} ${typeof args[0] === 'string' ? args[0] : ''}${typeof args[1] === 'string' ? ` ${args[1]}` : ''}`;
          try {
            const r = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            if (Date.now() - s > 50) note(`${what} ok after ${Date.now() - s} ms`);
            return r;
          } catch (err) {
            note(`${what} failed after ${Date.now() - s} ms: ${(err as Error).message}`);
            throw err;
          }
        };
      },
    });
  };
  transport.events.on((e) => {
    if (e.type === 'connection:state') note(`${e.purpose} ${e.connection.slice(-8)} ${e.state}${e.error ? `: ${e.error}` : ''}`);
  });
  return {
    since(from: number): string {
      return lines
        .filter((l) => l.at >= from)
        .map((l) => `\n  +${l.at - from} ms ${l.text.slice(0, 300)}`)
        .join('');
    },
  };
}
const TRACED = new Set(['assertExchange', 'ensureExchange', 'assertQueue', 'ensureQueue', 'checkQueue', 'checkExchange', 'bindQueue', 'prefetch', 'consume', 'close']);

/** Timestamps of a transport's listen links going down and coming back. */
function linkWatch(transport: Transport) {
  const events: { at: number; state: string; connection: string }[] = [];
  transport.events.on((e) => {
    if (e.type === 'connection:state' && e.purpose === 'listen' && (e.state === 'connected' || e.state === 'disconnected')) {
      events.push({ at: Date.now(), state: e.state, connection: e.connection });
    }
  });
  return {
    firstAfter(state: string, t: number) {
      return events.find((e) => e.state === state && e.at >= t)?.at ?? null;
    },
  };
}

describe.skipIf(!inFault)('faults: broker restarts and connection kills with traffic, the tap and fired calls', () => {
  const vhost = uniqueName('osloscope-faults');
  const pyTopic = uniqueName('fault-py');
  const ownTopic = uniqueName('fault-own');
  const url = `rabbit://${AMQP.username}:${AMQP.password}@${AMQP.host}/${encodeURIComponent(vhost)}`;
  const admin = new ManagementInspector({ url: MGMT, vhost });
  /** what to stop at the end, named for the clean-up's log */
  const closers: [string, () => Promise<unknown>][] = [];
  /** a stop/start cycle stopped the node (or its app) and has not seen it started again */
  let nodeLeftDown = false;
  let tapTransport: Transport;
  let fireTransport: Transport;
  let tap: Tap;
  let tapLinks: ReturnType<typeof linkWatch>;
  let replyLinks: ReturnType<typeof linkWatch>;
  let casting = true;
  let castLoop: Promise<void> = Promise.resolve();
  let seq = 0;
  const recovery = { restart: [] as number[], cut: [] as number[] };
  const firstMessage = { restart: [] as number[], cut: [] as number[] };
  const failFast: number[] = [];
  const cycleMs = { restart: [] as number[], cut: [] as number[] };
  /** the tap transport's log lines, connect attempts, link steps and states (wireTrace), for a recovery slower than a second */
  const tapLog: { at: number; text: string }[] = [];
  let tapTrace: ReturnType<typeof wireTrace>;

  beforeAll(async () => {
    await stack('up', 'sid-fault');
    await admin.request(`/vhosts/${encodeURIComponent(vhost)}`, { method: 'PUT', body: { description: 'osloscope fault suite' } });
    await admin.request(`/permissions/${encodeURIComponent(vhost)}/${AMQP.username}`, { method: 'PUT', body: { configure: '.*', write: '.*', read: '.*' } });
    // oslo's default retry policy on purpose: the tap's quick recovery is what is measured
    // what the tap's transport logs and does on the wire is kept to explain a slow recovery
    const keep = (level: string) => (obj: object, msg?: string) => tapLog.push({ at: Date.now(), text: `${level} ${msg ?? ''} ${JSON.stringify(obj)}`.slice(0, 400) });
    tapTransport = new Transport(url, {
      programName: 'osloscope-fault-tap',
      log: { debug: () => undefined, info: keep('info'), error: keep('error'), warn: keep('warn') },
    });
    tapTrace = wireTrace(tapTransport, tapLog);
    fireTransport = new Transport(url, { programName: 'osloscope-fault-fire' });
    const ownTransport = new Transport(url, { programName: 'osloscope-fault-server' });
    closers.push(['closing the tap transport', () => tapTransport.close()], ['closing the firing transport', () => fireTransport.close()], ['closing the server transport', () => ownTransport.close()]);
    tapLinks = linkWatch(tapTransport);
    replyLinks = linkWatch(fireTransport);
    await startPeer('rpc-server', ['--topic', pyTopic, '--server', 'py1', '--url', url]);
    const own = new RpcServer(ownTransport, { topic: ownTopic, server: 'own1' }, [{ echo: (_c: unknown, a: Record<string, unknown>) => a.value } as Endpoint]);
    await own.start();
    closers.push(['stopping the osloscope server', () => own.stop()]);
    tap = new Tap({ transport: tapTransport, mode: 'bindings', managementUrl: MGMT, intervals: { tickMs: 500, discoveryMs: 2000 } });
    await tap.start();
    closers.push(['stopping the tap', () => tap.stop()]);
    // steady traffic: a cast every 50 ms to the Python server and to osloscope's own server
    // (one try each: while the broker is down they fail, and the next one tries again)
    const py = new RpcClient(fireTransport, { topic: pyTopic }, { retry: 0 });
    const mine = new RpcClient(fireTransport, { topic: ownTopic }, { retry: 0 });
    castLoop = (async () => {
      while (casting) {
        const n = ++seq;
        await Promise.allSettled([py.cast({}, 'echo', { value: `steady-${n}` }), mine.cast({}, 'echo', { value: `steady-${n}` })]);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await tapSees(Date.now(), 30_000);
  }, 300_000);

  afterAll(async () => {
    // the figures first: they are what the suite measured, whatever the clean-up below meets
    if (recovery.restart.length) console.log(`[faults] restarts: tap consuming again after the broker accepts connections: ${stats(recovery.restart)}`);
    if (firstMessage.restart.length) console.log(`[faults] restarts: first steady message the tap saw after the broker accepts: ${stats(firstMessage.restart)}`);
    if (cycleMs.restart.length) console.log(`[faults] restarts: whole stop/start cycle: ${stats(cycleMs.restart)}`);
    if (recovery.cut.length) console.log(`[faults] close-all-connections: tap consuming again after its connection closed: ${stats(recovery.cut)}`);
    if (firstMessage.cut.length) console.log(`[faults] close-all-connections: first steady message the tap saw after the cut: ${stats(firstMessage.cut)}`);
    if (failFast.length) console.log(`[faults] pending fired calls failed after the reply connection's loss: ${stats(failFast)}`);
    // Each step bounded and named, with its time: a clean-up that hangs fails with what hung, not with the
    // hook's timeout. Stopping the tap, the servers and the transports after the faults is part of what is
    // tested (each must finish); starting the node again is only needed when a failed cycle left it down.
    const steps: [string, number, () => Promise<unknown>][] = [
      ['the steady casts', 30_000, async () => {
        casting = false;
        await castLoop;
      }],
      ...closers.reverse().map(([what, fn]) => [what, 30_000, fn] as [string, number, () => Promise<unknown>]),
      ['the Python peers', 30_000, () => stopAllPeers()],
      ...(nodeLeftDown ? [['starting the fault node left down', 200_000, ensureUp] as [string, number, () => Promise<unknown>]] : []),
      ['deleting the vhost', 20_000, () => admin.request(`/vhosts/${encodeURIComponent(vhost)}`, { method: 'DELETE' })],
    ];
    const failed: string[] = [];
    for (const [what, ms, fn] of steps) {
      const t0 = Date.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([fn(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`did not finish within ${ms / 1000} s`)), ms)))]);
      } catch (err) {
        failed.push(`${what}: ${(err as Error).message}`);
      } finally {
        clearTimeout(timer);
      }
      console.log(`[faults] clean-up: ${what} ${Date.now() - t0} ms`);
    }
    if (failed.length) throw new Error(`clean-up after the faults failed: ${failed.join('; ')}`);
  }, 420_000);

  /** Resolves with when the tap first saw a steady cast sent after `since`. */
  async function tapSees(since: number, timeoutMs: number): Promise<number> {
    const from = seq + 1;
    await eventually(
      () => tap.recent({ filter: `method:echo` }).some((m) => Number(String((m.args as { value?: string } | null)?.value ?? '').slice(7)) >= from),
      `the tap seeing steady traffic sent after ${new Date(since).toISOString()}`,
      timeoutMs,
      10,
    );
    return Date.now();
  }

  /** Fire calls that stay pending (the Python server sleeps 30 s); resolves once the tap saw them sent. */
  async function firePending(n: number): Promise<Promise<{ err: unknown; at: number }>[]> {
    const client = new RpcClient(fireTransport, { topic: pyTopic }, { timeout: 90, retry: 0 });
    // counted after the newest message the tap holds now: a count of every `sleep` in its bounded ring would
    // stand still once older ones leave the ring as fast as new ones come
    const after = tap.recent({ limit: 1 }).at(-1)?.id;
    const sleeps = () => tap.recent({ filter: 'method:sleep', ...(after === undefined ? {} : { afterId: after }) }).length;
    const calls = Array.from({ length: n }, () =>
      client.call({}, 'sleep', { secs: 30 }).then(
        () => ({ err: new Error('a call pending at the cut answered'), at: Date.now() }),
        (err: unknown) => ({ err, at: Date.now() }),
      ),
    );
    await eventually(() => sleeps() >= n, `${n} pending calls sent`, 20_000, 10);
    return calls;
  }

  async function checkFailedFast(pending: Promise<{ err: unknown; at: number }>[], cutAt: number): Promise<void> {
    const outcomes = await Promise.race([
      Promise.all(pending),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('pending calls still pending 15 s after the cut')), 15_000)),
    ]);
    const lost = replyLinks.firstAfter('disconnected', cutAt);
    expect(lost, 'the reply connection was lost').not.toBeNull();
    for (const o of outcomes) {
      expect(o.err).not.toBeInstanceOf(MessagingTimeout);
      expect(o.err).toBeInstanceOf(ConnectionLost);
      expect((o.err as Error).message).toMatch(/Connection lost while waiting for replies/);
      failFast.push(o.at - lost!);
      expect(o.at - lost!).toBeLessThan(FAIL_FAST_MS);
    }
  }

  /** A retried test measures afresh: a failed attempt's figures must not decide the retry. */
  const restartFigures = (kind: 'restart' | 'cut') => {
    recovery[kind].length = 0;
    firstMessage[kind].length = 0;
    cycleMs[kind].length = 0;
  };

  it(`the tap consumes again within 2 s of the broker accepting connections, ${RESTARTS} broker stop/start cycles in a row`, async () => {
    restartFigures('restart');
    for (let i = 0; i < RESTARTS; i++) {
      const t0 = Date.now();
      await tapSees(t0, 60_000);
      const pending = await firePending(3);
      const cutAt = Date.now();
      const whole = i % NODE_EVERY === 0;
      nodeLeftDown = true;
      await stack(...(whole ? ['node-stop', 'sid-fault', '1'] : ['ctl', 'sid-fault', 'stop_app']));
      await checkFailedFast(pending, cutAt);
      expect(['recovering', 'running']).toContain(tap.status().state);

      const startArgs = whole ? ['node-start', 'sid-fault', '1'] : ['ctl', 'sid-fault', 'start_app'];
      const starting = spawn(STACK, startArgs, { stdio: 'ignore' });
      const started = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${startArgs.join(' ')} did not finish within 240 s`)), 240_000);
        starting.once('exit', (code) => {
          clearTimeout(timer);
          if (code === 0) resolve();
          else reject(new Error(`${startArgs.join(' ')} exited ${code}`));
        });
      });
      started.catch(() => undefined);
      const acceptAt = await waitAccepting(Number(AMQP.port), 180_000);
      const back = await eventually(() => tapLinks.firstAfter('connected', acceptAt - 5), 'the tap link connected again', 30_000, 5);
      expect(tap.status().state).toBe('running');
      recovery.restart.push(back - acceptAt);
      firstMessage.restart.push((await tapSees(acceptAt, 30_000)) - acceptAt);
      await started;
      nodeLeftDown = false;
      cycleMs.restart.push(Date.now() - t0);
      console.log(`[faults] restart ${i + 1}/${RESTARTS} (${whole ? 'node' : 'app'}): tap back ${back - acceptAt} ms after the broker accepted, cycle ${Date.now() - t0} ms${back - acceptAt > TRACE_MS ? tapTrace.since(acceptAt - 1000) : ''}`);
    }
    console.log(`[faults] restarts: tap consuming again after the broker accepts connections: ${stats(recovery.restart)}`);
    expect(Math.max(...recovery.restart)).toBeLessThan(TARGET_MS);
    const st = tap.status();
    expect(st.recovery?.reconnects).toBeGreaterThanOrEqual(RESTARTS);
    expect(st.recovery?.rebuilds).toBe(0);
    // a restart takes the non-durable control and fanout exchanges with it: skipped, then bound again
    expect(st.recovery?.skipped).toBeGreaterThan(0);
  }, (RESTARTS * 60 + 120) * 1000);

  it(`the tap consumes again within 2 s of losing its connection, ${CUTS} close-all-connections cuts in a row`, async () => {
    if (nodeLeftDown) await ensureUp(); // up already unless the restarts left it down
    nodeLeftDown = false;
    restartFigures('cut');
    const before = tap.status().recovery?.reconnects ?? 0;
    for (let i = 0; i < CUTS; i++) {
      const t0 = Date.now();
      await tapSees(t0, 60_000);
      const pending = await firePending(3);
      const cutAt = Date.now();
      if (i < 2) {
        // the command the issue names (its CLI takes seconds to start, so only the first cuts use it)
        await stack('ctl', 'sid-fault', 'close_all_connections', '-p', vhost, 'osloscope fault suite');
      } else {
        // the same server-side close through the management API, once it lists our live connections
        // (its list lags behind by the stats interval)
        const ours = [tapTransport, fireTransport].flatMap((t) => t.status().links.filter((l) => l.state === 'connected').map((l) => l.name));
        const conns = await eventually(async () => {
          const list = await admin.connections();
          return ours.every((n) => list.some((c) => c.connectionName === n)) ? list : null;
        }, 'our connections listed by the management API', 20_000, 100);
        await Promise.all(conns.map((c) => admin.closeConnection(c.name, 'osloscope fault suite').catch(() => undefined)));
      }
      await checkFailedFast(pending, cutAt);
      const lost = await eventually(() => tapLinks.firstAfter('disconnected', cutAt), 'the tap link lost', 15_000, 5);
      const back = await eventually(() => tapLinks.firstAfter('connected', lost), 'the tap link connected again', 30_000, 5);
      recovery.cut.push(back - lost);
      firstMessage.cut.push((await tapSees(lost, 30_000)) - lost);
      cycleMs.cut.push(Date.now() - t0);
      console.log(`[faults] cut ${i + 1}/${CUTS}: tap back ${back - lost} ms after losing its connection, cycle ${Date.now() - t0} ms${back - lost > TRACE_MS ? tapTrace.since(cutAt) : ''}`);
    }
    console.log(`[faults] close-all-connections: tap consuming again after its connection closed: ${stats(recovery.cut)}`);
    expect(Math.max(...recovery.cut)).toBeLessThan(TARGET_MS);
    expect((tap.status().recovery?.reconnects ?? 0) - before).toBeGreaterThanOrEqual(CUTS);
    expect(tap.status().recovery?.rebuilds).toBe(0);
  }, (CUTS * 30 + 60) * 1000);
});
