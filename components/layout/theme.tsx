'use client';
import { useEffect, useState } from 'react';

/** localStorage key of the chosen theme; absent = follow the system (prefers-color-scheme). */
export const THEME_KEY = 'osloscope-theme';
type Choice = 'system' | 'light' | 'dark';
const NEXT: Record<Choice, Choice> = { system: 'light', light: 'dark', dark: 'system' };

/** Runs before the first paint (app/layout.tsx): no flash of the wrong theme. */
export const THEME_BOOT = `try{var t=localStorage.getItem('${THEME_KEY}');if(t==='light'||t==='dark')document.documentElement.dataset.theme=t}catch(e){}`;

function apply(choice: Choice): void {
  if (choice === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = choice;
  try {
    if (choice === 'system') localStorage.removeItem(THEME_KEY);
    else localStorage.setItem(THEME_KEY, choice);
  } catch {
    // storage refused (private mode): the choice lasts for this page
  }
}

export function cycleTheme(): void {
  const cur = (document.documentElement.dataset.theme as Choice | undefined) ?? 'system';
  apply(NEXT[cur] ?? 'system');
  window.dispatchEvent(new Event('osloscope-theme'));
}

/** Theme: system → light → dark → system; persisted. */
export function ThemeToggle() {
  const [choice, setChoice] = useState<Choice>('system');
  useEffect(() => {
    const read = () => setChoice((document.documentElement.dataset.theme as Choice | undefined) ?? 'system');
    read();
    window.addEventListener('osloscope-theme', read);
    return () => window.removeEventListener('osloscope-theme', read);
  }, []);
  const label = choice === 'system' ? 'Theme: system' : choice === 'light' ? 'Theme: light' : 'Theme: dark';
  return (
    <button type="button" className="btn btn-small theme-toggle" data-testid="theme-toggle" data-theme-choice={choice} onClick={cycleTheme} title={`${label} (press t to change)`}>
      <span aria-hidden>{choice === 'light' ? '☀' : choice === 'dark' ? '☾' : '◐'}</span> {label}
    </button>
  );
}
