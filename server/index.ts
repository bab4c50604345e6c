/**
 * The one composition root: config → core Transport → (demo fleet) → tap →
 * socket.io gateway → HTTP API → Next request handler, on one Node http
 * server. Graceful shutdown on SIGTERM/SIGINT.
 *
 * Run: `node --import tsx server/index.ts` (or `npm start`, which builds the
 * pages first when needed).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
// the server entry of next (what `import next from 'next'` loads), imported by path so next's
// global type declarations (NodeJS.ProcessEnv.NODE_ENV) stay out of the server's type world
import next from 'next/dist/server/next.js';
import pino from 'pino';
import { ConfigError } from './messaging/index.ts';
import { LOG_REDACTION, redact, tryParseFilter } from './tap/index.ts';
import { describeConfig, loadConfig, type Config } from './config.ts';
import { fleetFromConfig } from './tap-from-config.ts';
import { checkLoopbackHost, checkSameOrigin } from './auth/access.ts';
import { Sessions } from './auth/session.ts';
import { DemoFleet } from './demo/fleet.ts';
import { Api } from './http/api.ts';
import { AuditLog } from './http/audit-log.ts';
import { FireService } from './http/fire.ts';
import { sendError } from './http/respond.ts';
import { RealtimeGateway } from './realtime/gateway.ts';
import type { Dashboard, FilterParser, TapFace } from './dashboard.ts';
import { History } from './store/history.ts';
import { HistoryStore } from './store/store.ts';
import { HistoryWriter } from './store/writer.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface RunningServer {
  url: string;
  config: Config;
  gateway: RealtimeGateway;
  close(): Promise<void>;
}

export interface StartOptions {
  /** skip Next (API and socket only): tests of the plumbing, the performance script */
  withoutPages?: boolean;
  log?: pino.Logger;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

export function createLogger(level: string): pino.Logger {
  return pino(loggerOptions(level));
}

/** The server log's options (level, redaction), also for tests that capture it. */
export function loggerOptions(level: string): pino.LoggerOptions {
  return {
    level,
    base: { service: 'osloscope' },
    // belt and braces: nothing we log carries these, but a future log call must not leak them
    redact: { paths: ['password', '*.password', 'auth_token', '*.auth_token', '_context_auth_token', 'headers.cookie', 'headers.authorization'], censor: '***' },
    // every field and the message text through the tap's redaction (a remote failure quotes its secrets)
    ...LOG_REDACTION,
  };
}

/** The live-stream grammar; a reply matches request_id / global_request_id through its call, looked up in the tap(s). */
function filterParser(tap: TapFace | null): FilterParser {
  const callOf = (msgId: string) => {
    const c = tap?.call(msgId);
    return c ? { requestId: c.requestId, globalRequestId: c.globalRequestId ?? null } : null;
  };
  return (text) => {
    const r = tryParseFilter(text, { callOf });
    return r.ok ? { ok: true, predicate: r.filter.predicate } : { ok: false, error: r.error };
  };
}

