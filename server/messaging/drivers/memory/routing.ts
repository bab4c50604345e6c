/**
 * AMQP 0-9-1 routing-key matching as RabbitMQ does it.
 *
 * Topic keys are split into words on `.`; `*` matches exactly one word and
 * `#` zero or more. Like RabbitMQ's topic trie
 * (rabbit_exchange_type_topic:split_topic_key), the empty key has zero words,
 * so `#` matches `""` and `*` does not; `a..b` has an empty middle word.
 */

export type KeyMatcher = (routingKey: string) => boolean;

function words(key: string): string[] {
  return key === '' ? [] : key.split('.');
}

/** Compile a topic binding key into a matcher. */
export function compileTopicPattern(pattern: string): KeyMatcher {
  const pw = words(pattern);
  if (!pw.includes('*') && !pw.includes('#')) return (key) => key === pattern;
  if (pw.length === 1 && pw[0] === '#') return () => true;
  return (key) => matchWords(pw, words(key));
}

export function topicMatches(pattern: string, routingKey: string): boolean {
  return compileTopicPattern(pattern)(routingKey);
}

/**
 * Dynamic programming over (pattern word, key word): linear in
 * pattern × key, so patterns like `#.#.#.x` cannot blow up the way naive
 * backtracking does.
 */
function matchWords(pw: string[], kw: string[]): boolean {
  const n = kw.length;
  // reach[j]: pattern prefix matched so far can end right before key word j
  let reach = new Uint8Array(n + 1);
  reach[0] = 1;
  for (const p of pw) {
    const next = new Uint8Array(n + 1);
    if (p === '#') {
      let on = 0;
      for (let j = 0; j <= n; j++) {
        if (reach[j]) on = 1;
        next[j] = on;
      }
    } else {
      for (let j = 0; j < n; j++) {
        if (reach[j] && (p === '*' || p === kw[j])) next[j + 1] = 1;
      }
    }
    reach = next;
  }
  return reach[n] === 1;
}
