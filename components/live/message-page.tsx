'use client';
import Link from 'next/link';
import { useEffect } from 'react';
import { useRouter } from 'next/navigation';
import { useSession } from '../hooks/use-session';
import { Empty } from '../ui/card';
import { useMessage } from '../search/history-hooks';
import { MessageDrawer } from './message-drawer';

/** `/messages/<id>`: one decoded message, from the store or the tap's memory. */
export function MessagePage({ id }: { id: string }) {
  const message = useMessage(id);
  const session = useSession();
  const router = useRouter();
  // a tap id (reused after a restart) gives way to the stored id, which stays the same message
  const canonical = message.data && message.data.id !== id ? message.data.id : null;
  useEffect(() => {
    if (canonical) router.replace(`/messages/${encodeURIComponent(canonical)}`);
  }, [canonical, router]);
  const err = message.error as { status?: number; message?: string } | null;
  return (
    <div className="page message-permalink" data-testid="message-permalink-page">
      <h1 className="page-title">Message {id}</h1>
      {message.isPending ? (
        <Empty>Loading…</Empty>
      ) : message.data ? (
        <MessageDrawer message={message.data} canFire={session.data?.canFire ?? false} asPage />
      ) : (
        <div className="callout callout-warn" data-testid="message-not-found">
          {err?.status === 404
            ? `No message ${id} is known: neither the tap's memory nor the history store holds it (it may be older than the retention).`
            : `The message could not be loaded: ${err?.message ?? 'unknown error'}`}{' '}
          <Link href="/live">Back to Live</Link>
        </div>
      )}
    </div>
  );
}
