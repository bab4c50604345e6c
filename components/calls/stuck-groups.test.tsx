// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import type { StuckGroup } from '@/lib/history-contracts';
import type { CallRecord } from '@/lib/tap-contracts';
import { StuckGroupsCard, groupStuck } from './stuck-groups';

const nav = vi.hoisted(() => ({ search: '', push: (_: string) => undefined as void, replace: (_: string) => undefined as void }));
vi.mock('next/navigation', () => ({
  useSearchParams: () => new URLSearchParams(nav.search),
  usePathname: () => '/calls',
  useRouter: () => ({ push: (u: string) => nav.push(u), replace: (u: string) => nav.replace(u) }),
}));

let n = 0;
function call(o: { topic: string; server?: string | null; method: string; cause: CallRecord['cause']; at: number; process?: string | null; transport?: string }): CallRecord {
  n++;
  return {
    msgId: `m${n}`,
    transport: o.transport,
    method: o.method,
    target: { exchange: 'nova', topic: o.topic, server: o.server ?? null },
    caller: { replyQ: null, process: o.process ?? null, connectionName: null, queueManager: null },
    publishedAt: o.at,
    cause: o.cause,
  } as unknown as CallRecord;
}

describe('groupStuck: the tap’s stuck calls grouped as the server groups them', () => {
  it('groups by transport, target, method and cause; counts, spans, newest samples and callers; newest group first', () => {
    const calls = [
      call({ topic: 'compute', server: 'dead', method: 'get_host_uptime', cause: 'no_consumer', at: 1000, process: 'nova-api:1' }),
      call({ topic: 'compute', server: 'dead', method: 'get_host_uptime', cause: 'no_consumer', at: 3000, process: 'nova-api:2' }),
      call({ topic: 'compute', server: 'dead', method: 'get_host_uptime', cause: 'no_consumer', at: 2000, process: 'nova-api:1' }),
      call({ topic: 'compute', server: 'dead', method: 'get_host_uptime', cause: 'no_reply', at: 1500 }),
      call({ topic: 'conductor', method: 'ping', cause: 'unroutable', at: 5000 }),
      call({ topic: 'conductor', method: 'ping', cause: null, at: 6000 }),
    ];
    const groups = groupStuck(calls);
    expect(groups.map((g) => [g.target.topic, g.method, g.cause, g.count])).toEqual([
      ['conductor', 'ping', 'unroutable', 1],
      ['compute', 'get_host_uptime', 'no_consumer', 3],
      ['compute', 'get_host_uptime', 'no_reply', 1],
    ]);
    const dead = groups[1];
    expect(dead).toMatchObject({ key: 'default|nova|compute|dead|get_host_uptime|no_consumer', firstSeen: 1000, lastSeen: 3000, callerProcesses: ['nova-api:1', 'nova-api:2'], acked: false });
    expect(dead.sampleMsgIds).toEqual([calls[1].msgId, calls[2].msgId, calls[0].msgId]);
  });

  it('keeps at most 5 samples and 5 callers, and another transport’s calls apart', () => {
    const calls = Array.from({ length: 8 }, (_, i) => call({ topic: 't', method: 'm', cause: 'no_reply', at: i, process: `p:${i}` }));
    calls.push(call({ topic: 't', method: 'm', cause: 'no_reply', at: 99, transport: 'cell2' }));
    const [other, g] = groupStuck(calls);
    expect(g.count).toBe(8);
    expect(g.sampleMsgIds).toEqual(calls.slice(3, 8).reverse().map((c) => c.msgId));
    expect(g.callerProcesses).toHaveLength(5);
    expect(other).toMatchObject({ transport: 'cell2', count: 1 });
  });
});

function group(o: Partial<StuckGroup> & { key: string; method: string }): StuckGroup {
  return {
    transport: 'default',
    target: { exchange: 'nova', topic: 'compute', server: 'compute-dead' },
    cause: 'no_consumer',
    count: 2,
    firstSeen: 1000,
    lastSeen: 2000,
    sampleMsgIds: [`${o.key}-newest`, `${o.key}-older`],
    callerProcesses: ['nova-api:7'],
    acked: false,
    ackedAt: null,
    ackedBy: null,
    newSinceAck: 0,
    ...o,
  };
}

type Answer = { status: number; body: unknown };
const ok = (data: unknown): Answer => ({ status: 200, body: { ok: true, data } });

