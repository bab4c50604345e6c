import type { ReactNode } from 'react';

export function Card({ title, actions, children, className, testId, stale }: { title?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string; testId?: string; stale?: boolean }) {
  return (
    <section className={`card${stale ? ' stale' : ''}${className ? ` ${className}` : ''}`} data-testid={testId} data-stale={stale ? 'true' : 'false'}>
      {(title || actions) && (
        <header className="card-head">
          {title && <h2>{title}</h2>}
          {actions && <div className="card-actions">{actions}</div>}
        </header>
      )}
      <div className="card-body">{children}</div>
    </section>
  );
}

export function Stat({ label, value, sub, tone, testId }: { label: string; value: ReactNode; sub?: ReactNode; tone?: 'ok' | 'warn' | 'bad' | 'muted'; testId?: string }) {
  return (
    <div className={`stat${tone ? ` tone-${tone}` : ''}`} data-testid={testId}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {sub && <div className="stat-sub">{sub}</div>}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}
