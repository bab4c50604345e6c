/**
 * A stuck call's cause in words, with what to check next, for the call page
 * and the Console. Pure: the call record in, sentences out.
 */
import type { CallRecord, StuckCause } from '@/lib/tap-contracts';

export interface CauseAdvice {
  /** one sentence: what happened */
  what: string;
  /** things to look at next, most likely first */
  next: string[];
}

function queueOf(c: CallRecord): string {
  const t = c.target;
  return t.server ? `${t.topic ?? t.routingKey}.${t.server}` : (t.topic ?? t.routingKey);
}

/** The advice for a call's cause; null when the call has no cause (answered, or still in time). */
export function causeAdvice(c: CallRecord): CauseAdvice | null {
  if (!c.cause) return null;
  return adviceFor(c.cause, c);
}

export function adviceFor(cause: StuckCause, c: CallRecord): CauseAdvice {
  const q = queueOf(c);
  const topic = c.target.topic ?? c.target.routingKey;
  const server = c.target.server;
  const caller = c.caller.process ?? (c.caller.queueManager ? `${c.caller.queueManager.process} on ${c.caller.queueManager.host}` : null);
  const serverProc = c.serverProcess;
  switch (cause) {
    case 'unroutable':
      return {
        what: `RabbitMQ routed the request to no queue: nothing is bound to exchange ${c.target.exchange} with routing key ${c.target.routingKey}.`,
        next: [
          `Is a ${topic} service running${server ? ` on ${server}` : ''}? It declares queue ${q} when it starts.`,
          `Does the caller use the same exchange (control_exchange = ${c.target.exchange}) and vhost as the servers?`,
          server ? `Is ${server} the host name the service registers with (its CONF.host)?` : 'Is the topic spelled as the service registers it?',
        ],
      };
    case 'no_consumer':
      return {
        what: `The request reached queue ${q}, but no process consumes that queue.`,
        next: [
          `Is the ${topic} service${server ? ` on ${server}` : ''} running, and connected to this broker?`,
          `Look at the service's log for a lost AMQP connection or a hang at start-up.`,
          `See the queue on the Broker page: consumers, messages ready, x-expires.`,
        ],
      };
    case 'expired_in_queue':
      return {
        what: `The request waited in ${q} until its expiration (${Math.round(c.timeoutMs / 1000)} s) and was dropped unread.`,
        next: [
          `The ${topic} servers are too slow or too few for the load: check their worker pool (executor_thread_pool_size) and CPU.`,
          `Look at the queue's depth and consumer utilisation on the Broker page.`,
          'Other calls stuck the same way show whether one server or the whole topic lags.',
        ],
      };
    case 'no_reply':
      return {
        what: `${serverProc ? `Server process ${serverProc}` : 'A server'} took the request but sent no reply in time${c.heartbeats > 0 ? ` (it sent ${c.heartbeats} heartbeat${c.heartbeats === 1 ? '' : 's'}: it was still working)` : ''}.`,
        next: [
          `Search the ${serverProc ?? topic} log for ${c.requestId ?? c.msgId}: an exception, a long database call, a deadlock.`,
          `Is ${c.method} expected to take longer than the caller's ${Math.round(c.timeoutMs / 1000)} s timeout? Raise rpc_response_timeout or use call_monitor_timeout.`,
          'Did the server restart while handling the call?',
        ],
      };
    case 'reply_queue_gone':
      return {
        what: `The server answered, but the caller's reply queue ${c.caller.replyQ ?? ''} was gone or no longer consumed.`,
        next: [
          `Did the caller${caller ? ` (${caller})` : ''} restart or lose its connection while waiting?`,
          'Check the caller log for a reconnect around the publish time.',
        ],
      };
    case 'late_reply':
      return {
        what: `The reply came after the caller had given up (its timeout: ${Math.round(c.timeoutMs / 1000)} s).`,
        next: [
          `${c.method} is slower than the caller allows: see the latency of ${topic}:${c.method} on the Calls page.`,
          'Raise the caller timeout, or find out why the server is slow for this request.',
        ],
      };
    case 'late_reply_across_restart':
      return {
        what: `The caller's service restarted while it waited; the new process took over reply queue ${c.caller.replyQ ?? ''} and dropped the reply ("No calling threads waiting for msg_id").`,
        next: ['Why did the caller restart? Its service manager log has the reason.', 'Calls in flight across a restart are lost; the request may need to be retried.'],
      };
  }
}
