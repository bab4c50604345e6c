'use client';
import { useRouter } from 'next/navigation';
import { useEffect, useRef, useState } from 'react';
import { cycleTheme } from './theme';

/** Keys typed into a field are the field's. */
function typing(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el) return false;
  return el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName);
}

export const SHORTCUTS: { keys: string; what: string }[] = [
  { keys: '?', what: 'show this list' },
  { keys: '/', what: 'focus the search box' },
  { keys: 'g then o / l / c / a / b', what: 'go to Overview, Live, Console, Calls, Broker' },
  { keys: 't', what: 'switch the theme (system, light, dark)' },
  { keys: 'Tab, ↑ ↓, Home, End', what: 'move between table rows (Live, Calls, Broker)' },
  { keys: 'Enter', what: 'open the row (drawer or details)' },
  { keys: 'Esc', what: 'close the drawer or this list' },
];

/** Global keys: `?` lists them, `g x` navigates, `t` switches the theme. */
export function Shortcuts({ nav }: { nav: { href: string; label: string; key: string }[] }) {
  const router = useRouter();
  const [open, setOpen] = useState(false);
  const dialog = useRef<HTMLDialogElement>(null);
  const pendingG = useRef(0);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
      if (e.key === '?') {
        e.preventDefault();
        setOpen((o) => !o);
        return;
      }
      if (e.key === 't') {
        cycleTheme();
        return;
      }
      if (e.key === 'g') {
        pendingG.current = Date.now();
        return;
      }
      if (pendingG.current && Date.now() - pendingG.current < 1500) {
        pendingG.current = 0;
        const to = nav.find((n) => n.key === e.key);
        if (to) {
          e.preventDefault();
          router.push(to.href);
        }
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [nav, router]);

  useEffect(() => {
    const d = dialog.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);

  return (
    <dialog ref={dialog} className="shortcuts card" data-testid="shortcuts" aria-labelledby="shortcuts-title" onClose={() => setOpen(false)}>
      <header className="card-head">
        <h2 id="shortcuts-title">Keyboard shortcuts</h2>
        <button type="button" className="btn btn-small card-actions" onClick={() => setOpen(false)}>
          Close
        </button>
      </header>
      <div className="card-body">
        <table className="table compact">
          <thead>
            <tr>
              <th scope="col">Keys</th>
              <th scope="col">Does</th>
            </tr>
          </thead>
          <tbody>
            {SHORTCUTS.map((s) => (
              <tr key={s.keys}>
                <td>
                  <kbd>{s.keys}</kbd>
                </td>
                <td>{s.what}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </dialog>
  );
}
