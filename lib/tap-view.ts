/**
 * What the pages may say about a tap's view of replies, from its status. One
 * rule for Overview, Live and Calls: "sent, reply not observable" and the
 * bindings-mode notes belong to a tap in bindings mode only. A tap that has
 * not reached its broker yet (mode `off`, state starting, error or
 * recovering) knows nothing about replies either way: the broker banner says
 * why, and the pages must not blame bindings mode or the firehose for it.
 */
import type { TapStatus } from './tap-contracts';

export function repliesUnobservable(tap: Pick<TapStatus, 'mode'> | null | undefined): boolean {
  return tap?.mode === 'bindings';
}

/** A tap that has not entered a mode: it is waiting for its broker (or gave up on it). */
export function tapNotConnected(tap: Pick<TapStatus, 'mode' | 'state'> | null | undefined): boolean {
  return !!tap && tap.mode === 'off' && tap.state !== 'stopped';
}
