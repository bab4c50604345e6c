// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import type { BrokerSnapshot } from '@/lib/api-contracts';
import type { BrokerQueue, BrokerView } from '@/lib/tap-contracts';
import { brokerQueue as queue } from '@/lib/test-support';
import { BrokerPage } from './broker-page';

const data = vi.hoisted(() => ({ snapshot: null as unknown }));
vi.mock('next/navigation', () => ({
  useSearchParams: () => new URLSearchParams(''),
  usePathname: () => '/broker',
  useRouter: () => ({ push: () => undefined, replace: () => undefined }),
}));
vi.mock('../hooks/use-broker', () => ({ useBroker: () => ({ data: data.snapshot, isError: false, error: null, dataUpdatedAt: Date.now() }) }));
vi.mock('../hooks/use-broker-health', () => ({ useBrokerHealth: () => ({ data: undefined, isError: false, error: null, dataUpdatedAt: 0 }) }));
vi.mock('../hooks/use-transport', () => ({
  useFleet: () => ({ transports: [], several: false, choice: null, chosen: null }),
  useTransportChoice: () => ({ choice: null, setChoice: () => undefined }),
}));

function show(queues: BrokerQueue[]): void {
  const view: BrokerView = {
    source: 'management',
    at: Date.now(),
    vhost: '/',
    complete: true,
    error: null,
    queues,
    replyQueuesWithoutConsumers: [],
    connections: { poolSize: 30, processes: [], unnamed: 0 },
  };
  data.snapshot = { view } as unknown as BrokerSnapshot;
  render(<BrokerPage />);
}

afterEach(cleanup);

describe('Broker page: counts the broker did not report', () => {
  it('shows a dash, not 0, for a count left out (statistics disabled), sorts it last, and says why in the drawer', () => {
    show([queue('compute', { depth: null, consumers: null }), queue('conductor', { depth: 7, consumers: 2 }), queue('scheduler', { depth: 0, consumers: 0 })]);
    const row = (name: string) => screen.getAllByTestId('queue-row').find((r) => r.dataset.queue === name) as HTMLElement;
    const cells = (name: string) => [...row(name).children].map((c) => c.textContent?.trim());
    expect(within(row('compute')).getAllByTestId('count-unreported')).toHaveLength(2);
    expect(cells('compute')[4]).toBe('—');
    expect(cells('compute')[7]).toBe('—');
    expect(cells('conductor')[4]).toBe('7');
    expect(cells('conductor')[7]).toBe('2');
    // a topic queue nobody consumes is a problem; one whose consumers are not known is not called one
    expect(row('scheduler').className).toMatch(/row-bad/);
    expect(row('compute').className).not.toMatch(/row-bad/);
    fireEvent.click(screen.getByTestId('sort-depth'));
    expect(screen.getAllByTestId('queue-row').map((r) => r.dataset.queue)).toEqual(['conductor', 'scheduler', 'compute']);
    fireEvent.click(row('compute'));
    const dialog = screen.getByRole('dialog');
    expect(within(dialog).getAllByTestId('count-unreported')).toHaveLength(2);
    expect(within(dialog).getAllByTestId('count-unreported')[0].getAttribute('title')).toMatch(/not reported by the management API/);
  });
});
