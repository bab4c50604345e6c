'use client';
import { useEffect, useState } from 'react';

/**
 * The current time, re-rendering every `everyMs`. 0 until mounted, so server
 * and client renders agree (no hydration mismatch on times).
 */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(0);
  useEffect(() => {
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}
