/**
 * Layout awareness: which of oslo.messaging's queue layouts the services of
 * one vhost declared, read from the queues and exchanges that exist.
 *
 * What each [oslo_messaging_rabbit] option leaves on the broker
 * (oslo_messaging/_drivers/impl_rabbit.py, docs/wire.md#layouts):
 * - Q rabbit_quorum_queue: topic `<t>`, server `<t>.<srv>` and notification
 *   `<t>.<prio>` queues are durable quorum queues; the control exchange is
 *   durable (`Connection.durable = amqp_durable_queues or rabbit_quorum_queue`).
 * - D amqp_durable_queues: the same queues durable but classic; control exchange durable.
 * - T rabbit_transient_quorum_queue: reply and fanout queues quorum (+x-expires),
 *   `<t>_fanout` exchanges durable (`fanout_send` uses durable=T).
 * - S rabbit_stream_fanout: one stream queue named exactly `<t>_fanout`.
 * - M use_queue_manager: `reply_<host>:<proc>:<n>` and `<t>_fanout_<host>:<proc>:<n>`.
 *
 * Exclusive queues are left out: oslo never declares one (osloscope's own
 * reply and tap queues are exclusive), so they say nothing about the services.
 * The vhost's default queue type can turn a plain durable declare into a
 * quorum queue (rabbit_amqqueue:declare with the vhost's DQT), which is
 * reported as such rather than credited to Q.
 */
import type {
  LayoutCounts,
  LayoutDrift,
  LayoutName,
  LayoutQueueKind,
  LayoutReport,
  LayoutTopic,
  QueueType,
} from '../../lib/broker-contracts.ts';
import { wire } from '../messaging/index.ts';

export interface LayoutQueue {
  name: string;
  /** x-queue-type as the broker reports it (`type`); null = unknown (passive) */
  type: string | null;
  durable: boolean | null;
  exclusive: boolean;
  arguments?: Record<string, unknown> | null;
}

export interface LayoutExchange {
  name: string;
  type: string;
  durable: boolean | null;
}

export interface LayoutInput {
  vhost: string;
  at: number;
  source: LayoutReport['source'];
  queues: LayoutQueue[] | null;
  exchanges: LayoutExchange[] | null;
  /** control exchanges to report (the tap's configured list) when they exist */
  controlExchanges: readonly string[];
  /** topics known from traffic */
  topics?: Iterable<string>;
  defaultQueueType?: string | null;
  /** some queues or exchanges could not be read (page limit, passive) */
  complete?: boolean;
  error?: string | null;
}

const PRIORITIES: ReadonlySet<string> = new Set(wire.NOTIFICATION_PRIORITIES);
/** docs/wire.md#queue-names */
const REPLY_QUEUE = /^reply_(?:[0-9a-f]{32}|([^:]+):([^:]+):(\d+))$/;
const FANOUT_QUEUE = /^(.+)_fanout(?:_(?:[0-9a-f]{32}|([^:]+):([^:]+):(\d+)))?$/;
const TAP_QUEUE_PREFIX = 'osloscope-tap-';
const MAX_TOPICS = 200;
const MAX_EXAMPLES = 10;

interface Classified {
  kind: LayoutQueueKind;
  topic: string | null;
  /** `<host>:<proc>` of a queue-manager name */
  qm: string | null;
}

/** Argument values may come as plain JSON (management API) or as amqplib field values ({type, value}). */
function argValue(v: unknown): unknown {
  if (v && typeof v === 'object' && 'value' in (v as Record<string, unknown>)) return (v as { value: unknown }).value;
  return v;
}

export function queueTypeOf(q: LayoutQueue): QueueType {
  const t = q.type ?? (argValue(q.arguments?.['x-queue-type']) as string | undefined) ?? (q.arguments ? 'classic' : null);
  if (t === 'classic' || t === 'quorum' || t === 'stream') return t;
  return 'unknown';
}

