import { describe, expect, it } from 'vitest';
import { repliesUnobservable, tapNotConnected } from './tap-view';

describe('repliesUnobservable', () => {
  it('is true in bindings mode only, also while that tap recovers', () => {
    expect(repliesUnobservable({ mode: 'bindings' })).toBe(true);
    expect(repliesUnobservable({ mode: 'firehose' })).toBe(false);
  });

  it('is false for a tap that never reached its broker (mode off), and without a tap', () => {
    expect(repliesUnobservable({ mode: 'off' })).toBe(false);
    expect(repliesUnobservable(null)).toBe(false);
    expect(repliesUnobservable(undefined)).toBe(false);
  });
});

describe('tapNotConnected', () => {
  it('is a tap with no mode yet that has not been stopped', () => {
    expect(tapNotConnected({ mode: 'off', state: 'starting' })).toBe(true);
    expect(tapNotConnected({ mode: 'off', state: 'error' })).toBe(true);
    expect(tapNotConnected({ mode: 'off', state: 'stopped' })).toBe(false);
    expect(tapNotConnected({ mode: 'bindings', state: 'recovering' })).toBe(false);
    expect(tapNotConnected(null)).toBe(false);
  });
});
