'use client';
import { useEffect, useRef, type KeyboardEvent as ReactKeyboardEvent, type ReactNode } from 'react';

/**
 * A side drawer: a labelled dialog that takes focus when it opens, closes on
 * Esc, and gives focus back to what opened it.
 */
export function Drawer({ title, onClose, children, actions, testId }: { title: ReactNode; onClose: () => void; children: ReactNode; actions?: ReactNode; testId?: string }) {
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    ref.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        onClose();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => {
      window.removeEventListener('keydown', onKey);
      if (opener && document.contains(opener)) opener.focus();
    };
  }, [onClose]);
  return (
    <aside ref={ref} className="drawer" role="dialog" aria-modal="false" aria-labelledby="drawer-title" tabIndex={-1} data-testid={testId}>
      <header className="drawer-head">
        <h2 id="drawer-title">{title}</h2>
        <button type="button" className="btn btn-small" onClick={onClose} data-testid="drawer-close" aria-label="Close (Esc)">
          Close
        </button>
      </header>
      {actions && <div className="drawer-actions">{actions}</div>}
      <div className="drawer-body" tabIndex={0} aria-label="Details">
        {children}
      </div>
    </aside>
  );
}

/**
 * Keyboard for table rows: ↑/↓ (and Home/End) move focus between rows, Enter
 * opens the focused one. Put it on the <tbody>; rows carry tabIndex={0}.
 */
export function rowKeys(onOpen: (index: number) => void) {
  return (e: ReactKeyboardEvent<HTMLTableSectionElement>) => {
    const row = (e.target as HTMLElement).closest('tr');
    if (!row || row.parentElement !== e.currentTarget) return;
    const rows = [...e.currentTarget.querySelectorAll<HTMLTableRowElement>(':scope > tr[tabindex]')];
    const i = rows.indexOf(row);
    if (i < 0) return;
    let next = -1;
    if (e.key === 'ArrowDown') next = Math.min(rows.length - 1, i + 1);
    else if (e.key === 'ArrowUp') next = Math.max(0, i - 1);
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = rows.length - 1;
    else if (e.key === 'Enter' && e.target === row) {
      e.preventDefault();
      onOpen(i);
      return;
    }
    if (next >= 0) {
      e.preventDefault();
      rows[next].focus();
    }
  };
}
