import { describe, expect, it } from 'vitest';
import { ExpectedFailure, InvalidTarget } from './errors.ts';
import { describeTarget, overrideTarget, requireTopic, versionIsCompatible } from './target.ts';

type Outcome = boolean | { error: 'IndexError' | 'ValueError'; message?: string };

/**
 * [implemented, requested, outcome], each outcome taken from
 * oslo_messaging._utils.version_is_compatible in oslo.messaging 14.0.3
 * (Python 3.11). Errors are what the Python function raises; `message` is
 * left out where Python's repr() escapes the offending text.
 */
const PYTHON_TABLE: [string | null, string | null, Outcome][] = [
  ["1.0", "1.0", true],
  ["1.5", "1.0", true],
  ["1.0", "1.5", false],
  ["1.10", "1.9", true],
  ["1.9", "1.10", false],
  ["1.5", "1.5.1", false],
  ["1.5.1", "1.5", true],
  ["1.5.1", "1.5.2", false],
  ["1.5.2", "1.5.1", true],
  ["1.5", "1.4.9", true],
  ["1.0.5", "1.0.5", true],
  ["2.0", "1.0", false],
  ["1.0", "2.0", false],
  ["2.3", "2.2.9", true],
  ["1.0", "1.0.0.7", true],
  ["1.0.0.7", "1.0", true],
  [null, "1.0", true],
  [null, null, true],
  [null, "x", true],
  ["1.0", null, false],
  ["1.0", "1", { error: "IndexError", message: "list index out of range" }],
  ["1", "1.0", { error: "IndexError", message: "list index out of range" }],
  ["1", "2", false],
  ["2", "1.0", false],
  ["1.0", "x.0", { error: "ValueError", message: "invalid literal for int() with base 10: 'x'" }],
  ["x", "1.0", { error: "ValueError", message: "invalid literal for int() with base 10: 'x'" }],
  ["1.0", "1.x", { error: "ValueError", message: "invalid literal for int() with base 10: 'x'" }],
  ["1.0.x", "1.0", { error: "ValueError", message: "invalid literal for int() with base 10: 'x'" }],
  ["1.0", "1.0.x", { error: "ValueError", message: "invalid literal for int() with base 10: 'x'" }],
  ["1.1", "1.0.x", true],
  ["1.0", "", { error: "ValueError", message: "invalid literal for int() with base 10: ''" }],
  ["", "1.0", { error: "ValueError", message: "invalid literal for int() with base 10: ''" }],
  ["1.0", "1..0", { error: "ValueError", message: "invalid literal for int() with base 10: ''" }],
  ["1.0", "1.0.", { error: "ValueError", message: "invalid literal for int() with base 10: ''" }],
  ["1.0", " 1.0", true],
  ["1.0", "1.0 ", true],
  ["1.0", "1.\t0", true],
  ["1.0", "1.0\u0085", true],
  ["1.0", "\u001c1.0", { error: "ValueError" }],
  ["1.0", "\ufeff1.0", { error: "ValueError" }],
  ["1.0", "+1.0", true],
  ["1.0", "-1.0", false],
  ["1.00", "01.0", true],
  ["1.0", "1_0.0", false],
  ["10.0", "1_0.0", true],
  ["1.2", "1.1__0", { error: "ValueError", message: "invalid literal for int() with base 10: '1__0'" }],
  ["1.0", "_1.0", { error: "ValueError", message: "invalid literal for int() with base 10: '_1'" }],
  ["1.0", "1_.0", { error: "ValueError", message: "invalid literal for int() with base 10: '1_'" }],
  ["2.0", "\u0662.0", true],
  ["1.0", "\u0662.0", false],
  ["1.9", "1.\u0969", true],
  ["1.2", "1.\ud835\udfd1", false],
];

describe('versionIsCompatible', () => {
  it.each(PYTHON_TABLE)('version_is_compatible(%j, %j) → %j', (imp, requested, outcome) => {
    if (typeof outcome === 'boolean') {
      expect(versionIsCompatible(imp, requested)).toBe(outcome);
      return;
    }
    let thrown: unknown;
    try {
      versionIsCompatible(imp, requested);
    } catch (err) {
      thrown = err;
    }
    // Raised as a failure a Python caller recognises: builtins.IndexError / builtins.ValueError.
    expect(thrown).toBeInstanceOf(ExpectedFailure);
    expect(thrown).toMatchObject({ pyClass: outcome.error, pyModule: 'builtins' });
    if (outcome.message !== undefined) expect((thrown as Error).message).toBe(outcome.message);
  });

  it('treats undefined like None', () => {
    expect(versionIsCompatible(undefined, '9.9')).toBe(true);
    expect(versionIsCompatible('1.0', undefined)).toBe(false);
  });
});

describe('overrideTarget', () => {
  it('copies the base and applies only the overrides that are not undefined (Target.__call__)', () => {
    const base = { topic: 'compute', server: 'host1', version: '5.0', namespace: 'ns' };
    const out = overrideTarget(base, { server: undefined, version: '5.1', namespace: null, fanout: true });
    expect(out).toEqual({ topic: 'compute', server: 'host1', version: '5.1', namespace: null, fanout: true });
    expect(base).toEqual({ topic: 'compute', server: 'host1', version: '5.0', namespace: 'ns' });
  });
});

describe('requireTopic', () => {
  it('returns the topic, or throws InvalidTarget naming the operation', () => {
    expect(requireTopic({ topic: 'compute' }, 'call')).toBe('compute');
    expect(() => requireTopic({}, 'call')).toThrow(new InvalidTarget('A topic is required to call'));
    expect(() => requireTopic({ topic: '' }, 'cast')).toThrow(InvalidTarget);
  });
});

describe('describeTarget', () => {
  it('lists the set attributes in a fixed order', () => {
    expect(describeTarget({})).toBe('<Target topic=>');
    expect(describeTarget({ topic: 'compute', server: 'h1', exchange: 'nova', namespace: 'ns', version: '1.2', fanout: true })).toBe(
      '<Target topic=compute, server=h1, exchange=nova, namespace=ns, version=1.2, fanout>',
    );
  });
});
