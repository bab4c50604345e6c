import type { CallRecord } from '@/lib/tap-contracts';
import { Badge } from '../ui/badge';
import { CAUSE_EXPLANATIONS, CAUSE_LABELS } from '../ui/format';

/** `<prog>:<pid>`, else the queue-manager service, else the reply queue. */
export function callerLabel(c: CallRecord): string {
  return c.caller.process ?? (c.caller.queueManager ? `${c.caller.queueManager.process}@${c.caller.queueManager.host}` : null) ?? c.caller.replyQ ?? 'unknown';
}

/** The call's state in words; bindings mode says what is known, with no alarm colour. */
export function stateWords(c: CallRecord): { text: string; tone: 'ok' | 'bad' | 'warn' | 'muted' | 'info' } {
  if (c.cause) return { text: `stuck: ${CAUSE_LABELS[c.cause] ?? c.cause}`, tone: c.causeCertain ? 'bad' : 'warn' };
  if (c.outcome === 'unobserved') return { text: 'sent, reply not observable', tone: 'muted' };
  if (c.state === 'done') return c.outcome === 'failure' ? { text: `answered: ${c.failure?.class ?? 'failure'}`, tone: 'warn' } : { text: 'answered', tone: 'ok' };
  if (c.state === 'stuck') return { text: 'stuck', tone: 'bad' };
  return { text: 'waiting for the reply', tone: 'info' };
}

export function StateBadge({ call }: { call: CallRecord }) {
  const s = stateWords(call);
  return (
    <Badge tone={s.tone} title={call.cause ? CAUSE_EXPLANATIONS[call.cause] : undefined} testId="call-state">
      {s.text}
    </Badge>
  );
}
