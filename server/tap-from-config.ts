/**
 * The tap a configuration describes: the one place that turns Config into TapOptions, for the
 * dashboard's composition root (server/index.ts) and the headless `osloscope record`.
 */
import type { Config, TransportConfig } from './config.ts';
import type { Logger, Transport } from './messaging/index.ts';
import { Tap } from './tap/index.ts';

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
