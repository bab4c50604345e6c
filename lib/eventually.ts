/**
 * Poll until `check` returns a truthy value, or throw after `timeoutMs` naming `what` and the last
 * error `check` threw. Tests wait with it for what they assert instead of sleeping a fixed time.
 * It lives in lib/ (no Node, no DOM) so test support in every layer may use it: test/support
 * re-exports it, server/tap/test-support.ts imports it without reaching into test/.
 */
export async function eventually<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000, everyMs = 20): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
