/**
 * What one tap session says about itself: its TapStatus, with the hint an operator reads (which mode and why,
 * what it cannot see, how to turn the firehose on, per-node tracing coverage). Pure: the Tap gathers the facts
 * from its parts and this turns them into the status the dashboard, the API and `osloscope tap` show.
 */
import type { TapMode, TapModeSetting, TapStatus } from '../../lib/tap-contracts.ts';
import type { FirehoseCoverage } from '../../lib/broker-contracts.ts';

export interface TapStatusFacts {
  requestedMode: TapModeSetting;
  mode: TapMode;
  state: TapStatus['state'];
  error: string | null;
  vhost: string;
  firehose: TapStatus['firehose'];
  /** per-node tracing (management API only) */
  coverage: FirehoseCoverage | null;
  /** why FIREHOSE_ENABLE or enableFirehose() failed, if it did */
  firehoseError: string | null;
  /** every exchange the bindings queue is bound to, `<topic>_fanout` ones included */
  boundExchanges: Iterable<string>;
  fanoutExchanges: Iterable<string>;
  tapQueues: (string | null)[];
  inspector: TapStatus['inspector'];
  counters: TapStatus['counters'];
  startedAt: number | null;
  recovery: TapStatus['recovery'];
  backlog?: TapStatus['backlog'];
}

/** A backlog at or past this share of the cap is said out loud: the broker drops the oldest beyond it. */
export const BACKLOG_WARN_SHARE = 0.8;

/** The operator's hint: what the tap sees in its mode and what to do about what it does not. */
export function tapHint(f: Pick<TapStatusFacts, 'mode' | 'state' | 'error' | 'vhost' | 'firehose' | 'coverage' | 'firehoseError' | 'backlog'>): string | null {
  const { vhost } = f;
  let hint: string | null = null;
  const how = `rabbitmqctl trace_on -p ${vhost}${f.firehose.canEnable ? ' (or enable it from osloscope)' : ''}`;
  if (f.state === 'starting') hint = 'The tap is starting: connecting to the broker and choosing bindings or firehose mode.';
  else if (f.state === 'error') hint = `The tap could not start: ${f.error ?? 'unknown error'}.`;
  else if (f.mode === 'off') hint = 'The tap is off (TAP_MODE=off): no traffic is watched.';
  else if (f.mode === 'bindings') {
    hint = `Bindings mode: calls, casts, fanouts and notifications are visible, replies are not (they go through the default exchange, which cannot be bound), so stuck-call causes are only partly known. Turn the RabbitMQ firehose on to see replies and full call timelines: ${how}. Tracing costs broker throughput; rabbitmqctl trace_off -p ${vhost} stops it.`;
  } else if (f.firehose.on === false) {
    hint = `Firehose mode, but tracing is off for vhost ${vhost}: nothing will appear until you run ${how}.`;
  }
  const coverage = f.coverage;
  if (coverage && coverage.total > 1 && f.mode !== 'off' && f.state !== 'starting') {
    const partial = coverage.on > 0 && coverage.on < coverage.total;
    const cluster = `Firehose: ${coverage.summary}.`;
    const fix = `Tracing is per node: turn it on for every node with FIREHOSE_ENABLE=true (osloscope tap --enable-firehose) or rabbitmqctl -n <node> trace_on -p ${vhost} on each.`;
    hint = partial
      ? `${cluster} ${f.mode === 'bindings' ? 'Staying in bindings mode: the firehose would miss the traffic of connections on the other nodes. ' : 'Traffic of connections on the other nodes is not seen. '}${fix}${hint ? ` ${hint}` : ''}`
      : `${cluster}${hint ? ` ${hint}` : ''}`;
  }
  if (f.firehoseError) hint = `${f.firehoseError}${hint ? ` ${hint}` : ''}`;
  const b = f.backlog;
  if (b && b.cap > 0 && b.messages >= b.cap * BACKLOG_WARN_SHARE) {
    const behind = `The tap is falling behind: ${b.messages} deliveries wait in its queue on the broker (cap ${b.cap}); past the cap the broker drops the oldest, and no counter can say how many. Give osloscope more CPU, narrow what it taps, or trace fewer vhosts.`;
    hint = `${behind}${hint ? ` ${hint}` : ''}`;
  }
  return hint;
}

export function tapStatus(f: TapStatusFacts): TapStatus {
  const fanouts = new Set(f.fanoutExchanges);
  const firehose = f.mode === 'firehose';
  return {
    requestedMode: f.requestedMode,
    mode: f.mode,
    state: f.state,
    error: f.error,
    vhost: f.vhost,
    canSeeReplies: firehose,
    firehose: f.firehose,
    hint: tapHint(f),
    tappedExchanges: firehose ? [] : [...f.boundExchanges].filter((x) => !fanouts.has(x)).sort(),
    fanoutExchanges: firehose ? [] : [...fanouts].sort(),
    tapQueues: f.tapQueues.filter((q): q is string => q !== null),
    inspector: f.inspector,
    counters: f.counters,
    startedAt: f.startedAt,
    recovery: f.recovery,
    ...(f.backlog !== undefined ? { backlog: f.backlog } : {}),
  };
}
