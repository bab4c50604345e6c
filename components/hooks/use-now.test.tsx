// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, renderHook } from '@testing-library/react';
import { useNow } from './use-now';

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(1_700_000_000_000);
});
afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

describe('useNow', () => {
  it('gives the time once mounted and moves it on every period', () => {
    const { result } = renderHook(() => useNow(1000));
    expect(result.current).toBe(1_700_000_000_000);
    act(() => vi.advanceTimersByTime(999));
    expect(result.current).toBe(1_700_000_000_000);
    act(() => vi.advanceTimersByTime(1));
    expect(result.current).toBe(1_700_000_001_000);
    act(() => vi.advanceTimersByTime(5000));
    expect(result.current).toBe(1_700_000_006_000);
  });

  it('takes a new period at once and stops its timer when unmounted', () => {
    const { result, rerender, unmount } = renderHook(({ every }) => useNow(every), { initialProps: { every: 10_000 } });
    rerender({ every: 250 });
    act(() => vi.advanceTimersByTime(250));
    expect(result.current).toBe(1_700_000_000_250);
    expect(vi.getTimerCount()).toBe(1);
    unmount();
    expect(vi.getTimerCount()).toBe(0);
  });
});
