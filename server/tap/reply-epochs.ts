/**
 * Who consumed a reply queue when: "process epochs" keyed by the consuming
 * connection, not by the queue name.
 *
 * With use_queue_manager (oslo.messaging 14.7.0+, kolla 2025.1 and later)
 * reply queues are named `reply_<host>:<proc>:<n>` and the counter behind
 * `n` resets to 1 when the service restarts (impl_rabbit QManager, counter
 * file `/dev/shm/<host>_<proc>_qmanager`), so the restarted service declares
 * and consumes the very same names. A reply still on its way to the old
 * process is then delivered to the new one, whose ReplyWaiters know nothing
 * of it and log `No calling threads waiting for msg_id` (amqpdriver
 * ReplyWaiters.put) — the caller that asked is gone. Telling the two apart
 * needs the consumer's connection name `<argv0>:<pid>:<uuid>` (py-amqp's
 * connection_name), which changes with every process.
 *
 * A new connection of the same `<prog>:<pid>` is that process reconnecting
 * (its waiters survive, oslo re-consumes the same queue), not a restart.
 * A restart that keeps the pid (a container whose service always gets the
 * same pid) looks the same from the broker and is counted as a reconnect.
 *
 * Bounded: at most `maxQueues` queues and `maxEpochsPerQueue` epochs each.
 */
import { processOf } from './queue-names.ts';

export interface ReplyEpoch {
  /** the consumer's client connection name `<prog>:<pid>:<uuid>` */
  connectionName: string;
  /** `<prog>:<pid>`, or the whole name when it has another shape */
  process: string;
  firstSeen: number;
  lastSeen: number;
}

export class ReplyQueueEpochs {
  private readonly queues = new Map<string, ReplyEpoch[]>();

  constructor(
    private readonly maxQueues = 20_000,
    private readonly maxEpochsPerQueue = 8,
  ) {}

  get size(): number {
    return this.queues.size;
  }

  /** `connectionName` consumed (or was delivered from) `queue` at `ts`. */
  observe(queue: string, connectionName: string, ts: number): void {
    let list = this.queues.get(queue);
    if (!list) {
      if (this.queues.size >= this.maxQueues) this.queues.delete(this.queues.keys().next().value as string);
      this.queues.set(queue, (list = []));
    }
    const last = list[list.length - 1];
    if (last && last.connectionName === connectionName) {
      if (ts > last.lastSeen) last.lastSeen = ts;
      return;
    }
    const known = list.find((e) => e.connectionName === connectionName);
    if (known) {
      // an older observation arriving late (lookups and traces race): widen, do not reorder
      if (ts < known.firstSeen) known.firstSeen = ts;
      if (ts > known.lastSeen) known.lastSeen = ts;
      return;
    }
    const epoch: ReplyEpoch = { connectionName, process: processOf(connectionName) ?? connectionName, firstSeen: ts, lastSeen: ts };
    if (last && ts < last.firstSeen) {
      // seen before the newest epoch began: an older epoch
      let i = list.length - 1;
      while (i > 0 && list[i - 1].firstSeen > ts) i--;
      list.splice(i, 0, epoch);
    } else list.push(epoch);
    if (list.length > this.maxEpochsPerQueue) list.shift();
  }

  /** The newest epoch of `queue`, or null. */
  current(queue: string): ReplyEpoch | null {
    const list = this.queues.get(queue);
    return list && list.length > 0 ? list[list.length - 1] : null;
  }

  /** The epoch that was consuming `queue` at `ts` (the newest one begun by then), or null when none was seen yet. */
  at(queue: string, ts: number): ReplyEpoch | null {
    const list = this.queues.get(queue);
    if (!list) return null;
    for (let i = list.length - 1; i >= 0; i--) if (list[i].firstSeen <= ts) return list[i];
    return null;
  }

  /** Epochs of `queue`, oldest first. */
  list(queue: string): ReplyEpoch[] {
    return [...(this.queues.get(queue) ?? [])];
  }
}

/** True when two consumer connection names belong to different processes (a restart, not a reconnect). */
export function differentProcess(a: string, b: string): boolean {
  return (processOf(a) ?? a) !== (processOf(b) ?? b);
}