/** Build and start everything; resolves once the server listens. */
export async function startOsloscope(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const log = options.log ?? createLogger(config.logLevel);
  log.info({ config: describeConfig(config) }, 'starting osloscope');

  const audit = new AuditLog(resolve(ROOT, config.auditLog));
  audit.open();

  // One Transport and one Tap per named transport (TRANSPORT_URLS; TRANSPORT_URL alone is the one named `default`)
  const { transports, taps, fleet: members } = fleetFromConfig(config, log, { programName: 'osloscope' });
  const transport = transports[0];

  let fleet: DemoFleet | null = null;
  if (config.demoFleet) {
    // the simulated services log like real ones (a warning per remote exception): keep only their errors
    fleet = new DemoFleet({ url: config.transportUrl, memoryBroker: transport.memoryBroker, log: log.child({ part: 'demo' }, { level: 'error' }) });
  }

  // The embedded broker is ours: trace it (`rabbitmqctl trace_on`) so the tap's auto mode
  // picks the firehose and the demo shows replies, latencies and precise stuck causes.
  if (config.embedded && transport.memoryBroker && (config.tapMode === 'auto' || config.tapMode === 'firehose')) {
    transport.memoryBroker.setTracing(true);
  }

  const tap = members.tap();

  // The history store: every transport's messages and calls (stamped with its name by the fleet), written in
  // batches off the taps' path (server/store); one writer, whose queue, drops and errors /api/history reports
  let history: History | null = null;
  let historyWriter: HistoryWriter | null = null;
  if (config.history?.enabled) {
    try {
      const store = await HistoryStore.open(config.history.target);
      historyWriter = new HistoryWriter(store, config.history, log.child({ part: 'history' }), members.defaultName);
      if (tap) historyWriter.attach(tap);
      history = new History(store, historyWriter, tap);
      log.info({ backend: store.backend, location: store.location, retention: config.history.retention }, 'history store open');
    } catch (err) {
      // the dashboard still works from memory; /api/history says why nothing is kept
      log.error({ err: (err as Error).message }, 'history store unavailable: keeping nothing beyond memory');
      history = new History(null, null, tap);
    }
  } else {
    history = new History(null, null, tap);
  }

  const sessions = new Sessions(config.auth);
  const fire = new FireService({ transport, transports: new Map(config.transports.map((t, i) => [t.name, transports[i]])), audit, log: log.child({ part: 'fire' }), redact, process: `osloscope:${process.pid}` });

  let gateway: RealtimeGateway | null = null;
  const dashboard: Dashboard = {
    transport,
    tap,
    fleet: members,
    parseFilter: filterParser(tap),
    info: {
      embedded: config.embedded,
      demoFleet: config.demoFleet,
      controlExchange: config.controlExchange,
      readOnly: config.readOnly,
      rpcConnPoolSize: config.rpcConnPoolSize,
    },
    viewers: () => gateway?.viewers ?? 0,
    clock: Date.now,
  };

  const api = new Api({
    dashboard,
    sessions,
    fire,
    log: log.child({ part: 'http' }),
    allowedOrigins: config.allowedOrigins,
    readOnly: config.readOnly,
    version: packageVersion(),
    startedAt: Date.now(),
    metricsToken: config.metricsToken,
    metrics: { viewers: () => gateway?.viewers ?? 0, pushes: () => gateway?.stats ?? { statusPushes: 0, callsPushes: 0, ratesPushes: 0, trafficBatches: 0, trafficMessages: 0 } },
    onFirehoseEnabled: (who) => log.warn({ user: who.name }, 'firehose tracing enabled from the dashboard'),
    history,
  });

  // Next.js renders the pages (built by `next build`; dev mode with NODE_ENV=development).
  let nextHandler: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | null = null;
  type UpgradeFn = (req: IncomingMessage, socket: Duplex, head: Buffer) => Promise<void>;
  let nextUpgrade: UpgradeFn | null = null;
  const httpServer = createServer();
  if (!options.withoutPages) {
    // next.config.js reads BASE_PATH for basePath and the build directory (.next-<path>): the validated value
    process.env.BASE_PATH = config.basePath;
    const app = next({ dev: config.dev, dir: ROOT, hostname: config.host, port: config.port, httpServer, quiet: !config.dev });
    await app.prepare();
    nextHandler = app.getRequestHandler() as (req: IncomingMessage, res: ServerResponse) => Promise<void>;
    if (config.dev) nextUpgrade = app.getUpgradeHandler() as unknown as UpgradeFn;
  }

  const pageLog = log.child({ part: 'pages' });
  httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      try {
        if (!config.auth.enabled) {
          const host = checkLoopbackHost(req, config.allowedOrigins);
          if (!host.ok) return sendError(res, host.status, host.code, host.message);
        }
        const base = config.basePath;
        const fullPath = (req.url ?? '/').split('?')[0];
        // BASE_PATH: everything lives under it; the API sees its paths without it, Next with it (basePath)
        if (base && fullPath !== base && !fullPath.startsWith(`${base}/`)) {
          if (fullPath === '/') {
            res.writeHead(302, { location: base, 'cache-control': 'no-store' });
            res.end();
            return;
          }
          return sendError(res, 404, 'not_found', `No page ${fullPath}: osloscope is served under ${base} (BASE_PATH)`);
        }
        const pathname = fullPath.slice(base.length) || '/';
        if (api.owns(pathname)) {
          req.url = (req.url ?? '/').slice(base.length);
          return await api.handle(req, res);
        }
        if (!nextHandler) return sendError(res, 404, 'not_found', `No page ${pathname} (pages are disabled in this process)`);
        if (config.auth.enabled && needsLogin(pathname) && !(await sessions.principal(req))) {
          res.writeHead(302, { location: `${base}/login?next=${encodeURIComponent(req.url ?? '/')}`, 'cache-control': 'no-store' });
          res.end();
          return;
        }
        await nextHandler(req, res);
      } catch (err) {
        pageLog.error({ err: (err as Error).message, url: req.url }, 'request failed');
        if (!res.headersSent) sendError(res, 500, 'internal', 'Internal error (see the server log)');
        else res.destroy();
      }
    })();
  });

  gateway = new RealtimeGateway(httpServer, {
    dashboard,
    log: log.child({ part: 'realtime' }),
    batchMs: config.realtimeBatchMs,
    path: `${config.basePath}/socket.io`,
    authenticate: (req) => sessions.principal(req),
    checkRequest: (req) => {
      if (!config.auth.enabled) {
        const host = checkLoopbackHost(req, config.allowedOrigins);
        if (!host.ok) return host.message;
      }
      const origin = checkSameOrigin(req, config.allowedOrigins);
      return origin.ok ? null : origin.message;
    },
  });
  // A logout ends the session's open sockets at once, not at the next periodic check.
  const sockets = gateway;
  sessions.onRevoke(() => void sockets.revalidate());
  const upgrade = nextUpgrade as UpgradeFn | null;
  if (upgrade) {
    httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!(req.url ?? '').startsWith(`${config.basePath}/socket.io`)) void upgrade(req, socket, head);
    });
  }

  await new Promise<void>((resolveListen, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`Port ${config.port} on ${config.host} is already in use (set PORT to another port)`)
          : err.code === 'EADDRNOTAVAIL'
            ? new Error(`Cannot listen on ${config.host}: no such address on this machine (HOST)`)
            : err,
      );
    };
    httpServer.once('error', onError);
    httpServer.listen(config.port, config.host, () => {
      httpServer.off('error', onError);
      resolveListen();
    });
  });
  gateway.start();
  const address = httpServer.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;

  // The fleet and the tap come up in the background: the dashboard is useful (and says so) while they connect.
  if (fleet) {
    fleet.start().then(
      () => log.info({ url: config.transportUrl.toString() }, 'demo fleet running'),
      (err: unknown) => log.error({ err: (err as Error).message }, 'demo fleet failed to start'),
    );
  }
  config.transports.forEach((t, i) => {
    const one = taps[i];
    if (!one) return;
    one.start().then(
      () => log.info({ transport: t.name, mode: one.status().mode }, 'tap running'),
      (err: unknown) => log.error({ transport: t.name, err: (err as Error).message }, 'tap failed to start'),
    );
  });
  log.info({ url, transport: config.transportUrl.toString(), transports: config.transports.map((t) => t.name), tapMode: config.tapMode, demoFleet: config.demoFleet }, `osloscope listening on ${url}`);

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      log.info('shutting down');
      gateway?.close();
      await new Promise<void>((r) => {
        httpServer.close(() => r());
        httpServer.closeIdleConnections();
        setTimeout(() => {
          httpServer.closeAllConnections();
          r();
        }, 3000).unref();
      });
      await Promise.allSettled([...taps.map((t) => t?.stop()), fleet?.stop()]);
      if (historyWriter) {
        await historyWriter.stop();
        await historyWriter.store.close().catch(() => undefined);
      }
      await Promise.allSettled(transports.map((t) => t.close().catch(() => undefined)));
      audit.close();
      log.info('stopped');
    })();
    return closing;
  };
  return { url, config, gateway, close };
}

function needsLogin(pathname: string): boolean {
  if (pathname === '/login' || pathname.startsWith('/_next/')) return false;
  return !/\.(ico|png|svg|jpg|webp|txt|woff2?)$/.test(pathname);
}

/** Parse the environment, start, and stop cleanly on SIGTERM/SIGINT. Exit code 2 on bad configuration. */
export async function main(env: Record<string, string | undefined> = process.env): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`osloscope: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  let server: RunningServer;
  try {
    server = await startOsloscope(config, { log });
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'cannot start');
    process.stderr.write(`osloscope: cannot start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  let signals = 0;
  const stop = (signal: string) => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal }, 'signal received');
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  void main();
}
