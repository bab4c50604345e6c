'use client';
import Link from 'next/link';
import { CAUSE_LABELS } from '../ui/format';
import { useCallStory } from '../search/history-hooks';
import { causeAdvice } from '../calls/cause-advice';

/**
 * Under a Console call that timed out: why, as soon as the tap has classified
 * the call (the call record is polled until it carries a cause).
 */
export function TimeoutCause({ msgId }: { msgId: string }) {
  const story = useCallStory(msgId);
  const c = story.data?.call ?? null;
  const advice = c ? causeAdvice(c) : null;
  if (!c || !c.cause || !advice) {
    return (
      <p className="muted small" data-testid="timeout-cause" data-cause="">
        Finding out why… (the tap classifies a call once its timeout has passed){' '}
        <Link href={`/calls/${encodeURIComponent(msgId)}`}>open the call</Link>
      </p>
    );
  }
  return (
    <div className="callout callout-warn" data-testid="timeout-cause" data-cause={c.cause}>
      <p>
        <strong>Why: {CAUSE_LABELS[c.cause] ?? c.cause}</strong>
        {!c.causeCertain && c.indistinguishable.length > 1 ? ` (or ${c.indistinguishable.filter((x) => x !== c.cause).map((x) => CAUSE_LABELS[x] ?? x).join(' / ')})` : ''}. {advice.what}
      </p>
      <p className="small">
        Next: {advice.next[0]} <Link href={`/calls/${encodeURIComponent(msgId)}`} data-testid="timeout-call-link">The whole story of this call</Link>
      </p>
    </div>
  );
}
