/**
 * RabbitMQ health as oslo.messaging operators need it on 3.10 … 4.3, read
 * from the management API (bounded, every part optional):
 * - nodes with versions, memory/disk alarms, partitions (`GET /api/nodes`);
 * - deprecated features in use (`GET /api/deprecated-features/used`, 3.13+;
 *   404 before): on 4.3 `transient_nonexcl_queues` and `global_qos` are
 *   denied by default, so a feature in use there breaks oslo's defaults;
 * - quorum queues: leaders per node, members offline, and the delivery limit.
 *   RabbitMQ 4.0 gives quorum queues without `x-delivery-limit` (or a
 *   `delivery-limit` policy) a default limit of 20 (rabbit_quorum_queue,
 *   4.0.0 release notes): a notification listener that requeues
 *   (oslo_messaging/notify/listener.py, NotificationResult.REQUEUE) makes a
 *   message drop (or dead-letter) after 20 tries. oslo sets the argument only
 *   when rabbit_quorum_delivery_limit is non-zero (impl_rabbit.py,
 *   Consumer.declare via get_queue_arguments).
 *
 * Queues come from one paginated read shared with the layout detection.
 * Since 3.13 `GET /api/queues` returns a reduced field set (3.13.0 release
 * notes); quorum members, leader and online are then read from
 * `/api/queues/detailed`.
 */
import type { BrokerHealth, BrokerNode, BrokerWarning, QuorumQueueInfo } from '../../lib/broker-contracts.ts';
import { wire } from '../messaging/index.ts';
import { InspectorError, type ManagementInspector } from './inspector.ts';
import type { LayoutExchange, LayoutQueue } from './layout.ts';

/** One queue as the management API lists it (the fields osloscope reads). */
export interface ManagementQueue {
  name: string;
  type?: string;
  durable?: boolean;
  auto_delete?: boolean;
  exclusive?: boolean;
  arguments?: Record<string, unknown>;
  policy?: string | null;
  operator_policy?: string | null;
  effective_policy_definition?: Record<string, unknown> | [] | null;
  node?: string;
  leader?: string;
  members?: string[];
  online?: string[];
  messages?: number;
  consumers?: number;
}

export interface QueueRead {
  queues: ManagementQueue[];
  truncated: boolean;
  /** members/leader could be read for quorum queues */
  membership: boolean;
}

const QUEUE_COLUMNS = 'name,type,durable,auto_delete,exclusive,arguments,policy,operator_policy,effective_policy_definition,node,leader,members,online,messages,consumers';
const PRIORITIES: ReadonlySet<string> = new Set(wire.NOTIFICATION_PRIORITIES);
const MAX_LISTED = 50;

/** Read the vhost's queues: paginated (≤ 500 a page), at most `maxQueues`. */
export async function readManagementQueues(m: ManagementInspector, maxQueues = 10_000): Promise<QueueRead> {
  const vh = encodeURIComponent(m.vhost);
  const first = await m.paged<ManagementQueue>(`/queues/${vh}?disable_stats=true&enable_queue_totals=true&columns=${QUEUE_COLUMNS}`, maxQueues);
  const quorum = first.items.filter((q) => q.type === 'quorum');
  const lacking = quorum.some((q) => q.members === undefined) || first.items.some((q) => q.type === undefined);
  if (!lacking) return { queues: first.items, truncated: first.truncated, membership: true };
  // a reduced /api/queues without the fields: /api/queues/detailed has every field. It has no
  // per-vhost route (404 for /api/queues/detailed/<vhost> on 4.0.5 and 4.3.6), so filter by vhost here.
  try {
    const detailed = await m.paged<ManagementQueue & { vhost?: string }>(`/queues/detailed?disable_stats=true&enable_queue_totals=true&columns=vhost,${QUEUE_COLUMNS}`, maxQueues);
    const mine = detailed.items.filter((q) => q.vhost === m.vhost);
    return { queues: mine, truncated: detailed.truncated, membership: !mine.some((q) => q.type === 'quorum' && q.members === undefined) };
  } catch (err) {
    if (err instanceof InspectorError && err.status === 404) return { queues: first.items, truncated: first.truncated, membership: false };
    throw err;
  }
}

export async function readManagementExchanges(m: ManagementInspector, maxExchanges = 10_000): Promise<{ exchanges: LayoutExchange[]; truncated: boolean }> {
  const r = await m.paged<{ name: string; type: string; durable?: boolean }>(`/exchanges/${encodeURIComponent(m.vhost)}?columns=name,type,durable,auto_delete,internal`, maxExchanges);
  return { exchanges: r.items.map((x) => ({ name: x.name, type: x.type, durable: typeof x.durable === 'boolean' ? x.durable : null })), truncated: r.truncated };
}