function classify(name: string, topics: ReadonlySet<string>, type: QueueType): Classified | null {
  const r = REPLY_QUEUE.exec(name);
  if (r) return { kind: 'reply', topic: null, qm: r[1] !== undefined ? `${r[1]}:${r[2]}` : null };
  const f = FANOUT_QUEUE.exec(name);
  if (f) {
    // `<t>_fanout` without suffix is a stream fanout queue (or, passive, a queue by that name exists)
    if (f[2] === undefined && !name.match(/_fanout_/) && type !== 'stream' && type !== 'unknown') return null;
    return { kind: 'fanout', topic: f[1], qm: f[2] !== undefined ? `${f[2]}:${f[3]}` : null };
  }
  const dot = name.lastIndexOf('.');
  if (dot > 0 && PRIORITIES.has(name.slice(dot + 1))) return { kind: 'notification', topic: name.slice(0, dot), qm: null };
  if (topics.has(name)) return { kind: 'topic', topic: name, qm: null };
  const first = name.indexOf('.');
  if (first > 0 && topics.has(name.slice(0, first))) return { kind: 'server', topic: name.slice(0, first), qm: null };
  return null;
}

function emptyCounts(): LayoutCounts {
  return { total: 0, classic: 0, classicDurable: 0, quorum: 0, stream: 0, unknown: 0, queueManager: 0 };
}

interface TopicAcc {
  topicType: QueueType | null;
  serverTypes: Set<QueueType>;
  classicDurable: boolean;
  classicTransient: boolean;
  fanoutTypes: Set<QueueType>;
  fanoutQm: boolean;
  fanoutExchangeDurable: boolean | null;
  names: string[];
}

function lettersOf(parts: { q: boolean; d: boolean; t: boolean; s: boolean; m: boolean }): string {
  const out: string[] = [];
  if (parts.q) out.push('Q');
  if (parts.d) out.push('D');
  if (parts.t) out.push('T');
  if (parts.s) out.push('S');
  if (parts.m) out.push('M');
  return out.join('+');
}

function pct(n: number, of: number): string {
  return of === 0 ? '0' : `${Math.round((n / of) * 100)}%`;
}

