import type { KeyboardEvent } from 'react';

/**
 * Keyboard for table rows (on the <tbody>; rows carry tabIndex={0}): ↑/↓,
 * Home/End move focus between rows, Enter opens the focused one.
 */
export function rowKeys(onOpen: (index: number) => void) {
  return (e: KeyboardEvent<HTMLTableSectionElement>) => {
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
