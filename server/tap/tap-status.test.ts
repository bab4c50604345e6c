/**
 * The tap's status and hint text: what an operator reads in each mode and state.
 */
import { describe, expect, it } from 'vitest';
import type { FirehoseCoverage } from '../../lib/broker-contracts.ts';
import { tapHint, tapStatus, type TapStatusFacts } from './tap-status.ts';

const counters = { received: 0, decoded: 0, undecodable: 0, dropped: 0, evictedMessages: 0, evictedCalls: 0, evictedRateKeys: 0 };

function facts(over: Partial<TapStatusFacts> = {}): TapStatusFacts {
  return {
    requestedMode: 'auto',
    mode: 'bindings',
    state: 'running',
    error: null,
    vhost: '/',
    firehose: { on: false, detectedBy: 'management', canEnable: false },
    coverage: null,
    firehoseError: null,
    boundExchanges: ['openstack', 'compute_fanout', 'nova'],
    fanoutExchanges: ['compute_fanout'],
    tapQueues: ['osloscope-tap-1', null],
    inspector: 'management',
    counters,
    startedAt: 5,
    recovery: { reconnects: 0, rebuilds: 0, skipped: 0, lastOutageMs: null, awaiting: [] },
    ...over,
  };
}

function coverage(on: number, total: number): FirehoseCoverage {
  return { at: 0, vhost: '/', nodes: [], on, known: total, total, weighted: null, summary: `tracing on ${on} of ${total} nodes`, autoOffAt: null };
}

describe('tapStatus', () => {
  it('bindings mode lists control and fanout exchanges apart, says replies are not seen and how to turn tracing on', () => {
    const s = tapStatus(facts());
    expect(s).toMatchObject({ canSeeReplies: false, tappedExchanges: ['nova', 'openstack'], fanoutExchanges: ['compute_fanout'], tapQueues: ['osloscope-tap-1'] });
    expect(s.hint).toMatch(/^Bindings mode: .*replies are not .*rabbitmqctl trace_on -p \/\. Tracing costs/);
    expect(tapHint(facts({ firehose: { on: false, detectedBy: 'management', canEnable: true } }))).toContain('trace_on -p / (or enable it from osloscope)');
  });

  it('firehose mode sees replies, lists no bindings, and warns when tracing is off', () => {
    const s = tapStatus(facts({ mode: 'firehose', firehose: { on: true, detectedBy: 'probe', canEnable: false } }));
    expect(s).toMatchObject({ canSeeReplies: true, tappedExchanges: [], fanoutExchanges: [], hint: null });
    expect(tapHint(facts({ mode: 'firehose', vhost: 'nova' }))).toBe('Firehose mode, but tracing is off for vhost nova: nothing will appear until you run rabbitmqctl trace_on -p nova.');
  });

  it('says why it is not watching: starting, failed, off', () => {
    expect(tapHint(facts({ state: 'starting' }))).toMatch(/^The tap is starting/);
    expect(tapHint(facts({ state: 'error', error: 'ECONNREFUSED' }))).toBe('The tap could not start: ECONNREFUSED.');
    expect(tapHint(facts({ mode: 'off' }))).toBe('The tap is off (TAP_MODE=off): no traffic is watched.');
  });

  it('names partial per-node tracing and the fix, and puts a failed FIREHOSE_ENABLE first', () => {
    const partial = tapHint(facts({ coverage: coverage(1, 3) }));
    expect(partial).toMatch(/^Firehose: tracing on 1 of 3 nodes\. Staying in bindings mode: .*Tracing is per node: .* Bindings mode:/);
    expect(tapHint(facts({ mode: 'firehose', firehose: { on: true, detectedBy: 'management', canEnable: true }, coverage: coverage(3, 3) }))).toBe('Firehose: tracing on 3 of 3 nodes.');
    expect(tapHint(facts({ firehoseError: 'Could not turn the firehose on: 401.' }))).toMatch(/^Could not turn the firehose on: 401\. Bindings mode:/);
  });
});

describe('the backlog in the tap queue', () => {
  const firehose = { mode: 'firehose' as const, firehose: { on: true, detectedBy: 'management' as const, canEnable: true } };

  it('is reported as read, and says nothing while well under the cap', () => {
    const s = tapStatus(facts({ ...firehose, backlog: { messages: 79_999, cap: 100_000 } }));
    expect(s.backlog).toEqual({ messages: 79_999, cap: 100_000 });
    expect(s.hint).toBeNull();
    expect(tapStatus(facts()).backlog).toBeUndefined();
  });

  it('near the cap says the tap is behind and that the broker drops uncounted, before any other hint', () => {
    const hint = tapHint(facts({ ...firehose, backlog: { messages: 80_000, cap: 100_000 } }));
    expect(hint).toMatch(/^The tap is falling behind: 80000 deliveries wait in its queue on the broker \(cap 100000\); past the cap the broker drops the oldest/);
    expect(tapHint(facts({ backlog: { messages: 95_000, cap: 100_000 } }))).toMatch(/^The tap is falling behind: .* Bindings mode: /);
  });
});
