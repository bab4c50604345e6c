/**
 * The traffic tap's one public face: the Tap (shadow consumer + traffic
 * model), its pure parts (decoder, redaction, filter grammar, rates, call
 * tracker) and the broker inspectors. The `osloscope tap` command is
 * bin/commands/tap.ts; the benchmarks live beside `osloscope bench` in
 * bin/commands/. Wire types are in lib/tap-contracts.ts.
 */
export { Tap, DEFAULT_CONTROL_EXCHANGES, TAP_QUEUE_PREFIX, type TapOptions, type TapIntervals } from './tap.ts';
export { IngestPipeline, MAX_INFLATING, type IngestOptions } from './tap-ingest.ts';
export { TrafficModel, Ring, type TrafficModelOptions, type RecentOptions, type IngestResult } from './model.ts';
export {
  decodeObservation,
  fromDelivery,
  fromTraceDelivery,
  parseFailure,
  RAW_KEEP_BYTES,
  TRACE_EXCHANGE,
  type Observation,
  type ObservedMessage,
} from './decoder.ts';
export { bunzip2, decompressBody, registerTapDecompressors, MAX_DECOMPRESSED_BYTES } from './compression.ts';
export { LOG_REDACTION, redact, redactObject, redactText, redactUrlPasswords, isSecretKey, REDACTED } from './redact.ts';
export { parseFilter, tryParseFilter, globMatch, FilterSyntaxError, FILTER_FIELDS, type ParsedFilter, type FilterTerm } from './filter.ts';
export { RateModel, SecondCounter, clampWindow, BUCKET_MS, MIN_WINDOW_MS, MAX_WINDOW_MS, type RateQuery, type RateSample, type RateLimits } from './rates.ts';
export {
  CallTracker,
  processOf,
  BINDINGS_BLIND_CAUSES,
  type CallTrackerOptions,
  type CallChange,
  type CallerInfo,
  type QueueFact,
  type QueueFacts,
} from './calls.ts';
export { LatencyHistograms, bucketIndex, type LatencyLabels } from './histogram.ts';
export {
  ManagementInspector,
  MemoryInspector,
  PassiveInspector,
  InspectorError,
  type BrokerInspector,
  type InspectorSource,
  type InspectedExchange,
  type InspectedQueue,
  type InspectedConsumer,
  type InspectedConnection,
  type ManagementOptions,
} from './inspector.ts';
export { buildBrokerView, queueHealth, queueKind, topicsFromExchanges, type BrokerViewInput } from './broker-view.ts';
export {
  parseQueueName,
  parseReplyQueue,
  parseFanoutQueue,
  parseFanoutExchange,
  parseNotificationQueue,
  splitTopicServer,
  queueManagerLabel,
  poolsFromRoutedQueues,
  type ParsedQueueName,
} from './queue-names.ts';
export { ReplyQueueEpochs, differentProcess, type ReplyEpoch } from './reply-epochs.ts';
export {
  readFanoutHistory,
  FanoutHistoryReader,
  FanoutHistoryError,
  describeStreamQueue,
  streamOffsetArgument,
  HISTORY_DEFAULTS,
  type FanoutHistoryRequest,
  type StreamQueueInfo,
} from './fanout-history.ts';
export { heapGrowthPercent } from './heap-growth.ts';
export { detectLayout, queueTypeOf, type LayoutInput, type LayoutQueue, type LayoutExchange } from './layout.ts';
export { FirehoseControl, computeCoverage, coverageSummary, type FirehoseControlOptions } from './firehose.ts';
export { BrokerReporter, summarize as summarizeBrokerHealth, type BrokerReporterOptions } from './broker-report.ts';
export { buildHealth, readHealth, readManagementQueues, deliveryLimitOf, defaultDeliveryLimit, type ManagementQueue, type QueueRead } from './broker-health.ts';
