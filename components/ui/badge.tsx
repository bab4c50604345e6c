import type { ReactNode } from 'react';

export type Tone = 'ok' | 'warn' | 'bad' | 'info' | 'muted' | 'accent';

export function Badge({ tone = 'muted', children, title, testId }: { tone?: Tone; children: ReactNode; title?: string; testId?: string }) {
  return (
    <span className={`badge badge-${tone}`} title={title} data-testid={testId}>
      {children}
    </span>
  );
}

const KIND_TONES: Record<string, Tone> = {
  call: 'accent',
  cast: 'info',
  fanout: 'warn',
  reply: 'ok',
  heartbeat: 'muted',
  notification: 'muted',
  unknown: 'bad',
};

export function KindBadge({ kind }: { kind: string }) {
  return <Badge tone={KIND_TONES[kind] ?? 'muted'}>{kind}</Badge>;
}
