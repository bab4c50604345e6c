'use client';
import { memo, type MouseEvent, type KeyboardEvent } from 'react';
import type { DecodedMessage } from '@/lib/tap-contracts';
import { KindBadge } from '../ui/badge';
import { bytes, clockTime } from '../ui/format';
import { rowKeys } from '../ui/drawer';

/**
 * One Live row. Memoised on the message object (a pushed message is never
 * changed in place) and on flags that are the same for most rows, so a
 * pushed batch renders only its new rows, not all that are kept.
 */
const LiveRow = memo(function LiveRow({ m, selected, showTransport, narrow }: { m: DecodedMessage; selected: boolean; showTransport: boolean; narrow: boolean }) {
  return (
    <tr
      tabIndex={0}
      className={`clickable${selected ? ' selected' : ''}${m.error ? ' row-bad' : ''}${m.failure ? ' row-warn' : ''}`}
      data-testid="message-row"
      data-id={m.id}
      data-kind={m.kind}
      data-method={m.method ?? ''}
      data-topic={m.topic ?? ''}
      data-transport={m.transport ?? ''}
    >
      <td className="mono nowrap">{clockTime(m.ts)}</td>
      {showTransport && (
        <td className="ellipsis transport-tag" data-testid="message-transport">
          {m.transport ?? ''}
        </td>
      )}
      <td>
        <KindBadge kind={m.kind} />
      </td>
      <td className="ellipsis">{m.exchange || <span className="muted">(default)</span>}</td>
      <td className="ellipsis mono">{m.routingKey || (m.topic ? `${m.topic} (fanout)` : '')}</td>
      <td className="ellipsis">{m.server ?? ''}</td>
      <td className="ellipsis mono">{m.method ?? m.eventType ?? (m.kind === 'reply' ? (m.failure ? `✗ ${m.failure.class}` : 'result') : '')}</td>
      {!narrow && <td className="ellipsis mono small">{m.requestId ?? ''}</td>}
      {!narrow && (
        <td className="num" title={m.truncatedBytes !== undefined ? `truncated, ${m.truncatedBytes} bytes` : undefined}>
          {bytes(m.bytes)}
          {m.truncatedBytes !== undefined ? ' ✂' : ''}
        </td>
      )}
    </tr>
  );
});

/** The row of the tbody an event happened in, or null (the tbody itself, a nested table). */
function rowOf(e: { target: EventTarget; currentTarget: HTMLElement }): HTMLTableRowElement | null {
  const row = (e.target as HTMLElement).closest('tr');
  return row && row.parentElement === e.currentTarget ? row : null;
}

/**
 * The Live table's body: one click and one key handler for all rows (the row
 * is found from the event's target and its data-id), so rows carry no
 * closures that change with every render.
 */
export const LiveRows = memo(function LiveRows({
  messages,
  selectedId,
  showTransport,
  narrow,
  onOpen,
  bodyRef,
}: {
  messages: readonly DecodedMessage[];
  selectedId: string | null;
  showTransport: boolean;
  narrow: boolean;
  onOpen: (m: DecodedMessage) => void;
  bodyRef: React.Ref<HTMLTableSectionElement>;
}) {
  const onClick = (e: MouseEvent<HTMLTableSectionElement>) => {
    const id = rowOf(e)?.dataset.id;
    const m = id === undefined ? undefined : messages.find((x) => x.id === id);
    if (m) onOpen(m);
  };
  const onKeyDown = (e: KeyboardEvent<HTMLTableSectionElement>) => rowKeys((i) => messages[i] && onOpen(messages[i]))(e);
  return (
    <tbody ref={bodyRef} onClick={onClick} onKeyDown={onKeyDown}>
      {messages.map((m) => (
        <LiveRow key={m.id} m={m} selected={selectedId === m.id} showTransport={showTransport} narrow={narrow} />
      ))}
    </tbody>
  );
});
