/**
 * The `memory` driver: links to an in-process MemoryBroker. What
 * `memory://` (alias `fake://`) transport URLs use — oslo's fake driver
 * idea (impl_fake.FakeDriver: exchanges shared by everything in one
 * process), but with real AMQP semantics so the rabbit-driver code paths
 * above the seam run unchanged.
 */
import type { ConnectOptions, Driver, Link } from '../../driver.ts';
import { MemoryBroker } from './memory-broker.ts';

export interface MemoryDriverOptions {
  /** The broker to use; default: the process-wide one for `vhost`. */
  broker?: MemoryBroker;
  /** Virtual host of the shared broker when no broker is given (default '/'). */
  vhost?: string;
}

export class MemoryDriver implements Driver {
  readonly name = 'memory' as const;
  readonly broker: MemoryBroker;

  /** `new MemoryDriver(broker)` or `new MemoryDriver({ broker?, vhost? })`. */
  constructor(options: MemoryBroker | MemoryDriverOptions = {}) {
    if (options instanceof MemoryBroker) this.broker = options;
    else this.broker = options.broker ?? MemoryBroker.shared(options.vhost ?? '/');
  }

  async connect(options: ConnectOptions): Promise<Link> {
    return this.broker.connect(options.connectionName);
  }

  describe(): string {
    return `memory://${this.broker.vhost}`;
  }
}
