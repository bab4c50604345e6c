export { MemoryBroker } from './memory-broker.ts';
export type {
  BindingView,
  ConnectionView,
  ConsumerView,
  ExchangeView,
  MemoryBrokerOptions,
  QueueView,
} from './memory-broker.ts';
export { MemoryDriver } from './memory-driver.ts';
export type { MemoryDriverOptions } from './memory-driver.ts';
export { MemoryLink } from './memory-link.ts';
export { ManualClock, systemClock } from './clock.ts';
export type { Clock } from './clock.ts';
export { TRACE_EXCHANGE, traceProperties } from './firehose.ts';
export { topicMatches } from './routing.ts';
