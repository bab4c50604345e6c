// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import type { DecodedMessage, KnownTargets } from '@/lib/tap-contracts';
import { EMPTY_FILTER, FilterBar, GENERIC_HINTS, filterFromParams, filterHints, filterToParams, toQuery, type FilterFields } from './filter-bar';

describe('the filter in the URL and as a query', () => {
  it('reads a Live link’s parameters, bounded, and writes them back without the empty ones', () => {
    const f = filterFromParams(new URLSearchParams(`topic=compute&request_id=req-1&filter=msg_id:7c3f&other=x&method=${'m'.repeat(1500)}`));
    expect(f).toEqual({ ...EMPTY_FILTER, topic: 'compute', requestId: 'req-1', text: 'msg_id:7c3f', method: 'm'.repeat(1000) });
    const back = filterToParams({ ...f, method: ' ', server: ' host-1 ' }, new URLSearchParams('m=12&topic=old'));
    expect(back.toString()).toBe('m=12&topic=compute&server=host-1&request_id=req-1&filter=msg_id%3A7c3f');
  });

  it('writes the fields in the tap’s filter grammar, quoting values with spaces', () => {
    expect(toQuery(EMPTY_FILTER)).toBe('');
    expect(toQuery({ ...EMPTY_FILTER, kind: 'call', topic: 'compute', method: 'get_*', requestId: 'req-1', text: ' free text ' })).toBe(
      'kind:call topic:compute method:get_* request_id:req-1 free text',
    );
    expect(toQuery({ ...EMPTY_FILTER, server: 'host "one"' })).toBe('server:"host one"');
    expect(toQuery({ ...EMPTY_FILTER, kind: 'call,cast,fanout' })).toBe('kind:call,cast,fanout');
  });
});

describe('FilterBar', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    cleanup();
    vi.useRealTimers();
  });

  it('applies typed fields after a 400 ms pause, once, not on every key', () => {
    const onChange = vi.fn<(f: FilterFields) => void>();
    render(<FilterBar value={EMPTY_FILTER} onChange={onChange} error={null} />);
    const topic = screen.getByTestId('filter-topic');
    fireEvent.change(topic, { target: { value: 'comp' } });
    act(() => vi.advanceTimersByTime(300));
    fireEvent.change(topic, { target: { value: 'compute' } });
    act(() => vi.advanceTimersByTime(399));
    expect(onChange).not.toHaveBeenCalled();
    act(() => vi.advanceTimersByTime(1));
    expect(onChange).toHaveBeenCalledExactlyOnceWith({ ...EMPTY_FILTER, topic: 'compute' });
  });

  it('applies the kind at once', () => {
    const onChange = vi.fn<(f: FilterFields) => void>();
    render(<FilterBar value={EMPTY_FILTER} onChange={onChange} error={null} />);
    fireEvent.change(screen.getByTestId('filter-kind'), { target: { value: 'reply' } });
    expect(onChange).toHaveBeenCalledExactlyOnceWith({ ...EMPTY_FILTER, kind: 'reply' });
  });

  it('shows the applied filter as a query and the server’s error, and takes a new value from outside', () => {
    const onChange = vi.fn<(f: FilterFields) => void>();
    const { rerender } = render(<FilterBar value={{ ...EMPTY_FILTER, topic: 'compute' }} onChange={onChange} error={null} />);
    expect(screen.getByTestId('filter-query').textContent).toBe('topic:compute');
    expect(screen.queryByTestId('filter-error')).toBeNull();
    rerender(<FilterBar value={{ ...EMPTY_FILTER, text: 'kind:(' }} onChange={onChange} error="unbalanced (" />);
    expect(screen.getByTestId('filter-error').textContent).toBe('unbalanced (');
    expect((screen.getByTestId('filter-text') as HTMLInputElement).value).toBe('kind:(');
    expect((screen.getByTestId('filter-topic') as HTMLInputElement).value).toBe('');
    // the value came from outside: nothing to apply
    act(() => vi.advanceTimersByTime(1000));
    expect(onChange).not.toHaveBeenCalled();
    rerender(<FilterBar value={EMPTY_FILTER} onChange={onChange} error={null} />);
    expect(screen.getByTestId('filter-query').textContent).toBe('(everything)');
  });
});

describe('the filter fields’ examples', () => {
  const none: KnownTargets = { exchanges: [], topics: [], notificationTopics: [], servers: [], methods: [] };
  const message = (over: Partial<DecodedMessage>) => ({ kind: 'cast', exchange: '', topic: null, server: null, method: null, ...over }) as DecodedMessage;

  it('names the traffic this transport carried: a server, its topic and a method of that topic', () => {
    const known: KnownTargets = {
      exchanges: ['heat'],
      topics: ['engine', 'listener'],
      notificationTopics: ['notifications'],
      servers: [{ topic: 'listener', server: 'ctl-2.example.net' }],
      methods: [
        { topic: 'engine', method: 'stack_list' },
        { topic: 'listener', method: 'listening' },
      ],
    };
    expect(filterHints(known, [])).toEqual({ exchange: 'heat', topic: 'listener', server: 'ctl-2.example.net', method: 'listening' });
    // never an OpenStack example the transport did not carry
    expect(Object.values(filterHints(known, []))).not.toContain('nova');
  });

  it('falls back to the newest messages on the page, then to generic examples field by field', () => {
    expect(filterHints(none, [])).toEqual(GENERIC_HINTS);
    expect(Object.values(GENERIC_HINTS).join(' ')).not.toMatch(/nova|compute|conductor|scheduler/);
    const msgs = [message({ kind: 'reply', exchange: '' }), message({ kind: 'call', exchange: 'billing', topic: 'invoices', method: 'total' })];
    expect(filterHints(none, msgs)).toEqual({ ...GENERIC_HINTS, exchange: 'billing', topic: 'invoices', method: 'total' });
    expect(filterHints({ ...none, topics: ['ledger'] }, msgs)).toEqual({ ...GENERIC_HINTS, exchange: 'billing', topic: 'ledger', method: 'total' });
    // bounded: a long page of messages without names is not read to its end
    const quiet = Array.from({ length: 1000 }, () => message({ kind: 'reply' }));
    expect(filterHints(none, [...quiet, message({ topic: 'late' })])).toEqual(GENERIC_HINTS);
  });

  it('cuts long names and shows the examples as the fields’ placeholders', () => {
    const long = 'x'.repeat(300);
    const h = filterHints({ ...none, topics: [long] }, []);
    expect(h.topic).toHaveLength(40);
    render(<FilterBar value={EMPTY_FILTER} onChange={() => undefined} error={null} hints={{ exchange: 'heat', topic: 'engine', server: 'ctl-2', method: 'stack_list' }} />);
    expect(['exchange', 'topic', 'server', 'method'].map((k) => screen.getByTestId(`filter-${k}`).getAttribute('placeholder'))).toEqual(['heat', 'engine', 'ctl-2', 'stack_list']);
    cleanup();
  });
});
