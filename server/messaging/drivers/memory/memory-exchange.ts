/**
 * One exchange of the memory broker and its bindings. Routing follows
 * RabbitMQ: direct = exact key, fanout = every bound queue, topic = AMQP
 * wildcards (routing.ts), headers = x-match all/any on the message headers.
 * A queue bound several ways still gets one copy per publish.
 */
import type { ExchangeType } from '../../driver.ts';
import { deepEqual } from './field-values.ts';
import type { Binding, MemoryQueue } from './memory-queue.ts';
import { compileTopicPattern, type KeyMatcher } from './routing.ts';

interface ExchangeBinding extends Binding {
  readonly matches: KeyMatcher;
}

/** Topic routing results are cached per routing key; oslo publishes to few distinct keys. */
const ROUTE_CACHE_LIMIT = 4096;

export class MemoryExchange {
  readonly arguments: Record<string, unknown>;
  private readonly bound: ExchangeBinding[] = [];
  private readonly cache = new Map<string, MemoryQueue[]>();

  constructor(
    readonly name: string,
    readonly type: ExchangeType,
    readonly durable: boolean,
    readonly autoDelete: boolean,
    readonly internal: boolean,
    args: Record<string, unknown>,
  ) {
    this.arguments = args;
  }

  get bindings(): readonly Binding[] {
    return this.bound;
  }

  /** Returns the new binding, or undefined when an identical one exists (queue.bind is idempotent). */
  addBinding(queue: MemoryQueue, key: string, args: Record<string, unknown>): Binding | undefined {
    if (this.find(queue, key, args) >= 0) return undefined;
    const matches: KeyMatcher = this.type === 'topic' ? compileTopicPattern(key) : (rk) => rk === key;
    const b: ExchangeBinding = { exchange: this.name, queue, key, args, matches };
    this.bound.push(b);
    this.cache.clear();
    return b;
  }

  removeBinding(queue: MemoryQueue, key: string, args: Record<string, unknown>): Binding | undefined {
    const i = this.find(queue, key, args);
    if (i < 0) return undefined;
    const [b] = this.bound.splice(i, 1);
    this.cache.clear();
    return b;
  }

  removeBindingRef(b: Binding): void {
    const i = this.bound.indexOf(b as ExchangeBinding);
    if (i < 0) return;
    this.bound.splice(i, 1);
    this.cache.clear();
  }

  route(routingKey: string, headers: Record<string, unknown> | undefined): MemoryQueue[] {
    switch (this.type) {
      case 'fanout':
        return unique(this.bound.map((b) => b.queue));
      case 'headers':
        return unique(this.bound.filter((b) => headersMatch(b.args, headers ?? {})).map((b) => b.queue));
      case 'topic': {
        const hit = this.cache.get(routingKey);
        if (hit) return hit;
        const out = unique(this.bound.filter((b) => b.matches(routingKey)).map((b) => b.queue));
        if (this.cache.size >= ROUTE_CACHE_LIMIT) this.cache.clear();
        this.cache.set(routingKey, out);
        return out;
      }
      default:
        return unique(this.bound.filter((b) => b.key === routingKey).map((b) => b.queue));
    }
  }

  private find(queue: MemoryQueue, key: string, args: Record<string, unknown>): number {
    return this.bound.findIndex((b) => b.queue === queue && b.key === key && deepEqual(b.args, args));
  }
}

function unique(queues: MemoryQueue[]): MemoryQueue[] {
  return queues.length < 2 ? queues : [...new Set(queues)];
}

/** rabbit_exchange_type_headers: `x-match` all (default) or any; `x-` keys are not matched. */
function headersMatch(args: Record<string, unknown>, headers: Record<string, unknown>): boolean {
  const mode = args['x-match'] === 'any' || args['x-match'] === 'any-with-x' ? 'any' : 'all';
  const withX = args['x-match'] === 'all-with-x' || args['x-match'] === 'any-with-x';
  const keys = Object.keys(args).filter((k) => k !== 'x-match' && (withX || !k.startsWith('x-')));
  const one = (k: string): boolean => Object.hasOwn(headers, k) && (args[k] === null || deepEqual(args[k], headers[k]));
  return mode === 'all' ? keys.every(one) : keys.some(one);
}