export function toLayoutQueues(queues: ManagementQueue[]): LayoutQueue[] {
  return queues.map((q) => ({
    name: q.name,
    type: q.type ?? null,
    durable: typeof q.durable === 'boolean' ? q.durable : null,
    exclusive: q.exclusive === true,
    arguments: q.arguments ?? null,
  }));
}

function numberOf(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number(v);
  return null;
}

/** x-delivery-limit, else the effective policy's delivery-limit (policy or operator policy). */
export function deliveryLimitOf(q: ManagementQueue): number | null {
  const arg = numberOf(q.arguments?.['x-delivery-limit']);
  if (arg !== null) return arg;
  const p = q.effective_policy_definition;
  if (p && !Array.isArray(p)) return numberOf(p['delivery-limit']);
  return null;
}

function isNotificationQueue(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot > 0 && PRIORITIES.has(name.slice(dot + 1));
}

/** `4.0.5` → [4, 0, 5] */
export function versionParts(v: string | null): number[] {
  return (v ?? '').split(/[.+-]/).map((p) => Number(p)).filter((n) => Number.isFinite(n));
}

export function defaultDeliveryLimit(version: string | null): number | null {
  const [major] = versionParts(version);
  if (major === undefined) return null;
  return major >= 4 ? 20 : null;
}

interface NodeRecord {
  name: string;
  running?: boolean;
  mem_alarm?: boolean;
  disk_free_alarm?: boolean;
  partitions?: string[];
  uptime?: number;
  applications?: { name: string; version?: string }[];
}

export interface HealthInput {
  vhost: string;
  at: number;
  version: string | null;
  clusterName: string | null;
  nodes: NodeRecord[] | null;
  deprecated: { name: string; desc?: string; description?: string; deprecation_phase?: string; phase?: string }[] | null;
  queues: QueueRead | null;
  error?: string | null;
}

/** Health from what the management API answered; every part may be missing. */
export function buildHealth(input: HealthInput): BrokerHealth {
  const nodes: BrokerNode[] = (input.nodes ?? []).map((n) => ({
    name: n.name,
    running: n.running !== false,
    version: n.applications?.find((a) => a.name === 'rabbit')?.version ?? null,
    memAlarm: n.mem_alarm === true,
    diskAlarm: n.disk_free_alarm === true,
    partitions: Array.isArray(n.partitions) ? n.partitions.slice(0, 20) : [],
    uptimeMs: typeof n.uptime === 'number' ? n.uptime : null,
  }));
  const alarms: BrokerHealth['alarms'] = [];
  for (const n of nodes) {
    if (n.memAlarm) alarms.push({ node: n.name, resource: 'memory' });
    if (n.diskAlarm) alarms.push({ node: n.name, resource: 'disk' });
  }
  const used = (input.deprecated ?? []).map((f) => ({
    name: f.name,
    description: f.desc ?? f.description ?? '',
    phase: f.deprecation_phase ?? f.phase ?? '',
  }));
  const version = input.version ?? nodes.find((n) => n.version)?.version ?? null;
  const defLimit = defaultDeliveryLimit(version);

  const leaders = new Map<string, number>();
  const degraded: QuorumQueueInfo[] = [];
  const underDefault: string[] = [];
  let quorumCount = 0;
  for (const q of input.queues?.queues ?? []) {
    if (q.type !== 'quorum') continue;
    quorumCount++;
    const members = q.members ?? [];
    const online = q.online ?? [];
    const leader = q.leader ?? null;
    if (leader) leaders.set(leader, (leaders.get(leader) ?? 0) + 1);
    const limit = deliveryLimitOf(q);
    const notification = isNotificationQueue(q.name);
    const offline = members.filter((m) => !online.includes(m));
    if (input.queues?.membership && (offline.length > 0 || (!leader && members.length > 0))) {
      if (degraded.length < MAX_LISTED) degraded.push({ name: q.name, leader, members, offline, deliveryLimit: limit, notification });
    }
    if (notification && limit === null && defLimit !== null && underDefault.length < MAX_LISTED) underDefault.push(q.name);
  }

  const warnings: BrokerWarning[] = [];
  const down = nodes.filter((n) => !n.running).map((n) => n.name);
  if (down.length > 0) warnings.push({ level: 'bad', code: 'nodes-down', message: `${down.length} node(s) not running: ${down.join(', ')}.`, subjects: down.slice(0, 20) });
  for (const a of alarms) {
    warnings.push({
      level: 'bad',
      code: `${a.resource}-alarm`,
      message: `${a.resource === 'memory' ? 'Memory' : 'Disk'} alarm on ${a.node}: RabbitMQ blocks every publishing connection, so RPC calls and casts hang until it clears.`,
      subjects: [a.node],
    });
  }
  const partitioned = nodes.filter((n) => n.partitions.length > 0).map((n) => n.name);
  if (partitioned.length > 0) warnings.push({ level: 'bad', code: 'partition', message: `Network partition seen by ${partitioned.join(', ')}.`, subjects: partitioned });
  if (used.length > 0) {
    warnings.push({
      level: used.some((f) => /denied|removed/i.test(f.phase)) ? 'bad' : 'warn',
      code: 'deprecated-features',
      message: `Deprecated features in use: ${used.map((f) => `${f.name}${f.phase ? ` (${f.phase})` : ''}`).join(', ')}. Once a feature is denied (RabbitMQ 4.3's release notes deny transient_nonexcl_queues and global_qos by default), what uses it is refused: oslo's default transient queues fail to declare.`,
      subjects: used.map((f) => f.name).slice(0, 20),
    });
  }
  const noLeader = degraded.filter((d) => !d.leader).map((d) => d.name);
  if (noLeader.length > 0) warnings.push({ level: 'bad', code: 'quorum-no-leader', message: `${noLeader.length} quorum queue(s) without a leader: they accept and deliver nothing until a majority of members is back.`, subjects: noLeader.slice(0, 20) });
  const offline = degraded.filter((d) => d.offline.length > 0);
  if (offline.length > 0) {
    warnings.push({ level: 'warn', code: 'quorum-members-offline', message: `${offline.length} quorum queue(s) with members offline.`, subjects: offline.map((d) => d.name).slice(0, 20) });
  }
  if (underDefault.length > 0) {
    warnings.push({
      level: 'warn',
      code: 'delivery-limit',
      message: `${underDefault.length} quorum notification queue(s) have no x-delivery-limit or delivery-limit policy: RabbitMQ ${version ?? '4.x'} drops (or dead-letters) a message after ${defLimit} deliveries, so a listener that requeues loses notifications. Set rabbit_quorum_delivery_limit or a delivery-limit policy (-1 = unlimited).`,
      subjects: underDefault.slice(0, 20),
    });
  }
  if (input.queues?.truncated) warnings.push({ level: 'info', code: 'truncated', message: 'Only the first queues were read (list limit): counts are partial.', subjects: [] });
  if (input.queues && !input.queues.membership && quorumCount > 0) {
    warnings.push({ level: 'info', code: 'no-membership', message: 'This management API does not list quorum members and leaders.', subjects: [] });
  }

  return {
    at: input.at,
    vhost: input.vhost,
    source: 'management',
    error: input.error ?? null,
    version,
    clusterName: input.clusterName,
    nodes,
    alarms,
    deprecatedFeatures: { supported: input.deprecated !== null, used },
    quorum: {
      queues: quorumCount,
      leaders: [...leaders.entries()].map(([node, count]) => ({ node, count })).sort((a, b) => (a.node < b.node ? -1 : 1)),
      degraded,
      defaultDeliveryLimit: defLimit,
      notificationsUnderDefaultLimit: underDefault,
    },
    warnings,
    truncated: input.queues?.truncated ?? false,
  };
}

