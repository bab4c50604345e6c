// @vitest-environment happy-dom
/**
 * useSocketFeed over RealtimeProvider with socket.io's client replaced by a
 * hand-driven socket: what is subscribed and unsubscribed, when, with which
 * payload, and where acks and pushes go.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, render } from '@testing-library/react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { RealtimeProvider, useRealtime, useSocketFeed, type FeedHandlers } from './realtime-provider';
import { FakeSocket } from './test-support';

const sockets = vi.hoisted(() => ({ current: null as unknown }));
vi.mock('socket.io-client', () => ({ io: () => sockets.current }));

afterEach(cleanup);

function setup(children: ReactNode) {
  const socket = new FakeSocket();
  sockets.current = socket;
  const client = new QueryClient();
  const view = render(
    <QueryClientProvider client={client}>
      <RealtimeProvider>{children}</RealtimeProvider>
    </QueryClientProvider>,
  );
  return { socket, client, view };
}

function Traffic({ filter, log }: { filter: string; log: string[] }) {
  const events: FeedHandlers<'traffic:subscribe'> = { 'traffic:batch': (b) => log.push(`batch ${b.messages.length}`) };
  useSocketFeed({
    subscribe: 'traffic:subscribe',
    payload: { filter },
    events,
    onSnapshot: (s) => log.push(`snapshot ${s.filter}`),
    onError: (e) => log.push(`error ${e.code}: ${e.message}`),
  });
  return null;
}

function Chart({ windowMs, log }: { windowMs: number; log: string[] }) {
  useSocketFeed({
    subscribe: 'rates:subscribe',
    payload: { focus: 'compute', windowMs },
    events: { 'rates:update': (u) => (u.windowMs === windowMs ? log.push(`update ${u.windowMs}`) : undefined) },
    onSnapshot: () => log.push(`snapshot ${windowMs}`),
  });
  return null;
}

const batch = (n: number) => ({ messages: Array.from({ length: n }, () => ({})), dropped: 0 });

describe('useSocketFeed', () => {
  it('subscribes once connected, hands the ack to onSnapshot and pushes to the handlers, and unsubscribes when unmounted', () => {
    const log: string[] = [];
    function Toggle() {
      const [on, setOn] = useState(true);
      (globalThis as { setOn?: (b: boolean) => void }).setOn = setOn;
      return on ? <Traffic filter="topic:compute" log={log} /> : null;
    }
    const { socket } = setup(<Toggle />);
    expect(socket.of('traffic:subscribe')).toEqual([]);
    socket.up();
    const [sub] = socket.of('traffic:subscribe');
    expect(sub.payload).toEqual({ filter: 'topic:compute' });
    act(() => sub.ack?.(null, { ok: true, data: { filter: 'topic:compute', messages: [] } }));
    socket.fire('traffic:batch', batch(3));
    expect(log).toEqual(['snapshot topic:compute', 'batch 3']);

    act(() => (globalThis as { setOn?: (b: boolean) => void }).setOn?.(false));
    expect(socket.of('traffic:unsubscribe').map((s) => s.payload)).toEqual([{}]);
    expect(socket.listeners('traffic:batch')).toBe(0);
  });

  it('passes a refused subscription to onError, and a timed-out one to nobody', () => {
    const log: string[] = [];
    const { socket } = setup(<Traffic filter="(" log={log} />);
    socket.up();
    act(() => socket.of('traffic:subscribe')[0].ack?.(null, { ok: false, error: { code: 'bad_filter', message: 'unbalanced (' } }));
    act(() => socket.of('traffic:subscribe')[0].ack?.(new Error('operation has timed out'), undefined));
    expect(log).toEqual(['error bad_filter: unbalanced (']);
  });

  it('subscribes again after a reconnection, and with the new payload when it changes', () => {
    const log: string[] = [];
    function Switch() {
      const [filter, setFilter] = useState('kind:call');
      (globalThis as { setFilter?: (f: string) => void }).setFilter = setFilter;
      return <Traffic filter={filter} log={log} />;
    }
    const { socket } = setup(<Switch />);
    socket.up();
    socket.down();
    socket.up();
    expect(socket.of('traffic:subscribe').map((s) => s.payload)).toEqual([{ filter: 'kind:call' }, { filter: 'kind:call' }]);
    act(() => (globalThis as { setFilter?: (f: string) => void }).setFilter?.('kind:cast'));
    expect(socket.of('traffic:unsubscribe')).toHaveLength(1);
    expect(socket.of('traffic:subscribe').at(-1)?.payload).toEqual({ filter: 'kind:cast' });
    // one handler, not one per subscription
    socket.fire('traffic:batch', batch(1));
    expect(log).toEqual(['batch 1']);
  });

  it('keeps two charts with different windows side by side: a keyed feed unsubscribes with its own payload', () => {
    const log: string[] = [];
    function Two() {
      const [both, setBoth] = useState(true);
      (globalThis as { setBoth?: (b: boolean) => void }).setBoth = setBoth;
      return (
        <>
          <Chart windowMs={3_600_000} log={log} />
          {both && <Chart windowMs={60_000} log={log} />}
        </>
      );
    }
    const { socket } = setup(<Two />);
    socket.up();
    expect(socket.of('rates:subscribe').map((s) => s.payload)).toEqual([
      { focus: 'compute', windowMs: 3_600_000 },
      { focus: 'compute', windowMs: 60_000 },
    ]);
    act(() => (globalThis as { setBoth?: (b: boolean) => void }).setBoth?.(false));
    expect(socket.of('rates:unsubscribe').map((s) => s.payload)).toEqual([{ focus: 'compute', windowMs: 60_000 }]);
    socket.fire('rates:update', { focus: 'compute', windowMs: 3_600_000 });
    socket.fire('rates:update', { focus: 'compute', windowMs: 60_000 });
    expect(log).toEqual(['update 3600000']);
  });

  it('subscribes nothing while disabled', () => {
    function Off() {
      useSocketFeed({ subscribe: 'calls:subscribe', payload: {}, events: {}, onSnapshot: () => undefined, enabled: false });
      return null;
    }
    const { socket } = setup(<Off />);
    socket.up();
    expect(socket.of('calls:subscribe')).toEqual([]);
  });
});

describe('RealtimeProvider', () => {
  it('says how the connection stands: connecting, connected, reconnecting after a loss, and counts the comebacks', () => {
    const states: string[] = [];
    function State() {
      const { connection } = useRealtime();
      states.push(`${connection.state}/${connection.reconnections}`);
      return null;
    }
    const { socket } = setup(<State />);
    socket.up();
    socket.down();
    socket.up();
    expect([...new Set(states)]).toEqual(['connecting/0', 'connected/0', 'reconnecting/0', 'connected/1']);
  });

  it('subscribes the status feed on every connection', () => {
    const { socket } = setup(null);
    socket.up();
    socket.down();
    socket.up();
    expect(socket.of('status:subscribe')).toHaveLength(2);
  });
});
