/**
 * Reads what an operator pastes into search (or `osloscope why`): a whole oslo
 * log line, a msg_id, a request id, a method or a host. Pure: shared by the
 * server, the CLI and the browser.
 *
 * The log texts are oslo.messaging's own (oslo_messaging/_drivers/amqpdriver.py):
 * - ReplyWaiters.get (14.0.3): `Timed out waiting for a reply to message ID %s`
 * - ReplyWaiter._raise_timeout_exception (14.0.3): MessagingTimeout('Timed out waiting for a reply to message ID %s.', msg_id),
 *   printed by str(exc) as the tuple `('Timed out waiting for a reply to message ID %s.', '<id>')`
 * - the same in 14.7+: MessagingTimeout('Timed out waiting for a reply %(reply_q)s to message ID %(msg_id)s.',
 *   {'msg_id': msg_id, 'reply_q': reply_q}), printed unformatted as a tuple
 * - AMQPDriverBase._send: LOG.debug('Expecting reply to msg %s in queue %s', msg_id, reply_q)
 * - ReplyWaiters.put: LOG.info('No calling threads waiting for msg_id : %s', msg_id)
 * - ReplyQueueCache._no_reply_log: LOG.warning("%(reply_queue)s doesn't exist, drop reply to %(msg_id)s", ...)
 */
import type { ParsedQuery } from './history-contracts.ts';

const HEX32 = '[0-9a-f]{32}';
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const REQ = `req-${UUID}`;
/** a queue name as oslo prints it (reply_<hex>, reply_<host>:<proc>:<n>) */
const QNAME = `[A-Za-z0-9_.:@-]+`;

interface Pattern {
  from: string;
  re: RegExp;
  /** groups: msgId, optional replyQ */
}

const PATTERNS: Pattern[] = [
  {
    // 14.7+: ('Timed out waiting for a reply %(reply_q)s to message ID %(msg_id)s.', {'msg_id': 'x', 'reply_q': 'y'}) — either key order
    from: 'oslo timeout tuple (14.7+)',
    re: new RegExp(
      `Timed out waiting for a reply %\\(reply_q\\)s to message ID %\\(msg_id\\)s\\.?'?,\\s*\\{[^}]*?'msg_id':\\s*'(?<msgId>${HEX32})'`,
      'i',
    ),
  },
  {
    // 14.0.3 ReplyWaiter: ('Timed out waiting for a reply to message ID %s.', 'x')
    from: 'oslo timeout tuple',
    re: new RegExp(`Timed out waiting for a reply to message ID %s\\.?'?,\\s*'(?<msgId>${HEX32})'`, 'i'),
  },
  {
    from: 'oslo timeout log line',
    re: new RegExp(`Timed out waiting for a reply (?:(?<replyQ>${QNAME}) )?to message ID (?<msgId>${HEX32})`, 'i'),
  },
  {
    from: 'oslo expecting reply',
    re: new RegExp(`Expecting reply to msg (?<msgId>${HEX32}) in queue (?<replyQ>${QNAME})`, 'i'),
  },
  {
    from: 'oslo no calling threads',
    re: new RegExp(`No calling threads waiting for msg_id\\s*:\\s*(?<msgId>${HEX32})`, 'i'),
  },
  {
    from: 'oslo drop reply',
    re: new RegExp(`(?<replyQ>${QNAME}) doesn't exist, drop reply to (?<msgId>${HEX32})`, 'i'),
  },
];

const REPLY_Q_IN_TUPLE = /'reply_q':\s*'([A-Za-z0-9_.:@-]+)'/;

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** host names, `<prog>:<pid>` processes, server names with dots and dashes */
const HOSTLIKE = /^[A-Za-z0-9][A-Za-z0-9_.@-]*(?::[0-9]+(?::[0-9a-f-]+)?)?$/i;

/**
 * Understand a pasted text. Never fails: what is not recognised becomes a
 * `text` query (a substring search). The caller bounds the input's length.
 */
export function parseSearchQuery(input: string): ParsedQuery {
  const text = input.trim();
  for (const p of PATTERNS) {
    const m = p.re.exec(text);
    if (m?.groups?.msgId) {
      const q: ParsedQuery = { kind: 'msg_id', value: m.groups.msgId.toLowerCase(), from: p.from };
      const replyQ = m.groups.replyQ ?? REPLY_Q_IN_TUPLE.exec(text)?.[1];
      if (replyQ && replyQ !== '%(reply_q)s') q.replyQ = replyQ;
      return q;
    }
  }
  const lower = text.toLowerCase();
  if (new RegExp(`^${HEX32}$`).test(lower)) return { kind: 'msg_id', value: lower };
  if (new RegExp(`^${REQ}$`).test(lower)) return { kind: 'request_id', value: lower };
  // A log line with a [req-… req-…] prefix (oslo.log's logging_context_format_string): the first is the
  // request id, the second (when present) the global request id
  const reqs = lower.match(new RegExp(REQ, 'g'));
  if (reqs && reqs.length > 0) return { kind: 'request_id', value: reqs[0], from: 'oslo request id in log line' };
  // Any msg_id-shaped token in a longer text
  const hex = new RegExp(`(?:^|[^0-9a-f])(${HEX32})(?:[^0-9a-f]|$)`).exec(lower);
  if (hex) return { kind: 'msg_id', value: hex[1], from: 'msg_id in text' };
  if (IDENT.test(text)) return { kind: 'method', value: text };
  if (HOSTLIKE.test(text)) return { kind: 'host', value: text };
  return { kind: 'text', value: text };
}