/** A health record that says why nothing could be read. */
export function unavailableHealth(vhost: string, at: number, source: BrokerHealth['source'], error: string): BrokerHealth {
  return {
    at,
    vhost,
    source,
    error,
    version: null,
    clusterName: null,
    nodes: [],
    alarms: [],
    deprecatedFeatures: { supported: false, used: [] },
    quorum: { queues: 0, leaders: [], degraded: [], defaultDeliveryLimit: null, notificationsUnderDefaultLimit: [] },
    warnings: [],
    truncated: false,
  };
}

/** Read everything health needs from the management API, each part on its own (a 404 or refusal leaves that part out). */
export async function readHealth(m: ManagementInspector, at: number, queues: QueueRead | null): Promise<BrokerHealth> {
  const errors: string[] = [];
  const part = async <T>(p: Promise<T>, allow404 = false): Promise<T | null> => {
    try {
      return await p;
    } catch (err) {
      if (!(allow404 && err instanceof InspectorError && err.status === 404)) errors.push((err as Error).message);
      return null;
    }
  };
  const [overview, nodes, deprecated] = await Promise.all([
    part(m.request<{ rabbitmq_version?: string; product_version?: string; cluster_name?: string }>('/overview?columns=rabbitmq_version,product_version,cluster_name,node')),
    part(m.request<NodeRecord[]>('/nodes?columns=name,running,mem_alarm,disk_free_alarm,partitions,uptime,applications', { maxBytes: 8 * 1024 * 1024 })),
    // 3.13+; 404 on 3.10–3.12 (no deprecated-features endpoint)
    part(m.request<HealthInput['deprecated']>('/deprecated-features/used'), true),
  ]);
  return buildHealth({
    vhost: m.vhost,
    at,
    version: overview?.rabbitmq_version ?? overview?.product_version ?? null,
    clusterName: overview?.cluster_name ?? null,
    nodes,
    deprecated: Array.isArray(deprecated) ? deprecated : null,
    queues,
    error: errors.length > 0 ? errors.join('; ') : null,
  });
}