describe('StuckGroupsCard', () => {
  let answers: Record<string, () => Answer>;
  let requests: { url: string; body: unknown }[];
  let pushed: string[];
  let replaced: string[];

  beforeEach(() => {
    nav.search = '';
    pushed = [];
    replaced = [];
    nav.push = (u) => void pushed.push(u);
    nav.replace = (u) => void replaced.push(u);
    requests = [];
    answers = {
      '/api/transports': () => ok({ transports: [], default: 'default' }),
      '/api/session': () => ok({ user: 'op', role: 'operator', authEnabled: true, readOnly: false, canFire: true }),
      '/api/stuck-groups': () => ({ status: 503, body: { ok: false, error: { code: 'unavailable', message: 'no history store' } } }),
    };
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init?: RequestInit) => {
        requests.push({ url, body: init?.body ? JSON.parse(String(init.body)) : undefined });
        const path = url.split('?')[0];
        const a = answers[path]?.() ?? { status: 404, body: { ok: false, error: { code: 'not_found', message: path } } };
        return new Response(JSON.stringify(a.body), { status: a.status, headers: { 'content-type': 'application/json' } });
      }),
    );
  });
  afterEach(() => {
    cleanup();
    vi.unstubAllGlobals();
  });

  function show(stuck: CallRecord[] | null) {
    const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    return render(
      <QueryClientProvider client={client}>
        <StuckGroupsCard stuck={stuck} stale={false} staleNote={null} />
      </QueryClientProvider>,
    );
  }

  const rows = () => screen.queryAllByTestId('stuck-group');

  it('falls back to the tap’s memory when the history store cannot answer, and says so', async () => {
    show([call({ topic: 'compute', server: 'compute-dead', method: 'get_host_uptime', cause: 'no_consumer', at: 1 }), call({ topic: 'scheduler', method: 'select_destinations', cause: 'no_reply', at: 2 })]);
    await screen.findByTestId('stuck-memory-only');
    expect(screen.getByTestId('stuck-memory-only').textContent).toMatch(/no history store/);
    expect(rows().map((r) => r.getAttribute('data-method'))).toEqual(['select_destinations', 'get_host_uptime']);
    expect(screen.getByTestId('stuck-calls').textContent).toMatch(/Stuck calls \(2 in 2 groups\)/);
    // no store, no acknowledging
    expect(screen.queryByTestId('stuck-ack')).toBeNull();
    expect((screen.getByTestId('stuck-acked') as HTMLSelectElement).disabled).toBe(true);
  });

  it('filters the memory groups by the URL’s q and queue', async () => {
    nav.search = 'q=uptime';
    const stuck = [
      call({ topic: 'compute', server: 'compute-dead', method: 'get_host_uptime', cause: 'no_consumer', at: 1 }),
      call({ topic: 'scheduler', method: 'select_destinations', cause: 'no_reply', at: 2 }),
    ];
    const { unmount } = show(stuck);
    await screen.findByTestId('stuck-memory-only');
    expect(rows().map((r) => r.getAttribute('data-method'))).toEqual(['get_host_uptime']);
    unmount();
    nav.search = 'queue=scheduler';
    show(stuck);
    await screen.findByTestId('stuck-queue-filter');
    expect(rows().map((r) => r.getAttribute('data-method'))).toEqual(['select_destinations']);
    fireEvent.click(within(screen.getByTestId('stuck-queue-filter')).getByRole('button', { name: 'show all' }));
    expect(replaced).toEqual(['/calls']);
  });

  it('writes a typed search into the URL after a pause, trimmed', async () => {
    show([]);
    await screen.findByText(/No stuck call\./);
    vi.useFakeTimers();
    try {
      fireEvent.change(screen.getByTestId('stuck-search'), { target: { value: '  compute  ' } });
      expect(replaced).toEqual([]);
      act(() => vi.advanceTimersByTime(300));
      expect(replaced).toEqual(['/calls?q=compute']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('shows the store’s groups, opens a group’s newest call with the keyboard, and acknowledges for an operator', async () => {
    answers['/api/stuck-groups'] = () => ok({ groups: [group({ key: 'g1', method: 'get_host_uptime', newSinceAck: 0 }), group({ key: 'g2', method: 'reboot_instance', acked: true, newSinceAck: 3 })], totalCalls: 4, truncated: false });
    answers['/api/stuck-groups/ack'] = () => ok(group({ key: 'g1', method: 'get_host_uptime', acked: true }));
    show(null);
    await waitFor(() => expect(rows()).toHaveLength(2));
    expect(screen.queryByTestId('stuck-memory-only')).toBeNull();
    expect(requests.find((r) => r.url.startsWith('/api/stuck-groups?'))?.url).toBe('/api/stuck-groups?acked=no&limit=200');
    const [first, second] = rows();
    // an acknowledged group does not count new calls as news
    expect(within(second).getByTestId('stuck-count').textContent).toBe('2');
    fireEvent.keyDown(first, { key: 'Enter' });
    expect(pushed).toEqual(['/calls/g1-newest']);
    const ack = await within(first).findByTestId('stuck-ack');
    expect(ack.textContent).toBe('Acknowledge');
    expect(within(second).getByTestId('stuck-ack').textContent).toBe('Re-open');
    fireEvent.click(ack);
    await waitFor(() => expect(requests.some((r) => r.url === '/api/stuck-groups/ack')).toBe(true));
    expect(requests.find((r) => r.url === '/api/stuck-groups/ack')?.body).toEqual({ key: 'g1', acked: true });
    // the button's click is not the row's: the row did not open
    expect(pushed).toEqual(['/calls/g1-newest']);
  });

  it('offers no acknowledging to a viewer', async () => {
    answers['/api/session'] = () => ok({ user: 'v', role: 'viewer', authEnabled: true, readOnly: true, canFire: false });
    answers['/api/stuck-groups'] = () => ok({ groups: [group({ key: 'g1', method: 'get_host_uptime' })], totalCalls: 2, truncated: false });
    show(null);
    await waitFor(() => expect(rows()).toHaveLength(1));
    await waitFor(() => expect(requests.some((r) => r.url === '/api/session')).toBe(true));
    await act(async () => undefined);
    expect(screen.queryByTestId('stuck-ack')).toBeNull();
  });
});
