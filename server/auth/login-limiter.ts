/**
 * Login throttling that holds under concurrency and never walls the real user
 * out for good.
 *
 * Three budgets, all checked and reserved synchronously *before* the password
 * is verified (scrypt is asynchronous: counting only after it would let 300
 * parallel guesses all be checked):
 *
 * - per (account, address): the first few failures are free, then each
 *   further failure opens a back-off window that doubles up to a ceiling.
 *   Inside the window every attempt, right password included, gets 429 with
 *   Retry-After; once it passes, the right password works again. Failures are
 *   forgotten an hour after the last one.
 * - per address: attempts per minute across all account names (spraying one
 *   password over many names).
 * - per account: failures per window across all addresses (a botnet on one
 *   name). Addresses that have logged in to that account before are exempt, so
 *   an attacker spending the budget cannot lock the real user out from where
 *   they usually log in; a new address waits for the window to roll over.
 *
 * A successful login refunds its reservation and clears its pair's record.
 * Every map is bounded (oldest entries go first); state lives in memory and is
 * lost on restart.
 */

export interface LoginLimits {
  /** failures per (account, address) before back-off starts */
  freeFailures: number;
  /** first back-off, doubled per further failure */
  baseDelayMs: number;
  maxDelayMs: number;
  /** a pair's failures are forgotten this long after its last one */
  forgetAfterMs: number;
  /** attempts (failed or in flight) per address per minute */
  perAddressPerMinute: number;
  /** failures per account per window, from addresses it was never logged in from */
  accountBudget: number;
  accountWindowMs: number;
  /** most entries per map */
  maxEntries: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  freeFailures: 5,
  baseDelayMs: 1_000,
  maxDelayMs: 5 * 60_000,
  forgetAfterMs: 60 * 60_000,
  perAddressPerMinute: 30,
  accountBudget: 100,
  accountWindowMs: 15 * 60_000,
  maxEntries: 50_000,
};

export type LoginTicket = { ok: true; settle(success: boolean): void } | { ok: false; retryAfterSeconds: number; reason: 'backoff' | 'address' | 'account' };

interface Pair {
  failures: number;
  lockedUntil: number;
  last: number;
}
interface Window {
  count: number;
  start: number;
}

const MINUTE = 60_000;

export class LoginLimiter {
  private readonly pairs = new Map<string, Pair>();
  private readonly addresses = new Map<string, Window>();
  private readonly accounts = new Map<string, Window>();
  private readonly known = new Map<string, true>();
  private readonly limits: LoginLimits;

  constructor(
    limits: Partial<LoginLimits> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ...DEFAULT_LOGIN_LIMITS, ...limits };
  }

  /** Ask before verifying a password; call `settle` with the outcome. Synchronous, so parallel requests see each other. */
  begin(account: string, address: string): LoginTicket {
    const L = this.limits;
    const now = this.now();
    const pairKey = `${account}\u0000${address}`;

    let pair = this.pairs.get(pairKey);
    if (pair && now - pair.last > L.forgetAfterMs) {
      this.pairs.delete(pairKey);
      pair = undefined;
    }
    if (pair && now < pair.lockedUntil) return deny('backoff', pair.lockedUntil - now);

    const addr = window(this.addresses, address, now, MINUTE);
    if (addr.count >= L.perAddressPerMinute) return deny('address', addr.start + MINUTE - now);

    const acct = window(this.accounts, account, now, L.accountWindowMs);
    const knownAddress = this.known.has(pairKey);
    if (!knownAddress && acct.count >= L.accountBudget) return deny('account', acct.start + L.accountWindowMs - now);

    // Reserve as if it failed: the next request, even one arriving while scrypt runs, sees it.
    pair ??= { failures: 0, lockedUntil: 0, last: now };
    pair.failures++;
    pair.last = now;
    const over = pair.failures - L.freeFailures;
    if (over > 0) pair.lockedUntil = now + Math.min(L.baseDelayMs * 2 ** Math.min(over - 1, 30), L.maxDelayMs);
    touch(this.pairs, pairKey, pair, L.maxEntries);
    addr.count++;
    touch(this.addresses, address, addr, L.maxEntries);
    if (!knownAddress) acct.count++;
    touch(this.accounts, account, acct, L.maxEntries);

    let settled = false;
    return {
      ok: true,
      settle: (success: boolean) => {
        if (settled) return;
        settled = true;
        if (!success) return;
        this.pairs.delete(pairKey);
        addr.count = Math.max(0, addr.count - 1);
        if (!knownAddress) acct.count = Math.max(0, acct.count - 1);
        touch(this.known, pairKey, true, L.maxEntries);
      },
    };
  }
}

function deny(reason: 'backoff' | 'address' | 'account', ms: number): LoginTicket {
  return { ok: false, reason, retryAfterSeconds: Math.max(1, Math.ceil(ms / 1000)) };
}

function window(map: Map<string, Window>, key: string, now: number, length: number): Window {
  const w = map.get(key);
  if (w && now - w.start < length) return w;
  return { count: 0, start: now };
}

/** Insert or refresh `key` as the newest entry; drop the oldest beyond `max`. */
function touch<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) {
    const oldest = map.keys().next().value as string;
    map.delete(oldest);
  }
}
