// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, renderHook } from '@testing-library/react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import type { DecodedMessage } from '@/lib/tap-contracts';
import { RealtimeProvider } from '../realtime-provider';
import { FakeSocket } from '../test-support';
import { LIVE_KEEP, useLiveMessages } from './use-live-messages';

const sockets = vi.hoisted(() => ({ current: null as unknown }));
vi.mock('socket.io-client', () => ({ io: () => sockets.current }));

afterEach(cleanup);

const msg = (id: number) => ({ id: String(id) }) as unknown as DecodedMessage;
const ids = (ms: DecodedMessage[]) => ms.map((m) => Number(m.id));
/** pushes are applied on the next animation frame; React Query tells its observers on the next macrotask */
const settle = () => act(() => new Promise<void>((r) => requestAnimationFrame(() => setTimeout(r, 0))));
const batch = (filter: string, from: number, to: number, skipped = 0) => ({ filter, messages: Array.from({ length: to - from + 1 }, (_, i) => msg(from + i)), skipped });

function live(filter: string, paused = false) {
  const socket = new FakeSocket();
  sockets.current = socket;
  const client = new QueryClient();
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={client}>
      <RealtimeProvider>{children}</RealtimeProvider>
    </QueryClientProvider>
  );
  const hook = renderHook(({ paused }) => useLiveMessages(filter, paused), { wrapper, initialProps: { paused } });
  socket.up();
  const ack = (answer: unknown) => act(() => socket.of('traffic:subscribe').at(-1)?.ack?.(null, answer));
  return { socket, hook, ack };
}

describe('useLiveMessages', () => {
  it('shows the snapshot and then the pushes newest first, for its own filter, keeping LIVE_KEEP', async () => {
    const { socket, hook, ack } = live('topic:compute');
    expect(socket.of('traffic:subscribe')[0].payload).toEqual({ filter: 'topic:compute', limit: 200 });
    // oldest first on the wire
    ack({ ok: true, data: { filter: 'topic:compute', messages: [msg(1), msg(2), msg(3)] } });
    await settle();
    expect(ids(hook.result.current.messages)).toEqual([3, 2, 1]);
    socket.fire('traffic:batch', batch('topic:compute', 4, 5));
    socket.fire('traffic:batch', batch('topic:other', 90, 99));
    await settle();
    expect(ids(hook.result.current.messages)).toEqual([5, 4, 3, 2, 1]);
    socket.fire('traffic:batch', batch('topic:compute', 6, 6 + LIVE_KEEP, 7));
    await settle();
    const kept = ids(hook.result.current.messages);
    expect(kept).toHaveLength(LIVE_KEEP);
    expect(kept[0]).toBe(6 + LIVE_KEEP);
    expect(hook.result.current.skipped).toBe(7);
  });

  it('holds pushes aside while paused, counting them, and merges them on resume', async () => {
    const { socket, hook, ack } = live('', false);
    ack({ ok: true, data: { filter: '', messages: [msg(1)] } });
    hook.rerender({ paused: true });
    socket.fire('traffic:batch', batch('', 2, 3));
    socket.fire('traffic:batch', batch('', 4, 4));
    await settle();
    expect(ids(hook.result.current.messages)).toEqual([1]);
    expect(hook.result.current.heldCount).toBe(3);
    hook.rerender({ paused: false });
    act(() => hook.result.current.resume());
    await settle();
    expect(ids(hook.result.current.messages)).toEqual([4, 3, 2, 1]);
    expect(hook.result.current.heldCount).toBe(0);
  });

  it('applies the pushes that arrive within one frame together, on that frame', async () => {
    const { socket, hook, ack } = live('');
    ack({ ok: true, data: { filter: '', messages: [msg(1)] } });
    await settle();
    const frames = vi.spyOn(window, 'requestAnimationFrame');
    socket.fire('traffic:batch', batch('', 2, 3));
    socket.fire('traffic:batch', batch('', 4, 4));
    socket.fire('traffic:batch', batch('', 5, 6));
    expect(frames).toHaveBeenCalledTimes(1);
    frames.mockRestore();
    await settle();
    expect(ids(hook.result.current.messages)).toEqual([6, 5, 4, 3, 2, 1]);
  });

  it('keeps a push that waits for its frame out of a list paused meanwhile', async () => {
    const { socket, hook, ack } = live('');
    ack({ ok: true, data: { filter: '', messages: [msg(1)] } });
    await settle();
    socket.fire('traffic:batch', batch('', 2, 3));
    hook.rerender({ paused: true });
    await settle();
    expect(ids(hook.result.current.messages)).toEqual([1]);
    expect(hook.result.current.heldCount).toBe(2);
    hook.rerender({ paused: false });
    act(() => hook.result.current.resume());
    await settle();
    expect(ids(hook.result.current.messages)).toEqual([3, 2, 1]);
  });

  it('says why the server refused the filter', async () => {
    const { hook, ack } = live('kind:(');
    ack({ ok: false, error: { code: 'bad_request', message: 'unbalanced (' } });
    await settle();
    expect(hook.result.current.error).toEqual({ code: 'bad_request', message: 'unbalanced (' });
    expect(hook.result.current.messages).toEqual([]);
  });
});
