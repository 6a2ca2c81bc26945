import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every Prometheus metric the service exposes at GET /metrics, in one place so names stay consistent.
 * One registry per process (created by `createMetrics`), passed to the parts that record into it, so
 * tests can run several services in one process without their counters mixing.
 */
export interface Metrics {
  registry: Registry;
  /** Files whose conversion ended, by outcome: done, failed, gone, skipped. */
  filesTotal: Counter<'outcome'>;
  itemsWrittenTotal: Counter;
  itemsRejectedTotal: Counter;
  /** Input bytes read (after decompression). */
  bytesTotal: Counter;
  conversionSeconds: Histogram;
  /** Attempts that failed with a retryable error and were scheduled again. */
  retriesTotal: Counter;
  /**
   * Conversion attempts that ended in an error, by its code (errors.ts ErrorCode) and whether it was
   * final (the file failed or is gone) or retried.
   */
  errorsTotal: Counter<'code' | 'final'>;
  scanSeconds: Histogram;
  scanObjectsListedTotal: Counter;
  /** Ledger rows by state, refreshed on scrape. */
  ledgerFiles: Gauge<'state'>;
  /** SQS messages by what happened to them: received, deleted, failed, redrive (left for the DLQ). */
  sqsMessagesTotal: Counter<'event'>;
  /** Webhook notifications accepted or refused. */
  webhookEventsTotal: Counter<'outcome'>;
  /** Seconds from the S3 event's time to the JSON being written. */
  eventLagSeconds: Histogram;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'file_transformer_process_' });
  const registers = [registry];
  return {
    registry,
    filesTotal: new Counter({
      name: 'file_transformer_files_total',
      help: 'Files whose conversion ended, by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    itemsWrittenTotal: new Counter({
      name: 'file_transformer_items_written_total',
      help: 'Products written to the target bucket',
      registers,
    }),
    itemsRejectedTotal: new Counter({
      name: 'file_transformer_items_rejected_total',
      help: 'Items rejected as invalid (listed in the reports)',
      registers,
    }),
    bytesTotal: new Counter({
      name: 'file_transformer_input_bytes_total',
      help: 'Input bytes converted (after decompression)',
      registers,
    }),
    conversionSeconds: new Histogram({
      name: 'file_transformer_conversion_seconds',
      help: 'Time to convert one file, from claim to outcome',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
      registers,
    }),
    retriesTotal: new Counter({
      name: 'file_transformer_retries_total',
      help: 'Conversion attempts that failed transiently and were scheduled again',
      registers,
    }),
    errorsTotal: new Counter({
      name: 'file_transformer_errors_total',
      help: 'Conversion attempts that ended in an error, by error code and whether it was final',
      labelNames: ['code', 'final'],
      registers,
    }),
    scanSeconds: new Histogram({
      name: 'file_transformer_scan_seconds',
      help: 'Duration of a source bucket scan',
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300],
      registers,
    }),
    scanObjectsListedTotal: new Counter({
      name: 'file_transformer_scan_objects_listed_total',
      help: 'Objects listed by scans',
      registers,
    }),
    ledgerFiles: new Gauge({
      name: 'file_transformer_ledger_files',
      help: 'Ledger rows by state (pending is the queue depth)',
      labelNames: ['state'],
      registers,
    }),
    sqsMessagesTotal: new Counter({
      name: 'file_transformer_sqs_messages_total',
      help: 'SQS messages by event: received, deleted, failed, redrive',
      labelNames: ['event'],
      registers,
    }),
    webhookEventsTotal: new Counter({
      name: 'file_transformer_webhook_events_total',
      help: 'Webhook notifications by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    eventLagSeconds: new Histogram({
      name: 'file_transformer_event_lag_seconds',
      help: 'Seconds from an S3 event time to its JSON being written',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    }),
  };
}
