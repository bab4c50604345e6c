'use client';
/**
 * One socket.io connection per browser tab. It keeps the status feed always
 * on (the header shows connection state on every page), lets pages add feeds
 * (traffic, calls) that are re-subscribed after every reconnection, and
 * writes pushed snapshots into the React Query cache.
 */
import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { io, type Socket } from 'socket.io-client';
import { ALL_TRANSPORTS, type ApiError, type StatusSnapshot } from '@/lib/api-contracts';
import { CLIENT_EVENTS, SERVER_EVENTS, SOCKET_FEEDS, type FeedEvents, type FeedName, type FeedPayload, type FeedSnapshot, type SocketAck } from '@/lib/socket-contracts';
import { withBase } from './api-client';
import { statusKey } from './hooks/use-status';
import { useTransportChoice } from './hooks/use-transport';

export type SocketState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

export interface ConnectionInfo {
  state: SocketState;
  /** reconnection attempts since the connection was lost */
  attempts: number;
  lastError: string | null;
  /** when the socket (re)connected / was lost, ms since the epoch */
  connectedAt: number | null;
  lostAt: number | null;
  /** how many times it came back after a loss */
  reconnections: number;
}

interface RealtimeValue {
  socket: Socket | null;
  connection: ConnectionInfo;
}

const RealtimeContext = createContext<RealtimeValue>({
  socket: null,
  connection: { state: 'connecting', attempts: 0, lastError: null, connectedAt: null, lostAt: null, reconnections: 0 },
});

type Ack<T> = SocketAck<T>;

export function RealtimeProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [socket, setSocket] = useState<Socket | null>(null);
  const [connection, setConnection] = useState<ConnectionInfo>({ state: 'connecting', attempts: 0, lastError: null, connectedAt: null, lostAt: null, reconnections: 0 });
  // the header's status follows the chosen transport (components/hooks/use-transport.tsx)
  const { choice } = useTransportChoice();
  const choiceRef = useRef(choice);
  choiceRef.current = choice;

  useEffect(() => {
    const s = io({
      path: withBase('/socket.io'),
      transports: ['websocket', 'polling'],
      reconnectionDelay: 500,
      reconnectionDelayMax: 4000,
      timeout: 8000,
      withCredentials: true,
    });
    let everConnected = false;
    const subscribeStatus = () => subscribeStatusOf(s, choiceRef.current, queryClient);
    s.on('connect', () => {
      // read now: React may run the updater later, after everConnected is set
      const again = everConnected;
      everConnected = true;
      setConnection((c) => ({
        state: 'connected',
        attempts: 0,
        lastError: null,
        connectedAt: Date.now(),
        lostAt: c.lostAt,
        reconnections: again ? c.reconnections + 1 : c.reconnections,
      }));
      subscribeStatus();
    });
    let retry: ReturnType<typeof setTimeout> | undefined;
    s.on('disconnect', (reason) => {
      // socket.io does not reconnect after a server-side disconnect; we do (the
      // handshake then says whether the session still holds)
      if (reason === 'io server disconnect') {
        retry = setTimeout(() => s.connect(), 1000);
        setConnection((c) => ({ ...c, state: 'reconnecting', lostAt: Date.now(), lastError: reason }));
        return;
      }
      setConnection((c) => ({ ...c, state: s.active ? 'reconnecting' : 'disconnected', lostAt: Date.now(), lastError: reason }));
    });
    s.on('connect_error', (err) => {
      if (err.message === 'unauthenticated' && window.location.pathname !== withBase('/login')) {
        window.location.assign(withBase(`/login?next=${encodeURIComponent(window.location.pathname)}`));
        return;
      }
      setConnection((c) => ({ ...c, state: s.active ? (everConnected ? 'reconnecting' : 'connecting') : 'disconnected', lastError: err.message }));
    });
    s.io.on('reconnect_attempt', (attempt) => setConnection((c) => ({ ...c, state: 'reconnecting', attempts: attempt })));
    s.on(SERVER_EVENTS.statusUpdate, (snap: StatusSnapshot) => {
      const chosen = choiceRef.current;
      // a push for the selection before the last change is dropped
      if (snap.selection !== undefined && snap.selection !== (chosen ?? ALL_TRANSPORTS)) return;
      queryClient.setQueryData(statusKey(chosen), snap);
    });
    setSocket(s);
    return () => {
      if (retry) clearTimeout(retry);
      s.removeAllListeners();
      s.io.removeAllListeners();
      s.close();
    };
  }, [queryClient]);

  // another transport chosen: the status feed follows it (the first subscribe is the connect's)
  const subscribedFor = useRef<string | null | undefined>(undefined);
  useEffect(() => {
    if (!socket) return;
    if (subscribedFor.current === undefined) {
      subscribedFor.current = choice;
      return;
    }
    if (subscribedFor.current === choice) return;
    subscribedFor.current = choice;
    if (socket.connected) subscribeStatusOf(socket, choice, queryClient);
  }, [socket, choice, queryClient]);

  return <RealtimeContext.Provider value={{ socket, connection }}>{children}</RealtimeContext.Provider>;
}

