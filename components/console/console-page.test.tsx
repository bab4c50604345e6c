// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ReactNode } from 'react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import type { KnownTargets } from '@/lib/tap-contracts';

vi.mock('next/navigation', () => ({ useSearchParams: () => new URLSearchParams() }));

const fired: unknown[] = [];
const known: { current: KnownTargets } = { current: { exchanges: [], topics: [], notificationTopics: [], servers: [], methods: [] } };
vi.mock('../hooks/use-fire', () => ({
  useFire: () => ({
    isPending: false,
    mutateAsync: async (req: unknown) => {
      fired.push(req);
      return { ok: true, data: { type: 'call', elapsedMs: 3, exchange: 'nova', routingKey: 'x', msgId: null, result: null } };
    },
  }),
  useFireHistory: () => ({ data: [] }),
}));
vi.mock('../hooks/use-session', () => ({ useSession: () => ({ data: { canFire: true, readOnly: false, role: 'operator' } }) }));
vi.mock('../hooks/use-status', () => ({ useStatus: () => ({ data: { transport: { controlExchange: 'nova', demoFleet: false } } }) }));
vi.mock('../hooks/use-targets', () => ({ useKnownTargets: () => known.current }));
vi.mock('../hooks/use-transport', () => ({ useFleet: () => ({ transports: [], several: false, choice: null, chosen: null }) }));

const { ConsolePage } = await import('./console-page');

function page() {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const wrap = ({ children }: { children: ReactNode }) => <QueryClientProvider client={client}>{children}</QueryClientProvider>;
  return render(<ConsolePage />, { wrapper: wrap });
}

const type = (id: string, value: string) => fireEvent.change(screen.getByTestId(id), { target: { value } });
const options = (id: string) => [...screen.getByTestId(id).querySelectorAll('option')].map((o) => o.getAttribute('value'));

describe('Console topic suggestions and the notification topic warning', () => {
  beforeEach(() => {
    fired.length = 0;
    known.current = { exchanges: ['nova'], topics: ['conductor', 'compute'], notificationTopics: ['notifications', 'versioned_notifications'], servers: [], methods: [] };
  });
  afterEach(cleanup);

  it('suggests the RPC topics only, never the notification topics the tap saw', () => {
    page();
    expect(options('suggest-topics')).toEqual(['conductor', 'compute']);
    expect(screen.getByTestId('field-topic').getAttribute('placeholder')).toBe('conductor');
  });

  it('warns before firing at a notification topic and fires only when pressed again', async () => {
    page();
    type('field-topic', 'versioned_notifications');
    type('field-method', 'ping');
    const warning = screen.getByTestId('topic-warning');
    expect(warning.getAttribute('data-reason')).toBe('notification');
    expect(warning.textContent).toMatch(/versioned_notifications.*notification topic.*times out/);
    await act(async () => fireEvent.click(screen.getByTestId('fire-submit')));
    expect(fired).toEqual([]);
    expect(screen.getByTestId('topic-warning').textContent).toContain('Nothing was sent');
    expect(screen.getByTestId('fire-submit').textContent).toBe('Fire call anyway');
    await act(async () => fireEvent.click(screen.getByTestId('fire-submit')));
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ target: { topic: 'versioned_notifications' }, method: 'ping' });
  });

  it('asks again for another warned topic, and fires an RPC topic at once without a warning', async () => {
    page();
    type('field-method', 'ping');
    type('field-topic', 'notifications');
    await act(async () => fireEvent.click(screen.getByTestId('fire-submit')));
    type('field-topic', 'reply_0123456789abcdef0123456789abcdef');
    expect(screen.getByTestId('topic-warning').getAttribute('data-reason')).toBe('reply');
    expect(screen.getByTestId('fire-submit').textContent).toBe('Fire call');
    await act(async () => fireEvent.click(screen.getByTestId('fire-submit')));
    expect(fired).toEqual([]);
    type('field-topic', 'conductor');
    expect(screen.queryByTestId('topic-warning')).toBeNull();
    await act(async () => fireEvent.click(screen.getByTestId('fire-submit')));
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ target: { topic: 'conductor' } });
  });
});
