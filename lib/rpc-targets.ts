/**
 * Whether a topic typed in the Console has an RPC server behind it. A call to a topic nothing consumes as an
 * RPC server waits out its whole timeout, so the Console warns before firing at names that are notification
 * topics (seen carrying notifications, or named like oslo's notification topics), reply queues or fanout
 * exchanges (docs/wire.md#notifications, #queue-names).
 */
import type { KnownTargets } from './tap-contracts.ts';

/** oslo.messaging's default notification topic (`[oslo_messaging_notifications] topics`), nova's versioned one, and `<x>_notifications` of other services */
const NOTIFICATION_NAME = /^(?:.*_)?notifications(?:\.|$)/;

/** `<topic>_fanout` (the exchange, a stream queue) and `<topic>_fanout_<id>` (a server's fanout queue) */
const FANOUT_NAME = /^(.+?)_fanout(?:_.*)?$/;

export interface TopicWarning {
  /** why nothing answers there */
  reason: 'notification' | 'reply' | 'fanout';
  text: string;
}

/** The warning for firing an RPC at `topic`, or null when nothing speaks against it. */
export function topicWarning(topic: string, known: Pick<KnownTargets, 'topics' | 'notificationTopics'>): TopicWarning | null {
  const t = topic.trim();
  if (t === '') return null;
  // traffic showed requests on it: an RPC server consumes it, whatever its name
  if (known.topics.includes(t)) return null;
  const seen = known.notificationTopics.includes(t);
  if (seen || NOTIFICATION_NAME.test(t)) {
    return {
      reason: 'notification',
      text: `"${t}" is a notification topic${seen ? ' (the tap saw notifications on it, never an RPC request)' : ''}: notification listeners consume it, no RPC server does, so a call gets no reply and times out and a cast is never processed as an RPC.`,
    };
  }
  if (t.startsWith('reply_')) {
    return { reason: 'reply', text: `"${t}" is a reply queue (an RPC client's, reply_<id>): it takes replies, not requests, so a call to it times out.` };
  }
  const fanout = FANOUT_NAME.exec(t);
  if (fanout) {
    return { reason: 'fanout', text: `"${t}" is a fanout exchange or queue name, not a topic: to reach every server of topic "${fanout[1]}", fire a fanout to that topic.` };
  }
  return null;
}