/** Name the layout of one vhost from its queues and exchanges. */
export function detectLayout(input: LayoutInput): LayoutReport {
  const topicsKnown = new Set<string>(input.topics ?? []);
  const exchanges = input.exchanges ?? [];
  for (const x of exchanges) if (x.type === 'fanout' && x.name.endsWith('_fanout')) topicsKnown.add(x.name.slice(0, -'_fanout'.length));
  const queues = (input.queues ?? []).filter((q) => !q.exclusive && !q.name.startsWith(TAP_QUEUE_PREFIX) && !q.name.startsWith('amq.'));
  // a queue named exactly `<t>_fanout` is a stream fanout queue: its topic exists
  for (const q of queues) {
    const m = /^(.+)_fanout$/.exec(q.name);
    if (m && queueTypeOf(q) !== 'classic') topicsKnown.add(m[1]);
  }

  const counts = { topic: emptyCounts(), server: emptyCounts(), fanout: emptyCounts(), reply: emptyCounts(), notification: emptyCounts() };
  const perTopic = new Map<string, TopicAcc>();
  const acc = (topic: string): TopicAcc => {
    let a = perTopic.get(topic);
    if (!a) {
      a = { topicType: null, serverTypes: new Set(), classicDurable: false, classicTransient: false, fanoutTypes: new Set(), fanoutQm: false, fanoutExchangeDurable: null, names: [] };
      perTopic.set(topic, a);
    }
    return a;
  };
  const qmProcesses = new Set<string>();
  const quorumNotifications: string[] = [];
  const classicNotifications: string[] = [];
  const replyByType = { quorum: [] as string[], classic: [] as string[] };
  /** fanout queues named exactly `<t>_fanout`: the stream's name (rabbit_stream_fanout) */
  let streamNamed = 0;

  for (const q of queues) {
    const type = queueTypeOf(q);
    const c = classify(q.name, topicsKnown, type);
    if (!c) continue;
    const k = counts[c.kind];
    k.total++;
    k[type]++;
    if (type === 'classic' && q.durable === true) k.classicDurable++;
    if (c.qm) {
      k.queueManager++;
      if (qmProcesses.size < 20) qmProcesses.add(c.qm);
    }
    if (c.kind === 'fanout' && q.name.endsWith('_fanout')) streamNamed++;
    if (c.kind === 'reply') {
      if (type === 'quorum' && replyByType.quorum.length < MAX_EXAMPLES) replyByType.quorum.push(q.name);
      if (type === 'classic' && replyByType.classic.length < MAX_EXAMPLES) replyByType.classic.push(q.name);
      continue;
    }
    if (c.kind === 'notification') {
      if (type === 'quorum' && quorumNotifications.length < MAX_EXAMPLES) quorumNotifications.push(q.name);
      if (type === 'classic' && classicNotifications.length < MAX_EXAMPLES) classicNotifications.push(q.name);
      continue;
    }
    if (!c.topic) continue;
    const a = acc(c.topic);
    if (a.names.length < MAX_EXAMPLES) a.names.push(q.name);
    if (c.kind === 'topic') a.topicType = type;
    else if (c.kind === 'server') a.serverTypes.add(type);
    else if (c.kind === 'fanout') {
      a.fanoutTypes.add(type);
      if (c.qm) a.fanoutQm = true;
    }
    if ((c.kind === 'topic' || c.kind === 'server') && type === 'classic') {
      if (q.durable === true) a.classicDurable = true;
      else if (q.durable === false) a.classicTransient = true;
    }
  }
  for (const x of exchanges) {
    if (x.type !== 'fanout' || !x.name.endsWith('_fanout')) continue;
    const t = x.name.slice(0, -'_fanout'.length);
    if (perTopic.has(t) || perTopic.size < 10_000) acc(t).fanoutExchangeDurable = x.durable;
  }

  const exchangeNames = new Map(exchanges.map((x) => [x.name, x]));
  const control = input.controlExchanges
    .filter((n) => exchangeNames.has(n))
    .map((n) => ({ name: n, durable: exchangeNames.get(n)?.durable ?? null }));

  // ---- per topic letters and drift ----
  const drift: LayoutDrift[] = [];
  const topics: LayoutTopic[] = [];
  const topicTypeDiffers: string[] = [];
  const quorumTopics: string[] = [];
  const classicTopics: string[] = [];
  let fanoutDurable = 0;
  let fanoutTransient = 0;
  const fanoutDurableNames: string[] = [];
  const fanoutTransientNames: string[] = [];
  for (const [topic, a] of perTopic) {
    const rpcTypes = new Set<QueueType>(a.serverTypes);
    if (a.topicType) rpcTypes.add(a.topicType);
    rpcTypes.delete('unknown');
    if (rpcTypes.size > 1) topicTypeDiffers.push(topic);
    if (rpcTypes.has('quorum')) quorumTopics.push(topic);
    if (rpcTypes.has('classic')) classicTopics.push(topic);
    if (a.fanoutExchangeDurable === true) {
      fanoutDurable++;
      if (fanoutDurableNames.length < MAX_EXAMPLES) fanoutDurableNames.push(`${topic}_fanout`);
    } else if (a.fanoutExchangeDurable === false) {
      fanoutTransient++;
      if (fanoutTransientNames.length < MAX_EXAMPLES) fanoutTransientNames.push(`${topic}_fanout`);
    }
    const fanout: LayoutTopic['fanout'] = a.fanoutTypes.has('stream')
      ? 'stream'
      : a.fanoutTypes.has('quorum')
        ? 'quorum'
        : a.fanoutTypes.has('classic')
          ? 'classic'
          : a.fanoutTypes.size > 0
            ? 'unknown'
            : null;
    topics.push({
      topic,
      letters: lettersOf({
        q: rpcTypes.has('quorum'),
        d: a.classicDurable,
        t: fanout === 'stream' || fanout === 'quorum' || a.fanoutExchangeDurable === true,
        s: fanout === 'stream',
        m: a.fanoutQm,
      }),
      topicType: a.topicType,
      serverTypes: [...a.serverTypes].sort(),
      fanout,
      fanoutExchangeDurable: a.fanoutExchangeDurable,
    });
  }
  topics.sort((x, y) => Number(topicTypeDiffers.includes(y.topic)) - Number(topicTypeDiffers.includes(x.topic)) || (x.topic < y.topic ? -1 : 1));

  if (topicTypeDiffers.length > 0) {
    drift.push({
      code: 'topic-types-differ',
      message: `Topic ${topicTypeDiffers.slice(0, 3).join(', ')}${topicTypeDiffers.length > 3 ? ` and ${topicTypeDiffers.length - 3} more` : ''}: classic and quorum queues side by side — the servers of one topic run with different rabbit_quorum_queue settings.`,
      examples: topicTypeDiffers.slice(0, MAX_EXAMPLES),
    });
  }
  const onlyQuorum = quorumTopics.filter((t) => !classicTopics.includes(t));
  const onlyClassic = classicTopics.filter((t) => !quorumTopics.includes(t));
  if (onlyQuorum.length > 0 && onlyClassic.length > 0) {
    drift.push({
      code: 'services-differ',
      message: `Quorum topic queues for ${onlyQuorum.slice(0, 3).join(', ')} but classic for ${onlyClassic.slice(0, 3).join(', ')}: the services run with different rabbit_quorum_queue settings.`,
      examples: [...onlyQuorum.slice(0, 5), ...onlyClassic.slice(0, 5)],
    });
  }
  if (fanoutDurable > 0 && fanoutTransient > 0) {
    drift.push({
      code: 'fanout-exchange-durability',
      message: `${fanoutDurable} <topic>_fanout exchange(s) durable (rabbit_transient_quorum_queue) and ${fanoutTransient} transient: a fanout cast declared the other way fails with 406 inequivalent arg 'durable'.`,
      examples: [...fanoutDurableNames.slice(0, 5), ...fanoutTransientNames.slice(0, 5)],
    });
  }
  const rpcQuorum = counts.topic.quorum + counts.server.quorum;
  const rpcClassic = counts.topic.classic + counts.server.classic;
  const rpcClassicDurable = counts.topic.classicDurable + counts.server.classicDurable;
  const tQuorum = counts.reply.quorum + counts.fanout.quorum + counts.fanout.stream;
  const tClassic = counts.reply.classic + counts.fanout.classic;
  if (tQuorum > 0 && rpcClassic > 0 && rpcQuorum === 0) {
    drift.push({
      code: 'quorum-expected-classic-found',
      message: `Reply/fanout queues are quorum (rabbit_transient_quorum_queue) but topic queues are classic${rpcClassicDurable > 0 ? ' durable' : ''}: quorum queues were expected — openstack-helm renders 'rabbit_quorum_queues' (plural), which is not an oslo option and is ignored.`,
      examples: [...classicTopics.slice(0, 5), ...replyByType.quorum.slice(0, 3)],
    });
  }
  const durableControl = control.filter((x) => x.durable === true);
  const rpcClassicTransient = rpcClassic - rpcClassicDurable;
  if (durableControl.length > 0 && rpcClassicTransient > 0 && rpcQuorum === 0 && rpcClassicDurable === 0) {
    drift.push({
      code: 'control-exchange-durability',
      message: `Control exchange ${durableControl.map((x) => x.name).join(', ')} is durable (declared by a service with rabbit_quorum_queue or amqp_durable_queues) but the topic queues are transient classic: services with oslo's defaults get 406 inequivalent arg 'durable' when they declare it.`,
      examples: [...durableControl.map((x) => x.name), ...onlyClassic.slice(0, 5)],
    });
  }
  const dqt = input.defaultQueueType && input.defaultQueueType !== 'undefined' ? input.defaultQueueType : null;
  if (dqt && dqt !== 'classic' && rpcQuorum > 0) {
    drift.push({
      code: 'default-queue-type',
      message: `The vhost's default queue type is ${dqt}: oslo's durable declares without x-queue-type become ${dqt} queues here, so quorum queues may not come from rabbit_quorum_queue.`,
      examples: [],
    });
  }

  // ---- vhost-wide flags (majority, with the counts as evidence) ----
  const rpcTotal = rpcQuorum + rpcClassic;
  const quorum = rpcTotal === 0 ? null : rpcQuorum > rpcClassic;
  const durable = rpcClassic === 0 ? (rpcTotal === 0 ? null : false) : rpcClassicDurable > rpcClassic / 2;
  const tTotal = tQuorum + tClassic;
  const transientQuorum = tTotal === 0 ? (fanoutDurable + fanoutTransient > 0 ? fanoutDurable > fanoutTransient : null) : tQuorum > tClassic;
  const fanoutTotal = counts.fanout.total;
  const streamFanout = fanoutTotal === 0 ? null : counts.fanout.stream > 0 || streamNamed > 0;
  // the stream has no per-process name: only reply and per-server fanout queues can carry one
  const qmTotal = counts.reply.total + counts.fanout.total - streamNamed;
  const qmCount = counts.reply.queueManager + counts.fanout.queueManager;
  const queueManager = qmTotal === 0 ? null : qmCount > (qmTotal - qmCount);

  const letters = lettersOf({ q: quorum === true, d: durable === true, t: transientQuorum === true, s: streamFanout === true, m: queueManager === true });
  const oslo = counts.topic.total + counts.server.total + counts.fanout.total + counts.reply.total + counts.notification.total;
  const mixing = drift.some((d) => d.code !== 'quorum-expected-classic-found' && d.code !== 'default-queue-type');

  let name: LayoutName;
  let label: string;
  if (input.queues === null) {
    name = 'unknown';
    label = 'unknown (queues could not be read)';
  } else if (oslo === 0) {
    name = 'empty';
    label = 'no oslo.messaging queue yet';
  } else if (mixing) {
    name = 'mixed';
    label = `mixed (${letters || 'oslo defaults'} and others)`;
  } else if (letters === 'Q+T+S+M') {
    name = 'kolla';
    label = 'kolla-ansible 2025.1+ (Q+T+S+M)';
  } else if (letters === 'Q') {
    name = 'kolla-2024.1';
    label = 'quorum queues only (Q), as kolla-ansible 2024.1 renders';
  } else if (letters === 'D+T+M' || letters === 'D+T') {
    name = 'openstack-helm';
    label = `openstack-helm (${letters}, durable classic topic queues)`;
  } else if (letters === '') {
    name = 'oslo-defaults';
    label = 'oslo.messaging defaults (transient classic queues)';
  } else {
    name = 'custom';
    label = `custom (${letters})`;
  }

  // ---- evidence ----
  const evidence: string[] = [];
  const rpcN = counts.topic.total + counts.server.total;
  if (rpcN > 0) {
    evidence.push(
      `${rpcN} topic/server queue(s): ${rpcQuorum} quorum, ${rpcClassic} classic (${rpcClassicDurable} durable)${counts.topic.unknown + counts.server.unknown > 0 ? `, ${counts.topic.unknown + counts.server.unknown} of unknown type` : ''}.`,
    );
  }
  if (counts.reply.total > 0) {
    evidence.push(`${counts.reply.total} reply queue(s): ${counts.reply.quorum} quorum, ${counts.reply.classic} classic; ${counts.reply.queueManager} named reply_<host>:<proc>:<n> (use_queue_manager).`);
  }
  if (counts.fanout.total > 0) {
    evidence.push(
      `${counts.fanout.total} fanout queue(s): ${counts.fanout.stream} stream (one <topic>_fanout per topic), ${counts.fanout.quorum} quorum, ${counts.fanout.classic} classic${counts.fanout.unknown ? `, ${counts.fanout.unknown} of unknown type` : ''}.`,
    );
  }
  if (fanoutDurable + fanoutTransient > 0) evidence.push(`<topic>_fanout exchanges: ${fanoutDurable} durable, ${fanoutTransient} transient.`);
  for (const x of control) evidence.push(`Control exchange ${x.name}: ${x.durable === null ? 'durability unknown' : x.durable ? 'durable (Q or D)' : 'transient'}.`);
  if (counts.notification.total > 0) {
    evidence.push(`${counts.notification.total} notification queue(s): ${counts.notification.quorum} quorum, ${counts.notification.classic} classic.`);
  }
  if (qmProcesses.size > 0) evidence.push(`Queue-manager processes: ${[...qmProcesses].slice(0, 5).join(', ')}${qmProcesses.size > 5 ? ' …' : ''}.`);
  if (rpcTotal > 0 && quorum !== null && rpcQuorum > 0 && rpcClassic > 0) evidence.push(`Quorum share of topic/server queues: ${pct(rpcQuorum, rpcTotal)}.`);
  for (const d of drift) evidence.push(d.message);

  return {
    vhost: input.vhost,
    at: input.at,
    source: input.source,
    complete: (input.complete ?? true) && input.queues !== null && input.exchanges !== null && !input.error,
    error: input.error ?? null,
    name,
    label,
    letters,
    flags: { quorum, transientQuorum, streamFanout, queueManager, durable },
    defaultQueueType: dqt,
    counts,
    exchanges: { control, fanoutDurable, fanoutTransient },
    queueManagerProcesses: [...qmProcesses].sort(),
    topics: topics.slice(0, MAX_TOPICS),
    drift,
    evidence,
  };
}
