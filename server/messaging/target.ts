/**
 * oslo_messaging/target.py Target: where a message goes / what a server listens on.
 */
import { ExpectedFailure, InvalidTarget } from './errors.ts';

export interface Target {
  exchange?: string | null;
  topic?: string | null;
  namespace?: string | null;
  version?: string | null;
  server?: string | null;
  fanout?: boolean | null;
  legacyNamespaces?: string[];
}

/** Target.__call__: a copy with some attributes overridden (undefined keeps the original). */
export function overrideTarget(base: Target, overrides: Partial<Target>): Target {
  const out: Target = { ...base };
  for (const [key, value] of Object.entries(overrides) as [keyof Target, Target[keyof Target]][]) {
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

export function requireTopic(target: Target, what: string): string {
  if (!target.topic) throw new InvalidTarget(`A topic is required to ${what}`);
  return target.topic;
}

/**
 * _utils.version_is_compatible(imp_version, version): same major, requested
 * minor <= implemented, equal minors compare the revision. Errors mirror the
 * Python ones (a version without a minor raises IndexError, a non-integer part
 * ValueError), so a TS server fails exactly like a Python one.
 */
export function versionIsCompatible(impVersion: string | null | undefined, version: string | null | undefined): boolean {
  if (impVersion == null) return true;
  if (version == null) return false;
  // Every message carries one (the envelope's "2.0", the request's version): keep the common case cheap.
  if (version === impVersion && SIMPLE_VERSION.test(version)) return true;
  const req = version.split('.');
  const imp = impVersion.split('.');
  const rev = req.length > 2 ? req[2] : '0';
  const impRev = imp.length > 2 ? imp[2] : '0';
  if (pyInt(req[0]) !== pyInt(imp[0])) return false;
  if (pyInt(req[1]) > pyInt(imp[1])) return false;
  if (pyInt(req[1]) === pyInt(imp[1]) && pyInt(rev) > pyInt(impRev)) return false;
  return true;
}

const SIMPLE_VERSION = /^\d+\.\d+(?:\.\d+)?$/;

/** Python int(str) on one version part; a missing part is Python's IndexError. */
function pyInt(s: string | undefined): number {
  if (s === undefined) throw new ExpectedFailure('IndexError', 'builtins', 'list index out of range');
  if (/^\d+$/.test(s)) return Number.parseInt(s, 10);
  const t = s.replace(PY_STRIP, '');
  if (/^[+-]?\d+$/.test(t)) return Number.parseInt(t, 10);
  if (!PY_INT.test(t)) throw new ExpectedFailure('ValueError', 'builtins', `invalid literal for int() with base 10: '${s}'`);
  return Number.parseInt(t.replace(/_/g, '').replace(/\p{Nd}/gu, (d) => String(digitValue(d))), 10);
}

/** What Python's int(str) accepts: ASCII or Unicode whitespace around (not \x1c-\x1f), a sign, any Unicode decimal digits, single `_` between digits. */
const PY_STRIP = /^[\t\n\v\f\r\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;
const PY_INT = /^[+-]?\p{Nd}+(?:_\p{Nd}+)*$/u;

/** Unicode encodes decimal digits in contiguous runs 0..9, so a digit's value is its distance from the run start, mod 10. */
function digitValue(d: string): number {
  const cp = d.codePointAt(0) as number;
  let n = 0;
  while (/\p{Nd}/u.test(String.fromCodePoint(cp - n - 1))) n += 1;
  return n % 10;
}

export function describeTarget(t: Target): string {
  const parts = [`topic=${t.topic ?? ''}`];
  if (t.server) parts.push(`server=${t.server}`);
  if (t.exchange) parts.push(`exchange=${t.exchange}`);
  if (t.namespace) parts.push(`namespace=${t.namespace}`);
  if (t.version) parts.push(`version=${t.version}`);
  if (t.fanout) parts.push('fanout');
  return `<Target ${parts.join(', ')}>`;
}
