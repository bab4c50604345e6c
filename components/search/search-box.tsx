'use client';
import { useEffect, useRef, useState } from 'react';
import { useRouter } from 'next/navigation';
import './investigate.css';

/**
 * The header's search box: a pasted log line, msg_id, request id, method or
 * host. `/` focuses it from anywhere (except while typing in a field); Enter
 * opens the search page, which opens the call itself when there is one hit.
 */
export function SearchBox() {
  const router = useRouter();
  const input = useRef<HTMLInputElement>(null);
  const [q, setQ] = useState('');
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return;
      const t = e.target as HTMLElement | null;
      if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) return;
      e.preventDefault();
      input.current?.focus();
      input.current?.select();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  return (
    <form
      className="search-box"
      role="search"
      onSubmit={(e) => {
        e.preventDefault();
        const text = q.trim();
        if (!text) return;
        router.push(`/search?q=${encodeURIComponent(text.slice(0, 4000))}`);
      }}
    >
      <input
        ref={input}
        type="search"
        value={q}
        maxLength={4000}
        onChange={(e) => setQ(e.target.value)}
        placeholder="Paste a log line, msg_id, req-… (/)"
        aria-label="Search calls and messages (press / to focus)"
        aria-keyshortcuts="/"
        data-testid="search-input"
      />
    </form>
  );
}
