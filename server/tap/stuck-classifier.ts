/**
 * The stuck-call classifier: why a call past its caller's deadline got no answer, from what the tap saw
 * of it (firehose: publishes and deliveries of request and reply; bindings: the request only) and the
 * broker's facts about the queues involved. Pure: the call tracker (calls.ts) decides when to ask.
 */
import type { StuckCause } from '../../lib/tap-contracts.ts';

/** What the broker says about a queue at classification time (passive declare / API). */
export interface QueueFact {
  exists: boolean;
  consumers: number;
  depth: number;
}

/** null/undefined = unknown (not asked, or the broker did not answer). */
export type QueueFacts = (queue: string) => QueueFact | null | undefined;

/** The verdict on a stuck call. */
export interface Verdict {
  cause: StuckCause;
  /** what was seen, in words, with what to check next */
  detail: string;
  /** false when the tap's view cannot rule out the causes in `indistinguishable` */
  certain: boolean;
  indistinguishable: StuckCause[];
}

export function verdict(cause: StuckCause, detail: string, certain: boolean, indistinguishable: StuckCause[]): Verdict {
  return { cause, detail, certain, indistinguishable };
}

/** What the classifier reads of a call. */
export interface ClassifiedCall {
  target: { exchange: string | null; routingKey: string | null };
  replyQ: string | null;
  routedQueues: string[] | null;
  publishedAt: number;
  deadline: number;
  timeoutMs: number;
  callMonitorTimeout: number | null;
  deliveredAt: number | null;
  serverProcess: string | null;
  serverConnection: string | null;
  heartbeats: number;
  lastHeartbeatAt: number | null;
  replyAt: number | null;
  replyUnroutable: number;
}

export function replyGone(e: ClassifiedCall): Verdict {
  return verdict(
    'reply_queue_gone',
    `the server answered but the reply to ${e.replyQ ?? '?'} was routed to no queue (${e.replyUnroutable} unroutable or retried publish${e.replyUnroutable === 1 ? '' : 'es'}): the caller's reply queue is gone (caller died or reconnected)`,
    true,
    [],
  );
}

/**
 * Firehose mode sees publishes and deliveries of the request and the reply: `queues` are the queues
 * the request went to, `giveUpAt` when the caller gave up (its timeout, or call_monitor_timeout).
 */
export function classifyFirehose(e: ClassifiedCall, facts: QueueFacts, queues: string[], giveUpAt: number): Verdict | null {
  if (e.replyAt !== null) {
    // answered in time but the reply never reached the caller
    if (e.replyUnroutable > 0) return replyGone(e);
    const f = e.replyQ ? facts(e.replyQ) : null;
    if (f && (!f.exists || f.consumers === 0)) {
      return verdict(
        'reply_queue_gone',
        f.exists
          ? `the server answered but the reply sits in ${e.replyQ}, which has no consumer (${f.depth} message${f.depth === 1 ? '' : 's'}): the caller is gone`
          : `the server answered but ${e.replyQ} no longer exists: the caller is gone`,
        true,
        [],
      );
    }
    // the caller is there: its delivery trace was just not seen
    return null;
  }
  if (e.routedQueues !== null && e.routedQueues.length === 0) {
    return verdict('unroutable', `the request to ${e.target.exchange || '(default)'} / ${e.target.routingKey} was routed to no queue: nothing is bound for that topic/server`, true, []);
  }
  if (e.replyUnroutable > 0) return replyGone(e);
  if (e.deliveredAt === null) {
    const known = queues.map((q) => ({ q, f: facts(q) }));
    const consumers = known.reduce((n, k) => n + (k.f?.exists ? k.f.consumers : 0), 0);
    const allKnown = known.every((k) => k.f);
    if (allKnown && consumers === 0) {
      const gone = known.filter((k) => !k.f?.exists).map((k) => k.q);
      return verdict(
        'no_consumer',
        `never delivered: ${queues.join(', ')} ${queues.length === 1 ? 'has' : 'have'} no consumer` +
          (gone.length ? ` (${gone.join(', ')} no longer exists)` : '') +
          ' — the server is down or stopped listening',
        true,
        [],
      );
    }
    const depth = known.reduce((n, k) => n + (k.f?.depth ?? 0), 0);
    const monitor = giveUpAt < e.deadline;
    return verdict(
      'expired_in_queue',
      `${monitor ? `never delivered within call_monitor_timeout ${e.callMonitorTimeout} s (the caller gave up; the request may still sit there until its ${e.timeoutMs} ms expiration)` : `never delivered before its ${e.timeoutMs} ms expiration`} although ${queues.join(', ')} ${allKnown ? `has ${consumers} consumer${consumers === 1 ? '' : 's'}` : 'may have consumers'}` +
        (depth > 0 ? ` and ${depth} message${depth === 1 ? '' : 's'} waiting` : '') +
        ': the server is paused, overloaded or blocked by prefetch',
      allKnown,
      allKnown ? [] : ['no_consumer'],
    );
  }
  // delivered, no final reply
  let hb: string;
  if (e.callMonitorTimeout === null) hb = 'no call-monitor heartbeats expected (call_monitor_timeout unset)';
  else if (e.heartbeats === 0) hb = `no heartbeat ever arrived although call_monitor_timeout=${e.callMonitorTimeout} s was set`;
  else {
    const giveUp = giveUpAt;
    const since = giveUp - (e.lastHeartbeatAt as number);
    const interval = Math.max(1, Math.trunc(e.callMonitorTimeout / 2)) * 1000;
    hb =
      giveUp < e.deadline
        ? `heartbeats stopped after ${e.heartbeats}: none within call_monitor_timeout ${e.callMonitorTimeout} s, so the caller gave up ${e.deadline - giveUp} ms before its ${e.timeoutMs} ms timeout; the server thread died or hangs`
        : since > 2 * interval
          ? `heartbeats stopped ${since} ms before the deadline after ${e.heartbeats}: the server thread died or hangs`
          : `${e.heartbeats} heartbeat${e.heartbeats === 1 ? '' : 's'}, the last ${since} ms before the deadline: the server is still working`;
  }
  const waited = giveUpAt - e.publishedAt;
  return verdict(
    'no_reply',
    `delivered to ${e.serverProcess ?? e.serverConnection ?? 'a server'} ${(e.deliveredAt as number) - e.publishedAt} ms after publish, no reply within ${waited} ms; ${hb}`,
    true,
    [],
  );
}

/**
 * Bindings mode sees the request only. The target queue (oslo names it
 * like the routing key: `<topic>` / `<topic>.<server>`) tells unroutable
 * (missing) and no_consumer (no consumer); anything else is null: the
 * outcome is unobservable.
 */
export function classifyBindings(e: ClassifiedCall, facts: QueueFacts): Verdict | null {
  const q = e.target.routingKey;
  const f = q ? facts(q) : null;
  if (f && !f.exists) {
    return verdict(
      'unroutable',
      `no queue named ${q} exists, so nothing (following oslo's naming) is bound for that routing key; bindings mode cannot see the routed queues to be sure`,
      false,
      [],
    );
  }
  if (f && f.consumers === 0) {
    return verdict(
      'no_consumer',
      `${q} has no consumer (depth ${f.depth}); bindings mode cannot tell whether it expired there or was taken before the server went away`,
      false,
      ['expired_in_queue'],
    );
  }
  return null;
}
