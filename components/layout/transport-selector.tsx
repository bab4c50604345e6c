'use client';
/**
 * The header's transport selector: "All" and each named transport (TRANSPORT_URLS) with its state.
 * Shown only when osloscope watches more than one. A disclosure: the button opens a list of
 * buttons (Tab or the arrow keys move, Enter chooses, Escape closes and returns to the button).
 */
import { useEffect, useId, useRef, useState, type KeyboardEvent } from 'react';
import { transportUp, type TransportEntry } from '@/lib/api-contracts';
import { useChooseTransport, useFleet } from '../hooks/use-transport';

export type Tone = 'ok' | 'warn' | 'bad';

export function stateTone(state: string): Tone {
  return transportUp(state) ? 'ok' : state === 'degraded' ? 'warn' : 'bad';
}

const RANK: Record<Tone, number> = { ok: 0, warn: 1, bad: 2 };

/** The worst tone of several transports (the "All" entry's dot). */
export function worstTone(states: string[]): Tone {
  return states.map(stateTone).reduce<Tone>((w, t) => (RANK[t] > RANK[w] ? t : w), 'ok');
}

/**
 * "broker unreachable: <reason>, retrying (attempt n, next in s)" for a transport that is not
 * connected; null when it is (or says nothing about why).
 */
export function transportHealthText(t: Pick<TransportEntry, 'state' | 'reason' | 'attempt' | 'nextRetryAt'> & { tap?: Pick<NonNullable<TransportEntry['tap']>, 'error'> | null }, serverNow: number): string | null {
  if (stateTone(t.state) === 'ok') return null;
  const retry = t.attempt !== null && t.nextRetryAt !== null ? `retrying (attempt ${t.attempt}, next in ${Math.max(0, Math.ceil((t.nextRetryAt - serverNow) / 1000))} s)` : null;
  // the tap's own last error often says more (a vhost that is gone, refused credentials)
  const tapError = t.tap?.error && !(t.reason ?? '').includes(t.tap.error) ? t.tap.error : null;
  const why = [t.reason, tapError].filter(Boolean).join('; ');
  if (why) return `broker unreachable: ${why}${retry ? `, ${retry}` : ''}`;
  return retry ? `${t.state}, ${retry}` : null;
}

export function TransportSelector() {
  const { transports, several, choice } = useFleet();
  const choose = useChooseTransport();
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const listId = useId();

  useEffect(() => {
    if (!open) return;
    // the chosen entry takes the focus, so the arrow keys start from it
    root.current?.querySelector<HTMLButtonElement>('[aria-current="true"]')?.focus();
    const onDown = (e: MouseEvent) => {
      if (root.current && !root.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', onDown);
    return () => document.removeEventListener('mousedown', onDown);
  }, [open]);

  if (!several) return null;
  const chosen = choice ? transports.find((t) => t.name === choice) : null;
  const tone = choice ? (chosen ? stateTone(chosen.state) : 'bad') : worstTone(transports.map((t) => t.state));

  const pick = (name: string | null) => {
    setOpen(false);
    button.current?.focus();
    if (name !== choice) choose(name);
  };
  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key === 'Escape' && open) {
      e.preventDefault();
      e.stopPropagation();
      setOpen(false);
      button.current?.focus();
      return;
    }
    if (!open || (e.key !== 'ArrowDown' && e.key !== 'ArrowUp' && e.key !== 'Home' && e.key !== 'End')) return;
    e.preventDefault();
    const items = [...(root.current?.querySelectorAll<HTMLButtonElement>('[data-testid="transport-option"]') ?? [])];
    const at = items.indexOf(document.activeElement as HTMLButtonElement);
    const next = e.key === 'Home' ? 0 : e.key === 'End' ? items.length - 1 : e.key === 'ArrowDown' ? Math.min(items.length - 1, at + 1) : Math.max(0, at - 1);
    items[next]?.focus();
  };

  return (
    <div className="transport-select" ref={root} onKeyDown={onKey} data-testid="transport-select">
      <button
        ref={button}
        type="button"
        className={`btn btn-small transport-button tone-${tone}`}
        aria-expanded={open}
        aria-controls={listId}
        onClick={() => setOpen((o) => !o)}
        data-testid="transport-selector"
        data-choice={choice ?? 'all'}
      >
        <span className="dot" aria-hidden />
        <span className="muted">Transport:</span> <strong data-testid="transport-choice">{choice ?? 'All'}</strong>
        {choice && !chosen && transports.length > 0 ? <span className="muted"> (unknown)</span> : null}
        <span aria-hidden> ▾</span>
      </button>
      {open && (
        <ul id={listId} className="transport-menu" aria-label="Transports" data-testid="transport-menu">
          <li>
            <button type="button" className={`transport-option tone-${worstTone(transports.map((t) => t.state))}`} aria-current={choice === null} onClick={() => pick(null)} data-testid="transport-option" data-name="all">
              <span className="dot" aria-hidden />
              <span>All transports</span>
              <span className="muted small">{transports.length}</span>
            </button>
          </li>
          {transports.map((t) => (
            <li key={t.name}>
              <button
                type="button"
                className={`transport-option tone-${stateTone(t.state)}`}
                aria-current={choice === t.name}
                onClick={() => pick(t.name)}
                title={t.url}
                data-testid="transport-option"
                data-name={t.name}
                data-state={t.state}
              >
                <span className="dot" aria-hidden />
                <span className="mono">{t.name}</span>
                <span className="muted small">{t.state}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
