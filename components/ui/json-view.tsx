'use client';
import { useState } from 'react';

/** Pretty JSON in a scrollable block, with a copy button. */
export function JsonView({ value, testId, maxHeight }: { value: unknown; testId?: string; maxHeight?: number }) {
  const text = safeStringify(value);
  return (
    <div className="json-view">
      <CopyButton text={text} />
      <pre data-testid={testId} style={maxHeight ? { maxHeight } : undefined} tabIndex={0} aria-label={testId ? testId.replace(/-/g, ' ') : 'JSON'}>
        {text}
      </pre>
    </div>
  );
}

export function CopyButton({ text, label = 'Copy', testId }: { text: string; label?: string; testId?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      className="btn btn-small copy-btn"
      data-testid={testId}
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
        } catch {
          // clipboard refused (insecure origin): fall back to a selection the user can copy
          const ta = document.createElement('textarea');
          ta.value = text;
          document.body.appendChild(ta);
          ta.select();
          document.execCommand('copy');
          ta.remove();
        }
        setDone(true);
        setTimeout(() => setDone(false), 1200);
      }}
    >
      {done ? 'Copied' : label}
    </button>
  );
}

export function safeStringify(value: unknown): string {
  try {
    const s = JSON.stringify(value, null, 2);
    return s === undefined ? 'null' : s;
  } catch {
    return String(value);
  }
}
