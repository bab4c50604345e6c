/** Small helpers shared by the memory driver's tests. */
import type { Delivery, Link } from '../../driver.ts';
import { MemoryBroker, type MemoryBrokerOptions } from './memory-broker.ts';
import type { MemoryLink } from './memory-link.ts';

/** Let every pending setImmediate-scheduled delivery run (a few turns, for deliveries caused by deliveries). */
export async function settle(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}

export function connect(broker: MemoryBroker, name = 'test'): MemoryLink {
  return broker.connect(name);
}

export function newBroker(options: MemoryBrokerOptions = {}): MemoryBroker {
  return new MemoryBroker(options);
}

/** Consume `queue` into an array; acks each delivery unless `ack` is false. */
export async function collect(
  link: Link,
  queue: string,
  options: { ack?: boolean; noAck?: boolean; consumerTag?: string } = {},
): Promise<{ tag: string; got: Delivery[] }> {
  const got: Delivery[] = [];
  const tag = await link.consume(
    queue,
    (d) => {
      got.push(d);
      if (options.ack !== false && !options.noAck) link.ack(d);
    },
    { noAck: options.noAck, consumerTag: options.consumerTag },
  );
  return { tag, got };
}

export function bodies(ds: Delivery[]): string[] {
  return ds.map((d) => d.body.toString());
}

/** Resolves with the error a link's close listeners get. */
export function closed(link: Link): Promise<Error | undefined> {
  return new Promise((resolve) => link.onClose(resolve));
}

export const transient = { durable: false, autoDelete: false } as const;
