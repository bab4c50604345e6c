'use client';
/**
 * The fleet: the transports osloscope watches (GET /api/transports) and the one the user chose.
 *
 * The choice lives in the URL (`?transport=<name>`, absent or `all` = the whole fleet) so a reload
 * or a pasted link shows the same thing, and it is kept across pages: a link without the parameter
 * (the nav, a call's page) keeps the current choice, and the URL is given the parameter back.
 * Pages read the choice from this context, not from the URL, so a page opened through such a link
 * asks for the chosen transport's data from its first request.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { usePathname, useRouter, useSearchParams } from 'next/navigation';
import { useQuery } from '@tanstack/react-query';
import { queryKeys } from '@/lib/query-keys';
import { selectedTransport, type TransportEntry, type TransportsList } from '@/lib/api-contracts';
import { apiGet } from '../api-client';

/** Longest transport name read from a URL (TRANSPORT_NAME_RE: 1-32 characters; the server rejects unknown ones). */
const MAX_NAME = 32;

export type FleetTransport = TransportEntry;

/** The choice a `?transport=` value stands for: null is the whole fleet. */
export function choiceFromParam(v: string | null): string | null {
  return v === null ? null : selectedTransport(v.trim().slice(0, MAX_NAME));
}

interface ChoiceValue {
  /** the chosen transport's name; null: the whole fleet */
  choice: string | null;
  setChoice: (name: string | null) => void;
  /** the choice as set last, read by the URL keeper between renders */
  current: () => string | null;
}

const ChoiceContext = createContext<ChoiceValue>({ choice: null, setChoice: () => {}, current: () => null });

export function TransportChoiceProvider({ children }: { children: ReactNode }) {
  // the first render in the browser already knows the URL's choice (no request for the whole fleet first)
  const [choice, setState] = useState<string | null>(() => (typeof window === 'undefined' ? null : choiceFromParam(new URLSearchParams(window.location.search).get('transport'))));
  const ref = useRef(choice);
  const setChoice = useCallback((name: string | null) => {
    ref.current = name;
    setState(name);
  }, []);
  const current = useCallback(() => ref.current, []);
  const value = useMemo(() => ({ choice, setChoice, current }), [choice, setChoice, current]);
  return <ChoiceContext.Provider value={value}>{children}</ChoiceContext.Provider>;
}

/** The chosen transport (null: all) and its setter. */
export function useTransportChoice(): ChoiceValue {
  return useContext(ChoiceContext);
}

/** `path` with `transport=<choice>` added when a transport is chosen (an API path or a page). */
export function withTransport(path: string, choice: string | null | undefined): string {
  if (!choice) return path;
  const [base, hash] = path.split('#', 2) as [string, string | undefined];
  const sep = base.includes('?') ? '&' : '?';
  return `${base}${sep}transport=${encodeURIComponent(choice)}${hash !== undefined ? `#${hash}` : ''}`;
}

/**
 * Keeps the URL and the choice together: a `?transport=` in the URL (a pasted link, a replay link,
 * back/forward) sets the choice; a URL without one (a link from the nav or a page) gets the current
 * choice back. Rendered inside a Suspense boundary (it reads the search parameters).
 */
export function TransportUrlKeeper() {
  const params = useSearchParams();
  const pathname = usePathname();
  const router = useRouter();
  const { setChoice, current } = useTransportChoice();
  const inUrl = params.get('transport');
  const paramText = params.toString();
  useEffect(() => {
    if (pathname === '/login') return;
    if (inUrl !== null) {
      const v = choiceFromParam(inUrl);
      if (v !== current()) setChoice(v);
      return;
    }
    const c = current();
    if (!c) return;
    const next = new URLSearchParams(paramText);
    next.set('transport', c);
    router.replace(`${pathname}?${next.toString()}`, { scroll: false });
  }, [inUrl, pathname, paramText, router, setChoice, current]);
  return null;
}

/** The same page with another transport chosen (null: all); the rest of the URL stays. */
export function useChooseTransport(): (name: string | null) => void {
  const router = useRouter();
  const pathname = usePathname();
  const { setChoice } = useTransportChoice();
  return useCallback(
    (name: string | null) => {
      setChoice(name);
      const next = new URLSearchParams(window.location.search);
      if (name) next.set('transport', name);
      else next.delete('transport');
      const qs = next.toString();
      // replace: Back returns to the page before, not to the same page with the old choice
      router.replace(`${pathname}${qs ? `?${qs}` : ''}`, { scroll: false });
    },
    [router, pathname, setChoice],
  );
}

/**
 * The transports of this osloscope, polled (states change while a broker reconnects). An older
 * server without the endpoint counts as a single transport.
 */
export function useTransports() {
  return useQuery<TransportsList>({
    queryKey: [...queryKeys.all, 'transports'],
    queryFn: () => apiGet<TransportsList>('/api/transports'),
    refetchInterval: 3000,
    retry: false,
    staleTime: 2000,
  });
}

/** The fleet as pages need it: its transports, whether there are several, and the choice. */
export function useFleet(): { transports: FleetTransport[]; several: boolean; choice: string | null; chosen: FleetTransport | null } {
  const list = useTransports();
  const { choice } = useTransportChoice();
  const transports = list.data?.transports ?? [];
  return {
    transports,
    several: transports.length > 1,
    choice,
    chosen: choice ? (transports.find((t) => t.name === choice) ?? null) : null,
  };
}
