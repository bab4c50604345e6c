import { describe, expect, it } from 'vitest';
import { topicMatches } from './routing.ts';

describe('topic routing keys (AMQP 0-9-1 / RabbitMQ)', () => {
  const cases: [pattern: string, key: string, expected: boolean][] = [
    ['compute', 'compute', true],
    ['compute', 'compute.host1', false],
    ['compute.*', 'compute.host1', true],
    ['compute.*', 'compute', false],
    ['compute.*', 'compute.host1.x', false],
    ['*', 'compute', true],
    ['*', '', false],
    ['*.*', 'a.b', true],
    ['*.*', 'a', false],
    // `#` matches zero or more words
    ['#', '', true],
    ['#', 'a.b.c', true],
    ['compute.#', 'compute', true],
    ['compute.#', 'compute.host1', true],
    ['compute.#', 'compute.host1.deep', true],
    ['compute.#', 'computex', false],
    ['#.info', 'notifications.info', true],
    ['#.info', 'info', true],
    ['#.info', 'notifications.error', false],
    ['a.#.b', 'a.b', true],
    ['a.#.b', 'a.x.y.b', true],
    ['a.#.b', 'a.x.y.c', false],
    ['#.#', 'a', true],
    ['#.*', '', false],
    ['#.*', 'a', true],
    ['*.#.*', 'a', false],
    ['*.#.*', 'a.b', true],
    // words are split on '.', empty words count
    ['a.*.b', 'a..b', true],
    ['a.b', 'a..b', false],
    ['', '', true],
    ['', 'a', false],
    // `*` and `#` are only wildcards as whole words
    ['a*', 'ab', false],
    ['a*', 'a*', true],
    ['notifications.#', 'notifications.info', true],
  ];
  for (const [pattern, key, expected] of cases) {
    it(`'${pattern}' ${expected ? 'matches' : 'does not match'} '${key}'`, () => {
      expect(topicMatches(pattern, key)).toBe(expected);
    });
  }

  it('stays fast on pathological patterns', () => {
    const pattern = Array.from({ length: 30 }, () => '#').join('.') + '.x';
    const key = Array.from({ length: 60 }, () => 'a').join('.');
    const t0 = performance.now();
    expect(topicMatches(pattern, key)).toBe(false);
    expect(topicMatches(pattern, key + '.x')).toBe(true);
    expect(performance.now() - t0).toBeLessThan(500);
  });
});
