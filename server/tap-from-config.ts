/**
 * What a configuration describes: the tap of one transport (the one place that turns Config into TapOptions)
 * and the whole fleet (one Transport + one Tap per named transport), for the dashboard's composition root
 * (server/index.ts) and the headless `osloscope record`.
 */
import type { Config, TransportConfig } from './config.ts';
import { Transport, type Logger } from './messaging/index.ts';
import { Tap } from './tap/index.ts';
import { Fleet } from './fleet.ts';

/** `member`: one named transport of TRANSPORT_URLS (its own management API); absent: the default one. */
export function tapFromConfig(config: Config, transport: Transport, log: Logger, member?: TransportConfig): Tap {
  return new Tap({
    transport,
    mode: config.tapMode,
    exchanges: config.controlExchanges,
    managementUrl: member ? member.management?.href : config.management?.href,
    firehoseEnable: config.firehoseEnable,
    firehoseAutoOffMs: config.firehoseAutoOff * 1000,
    rpcConnPoolSize: config.rpcConnPoolSize,
    rpcResponseTimeoutMs: config.rpcResponseTimeout * 1000,
    model: { messageBytes: config.tapMessageBytes, recentBytes: config.tapRecentBytes },
    log,
  });
}

/** A logger that makes children (pino's `child`). */
export interface ParentLogger extends Logger {
  child(bindings: Record<string, unknown>): ParentLogger;
}

export interface ConfiguredFleet {
  /** one Transport per named transport, in configuration order (the first is the default) */
  transports: Transport[];
  /** each transport's tap (null: TAP_MODE=off) */
  taps: (Tap | null)[];
  fleet: Fleet;
}

/**
 * One Transport and one Tap per named transport (TRANSPORT_URLS; TRANSPORT_URL alone is the one named `default`),
 * read as one Fleet. Nothing is started: the caller starts the taps and closes the transports.
 */
export function fleetFromConfig(config: Config, log: ParentLogger, options: { programName: string }): ConfiguredFleet {
  const several = config.transports.length > 1;
  const transports = config.transports.map(
    (t) =>
      new Transport(t.transportUrl, {
        conf: { control_exchange: config.controlExchange, rpc_response_timeout: config.rpcResponseTimeout },
        rabbit: { rpc_conn_pool_size: config.rpcConnPoolSize, conn_pool_min_size: config.connPoolMinSize, conn_pool_ttl: config.connPoolTtl },
        log: log.child(several ? { part: 'messaging', transport: t.name } : { part: 'messaging' }),
        programName: options.programName,
        maxMessageBytes: config.maxMessageBytes,
      }),
  );
  const taps = config.transports.map((t, i) =>
    config.tapMode === 'off' ? null : tapFromConfig(config, transports[i], log.child(several ? { part: 'tap', transport: t.name } : { part: 'tap' }), t),
  );
  const fleet = new Fleet(config.transports.map((t, i) => ({ name: t.name, transport: transports[i], tap: taps[i] })));
  return { transports, taps, fleet };
}
