// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { EMPTY_FILTER, FilterBar, filterFromParams, filterToParams, toQuery, type FilterFields } from './filter-bar';

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