/** status:subscribe for one transport (null: the whole fleet, sent as `{}` as a single-transport server expects). */
function subscribeStatusOf(s: Socket, choice: string | null, queryClient: ReturnType<typeof useQueryClient>): void {
  s.timeout(8000).emit(CLIENT_EVENTS.statusSubscribe, choice ? { transport: choice } : {}, (err: Error | null, ack: Ack<StatusSnapshot>) => {
    if (!err && ack?.ok) queryClient.setQueryData(statusKey(choice), ack.data);
  });
}

export function useRealtime(): RealtimeValue {
  return useContext(RealtimeContext);
}

/** Handlers for a feed's pushes, typed by lib/socket-contracts.ts's SOCKET_FEEDS. */
export type FeedHandlers<F extends FeedName> = { [E in keyof FeedEvents<F>]?: (data: FeedEvents<F>[E]) => void };

export interface FeedOptions<F extends FeedName> {
  /** the feed, by its subscribe event (CLIENT_EVENTS); the unsubscribe event comes with it */
  subscribe: F;
  payload: FeedPayload<F>;
  /** server → browser events of this feed */
  events: FeedHandlers<F>;
  onSnapshot: (snapshot: FeedSnapshot<F>) => void;
  onError?: (error: ApiError) => void;
  enabled?: boolean;
}

/**
 * Subscribe to a feed while mounted (and after every reconnection): the ack
 * brings a snapshot, the events bring deltas. Keyed feeds (chart rates)
 * unsubscribe with their payload, so several may run side by side.
 */
export function useSocketFeed<F extends FeedName>(o: FeedOptions<F>): void {
  const { socket } = useRealtime();
  const ref = useRef(o);
  ref.current = o;
  const payloadKey = JSON.stringify(o.payload ?? {});
  const eventNames = Object.keys(o.events).join(',');
  const enabled = o.enabled ?? true;
  const feed = SOCKET_FEEDS[o.subscribe];

  useEffect(() => {
    if (!socket || !enabled) return;
    const payload = JSON.parse(payloadKey) as unknown;
    const handlers = eventNames
      .split(',')
      .filter(Boolean)
      .map((name) => {
        // the gateway sends what SOCKET_FEEDS says for this event
        const h = (data: unknown) => (ref.current.events as Record<string, ((d: unknown) => void) | undefined>)[name]?.(data);
        socket.on(name, h);
        return [name, h] as const;
      });
    const doSubscribe = () => {
      socket.timeout(8000).emit(ref.current.subscribe, payload, (err: Error | null, ack: Ack<FeedSnapshot<F>>) => {
        if (err) return; // the next reconnection subscribes again
        if (ack?.ok) ref.current.onSnapshot(ack.data);
        else if (ack) ref.current.onError?.(ack.error);
      });
    };
    if (socket.connected) doSubscribe();
    socket.on('connect', doSubscribe);
    return () => {
      socket.off('connect', doSubscribe);
      for (const [name, h] of handlers) socket.off(name, h);
      if (socket.connected) socket.emit(feed.unsubscribe, feed.keyed ? payload : {});
    };
  }, [socket, enabled, payloadKey, eventNames, feed]);
}
