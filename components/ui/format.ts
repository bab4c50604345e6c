/** Display helpers (pure; times are passed in). */

export function clockTime(ms: number): string {
  if (!ms) return '—';
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function shortTime(ms: number): string {
  if (!ms) return '';
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function rate(n: number): string {
  if (n >= 100) return n.toFixed(0);
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function ago(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

export const CAUSE_LABELS: Record<string, string> = {
  unroutable: 'Unroutable',
  no_consumer: 'No consumer',
  expired_in_queue: 'Expired in queue',
  no_reply: 'No reply',
  reply_queue_gone: 'Reply queue gone',
  late_reply: 'Late reply',
  late_reply_across_restart: 'Late reply across a restart',
};

export const CAUSE_EXPLANATIONS: Record<string, string> = {
  unroutable: 'The request was routed to no queue: no server ever listened on this topic/server (check the topic, server and exchange).',
  no_consumer: 'The target queue exists but nobody consumes it: the server process is down or stuck before consuming.',
  expired_in_queue: 'The request waited in the queue until its expiration (the call timeout) and was dropped: the server is too slow or overloaded.',
  no_reply: 'A server took the request but never answered in time.',
  reply_queue_gone: "The server answered but the caller's reply queue was gone (the caller restarted or its connection dropped).",
  late_reply: 'The reply came after the caller had given up (server slower than the caller timeout).',
  late_reply_across_restart:
    "The caller's service restarted while it waited: its queue-manager reply queue (reply_<host>:<proc>:<n>) was taken over by the new process, which drops the reply (\"No calling threads waiting for msg_id\").",
};
