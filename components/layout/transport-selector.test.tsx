import { describe, expect, it } from 'vitest';
import type { TransportEntry } from '@/lib/api-contracts';
import { choiceFromParam, withTransport } from '../hooks/use-transport';
import { stateTone, transportHealthText, worstTone } from './transport-selector';

describe('transport health in words', () => {
  type Health = Pick<TransportEntry, 'state' | 'reason' | 'attempt' | 'nextRetryAt'> & { tap: { error: string | null } | null };
  const down: Health = { state: 'disconnected', reason: 'connect ECONNREFUSED 10.0.0.5:5672', attempt: 3, nextRetryAt: 12_400, tap: null };

  it('says why and when the next attempt is, from the server clock', () => {
    expect(transportHealthText(down, 10_000)).toBe('broker unreachable: connect ECONNREFUSED 10.0.0.5:5672, retrying (attempt 3, next in 3 s)');
    // an overdue attempt reads "next in 0 s", never a negative wait
    expect(transportHealthText(down, 20_000)).toMatch(/next in 0 s\)$/);
  });

  it('adds the tap error when the reason does not already carry it', () => {
    const refused = { ...down, reason: 'connection closed', tap: { error: "530 NOT_ALLOWED - vhost 'cell2' not found" } };
    expect(transportHealthText(refused, 10_000)).toBe("broker unreachable: connection closed; 530 NOT_ALLOWED - vhost 'cell2' not found, retrying (attempt 3, next in 3 s)");
    const same = { ...down, reason: "Unable to connect: 530 NOT_ALLOWED - vhost 'cell2' not found", tap: { error: "530 NOT_ALLOWED - vhost 'cell2' not found" } };
    expect(transportHealthText(same, 10_000)).not.toContain(';');
  });

  it('is silent for a connected transport, and without a reason names the state', () => {
    expect(transportHealthText({ ...down, state: 'connected' }, 10_000)).toBeNull();
    expect(transportHealthText({ ...down, reason: null }, 10_000)).toBe('disconnected, retrying (attempt 3, next in 3 s)');
    expect(transportHealthText({ ...down, reason: null, attempt: null, nextRetryAt: null }, 10_000)).toBeNull();
  });

  it('ranks states: the All entry shows the worst', () => {
    expect(stateTone('idle')).toBe('ok');
    expect(worstTone(['connected', 'degraded'])).toBe('warn');
    expect(worstTone(['degraded', 'disconnected', 'connected'])).toBe('bad');
    expect(worstTone([])).toBe('ok');
  });
});

describe('the transport choice in URLs', () => {
  it('reads ?transport=, with all (or nothing) as the whole fleet', () => {
    expect(choiceFromParam(null)).toBeNull();
    expect(choiceFromParam('all')).toBeNull();
    expect(choiceFromParam(' cell2 ')).toBe('cell2');
  });

  it('adds the choice to a link, before its fragment and after its own query', () => {
    expect(withTransport('/live', null)).toBe('/live');
    expect(withTransport('/live?q=topic:compute', 'cell 2')).toBe('/live?q=topic:compute&transport=cell%202');
    expect(withTransport('/calls#stuck', 'cell2')).toBe('/calls?transport=cell2#stuck');
  });
});
