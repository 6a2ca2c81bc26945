/**
 * The AWS Lambda host of the one-version pipeline (src/worker/pipeline.ts): the same get → convert →
 * upload → report as the service's workers, fed by S3 notifications instead of a ledger.
 *
 * Invocations it understands:
 * - SQS (the recommended wiring: bucket → SQS, or → SNS → SQS, or → EventBridge → SQS): each message's
 *   body is parsed by the service's own event parser (src/discovery/s3-events.ts). The answer lists in
 *   `batchItemFailures` the messages to deliver again, which needs `ReportBatchItemFailures` on the
 *   event source mapping: a message is listed when one of its versions failed transiently (S3
 *   throttling, 5xx, a reset, the function about to time out) or when the message cannot be used at
 *   all (not a notification, an undecodable record), which the queue's redrive policy then moves to the
 *   dead-letter queue, as the service's SQS source does. Everything final is acknowledged: a converted
 *   file, a bad file (its report is written), a deleted object, a superseded version.
 * - S3 → Lambda directly (or an EventBridge rule targeting the function): the event itself is the
 *   notification; a transient failure rejects the invocation so Lambda's own retries run it again.
 *
 * Duplicate deliveries are harmless: the pipeline first looks at the target object, and a version whose
 * `source-etag` is already there is not converted again.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config/types.js';
import { type EventVersion, MalformedNotificationError, parseNotification } from '../discovery/s3-events.js';
import { createKeyFilter } from '../discovery/types.js';
import { TransientError, toTransformerError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ConverterFactory } from '../worker/converter.js';
import { convertVersion, type PipelineResult } from '../worker/pipeline.js';
import type { WorkRecorder } from './ledger-work.js';

/** One SQS message as Lambda delivers it (the fields used here). */
export interface SqsRecord {
  messageId: string;
  body: string;
  eventSource: 'aws:sqs';
  attributes?: { ApproximateReceiveCount?: string };
}

export interface SqsBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** The part of Lambda's context object the handler reads. */
export interface LambdaContext {
  getRemainingTimeInMillis(): number;
  awsRequestId?: string;
}

export interface HandlerDeps {
  config: Config;
  s3: S3Client;
  logger: Logger;
  createConverter: ConverterFactory;
  /** The shared ledger (DATABASE_URL); absent: stateless, the target's `source-etag` its only memory. */
  recorder?: WorkRecorder;
  /**
   * Stop converting this long before the function's timeout, so an unfinished upload is aborted
   * (nothing half-written) and its message reported for redelivery instead of being cut off.
   */
  safetyMarginMs?: number;
}

export type LambdaHandler = (
  event: unknown,
  context?: LambdaContext,
) => Promise<SqsBatchResponse | { versions: number }>;

const DEFAULT_SAFETY_MARGIN_MS = 10_000;

export function createHandler(deps: HandlerDeps): LambdaHandler {
  const { config, logger } = deps;
  const filter = {
    bucket: config.sourceBucket,
    matchesKey: createKeyFilter(config),
  };

  /** Converts one version; 'retry' when the message carrying it must be delivered again. */
  async function convertOne(version: EventVersion, signal: AbortSignal): Promise<'done' | 'retry'> {
    const log = logger.child({ key: version.key, etag: version.etag });
    const convert = async (options: { force: boolean }) => {
      const result = await convertVersion({
        s3: deps.s3,
        settings: config,
        // Never `fresh`: a redelivered message must find the output it already wrote.
        version: { bucket: version.bucket, key: version.key, etag: version.etag, force: options.force },
        createConverter: deps.createConverter,
        logger: log,
        signal,
      });
      logOutcome(log, result);
      return result;
    };
    try {
      if (deps.recorder) return await deps.recorder.handle(version, convert, log);
      await convert({ force: false });
      return 'done';
    } catch (err) {
      const e = toTransformerError(
        signal.aborted
          ? new TransientError('the function is about to time out', { code: 'aborted', cause: err })
          : err,
      );
      if (e.retryable) {
        log.warn({ err: e }, 'transient failure; the message will be delivered again');
        return 'retry';
      }
      log.warn({ state: 'failed', error: e.message }, 'file failed');
      return 'done';
    }
  }

  /** Runs `work` over `items`, at most CONCURRENCY at a time, results in input order. */
  async function inParallel<T, R>(items: T[], work: (item: T) => Promise<R>): Promise<R[]> {
    const results: R[] = new Array(items.length);
    let next = 0;
    const lane = async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(config.concurrency, items.length) }, lane));
    return results;
  }

  /** A message's versions, or why the message cannot be used (it is then left for the DLQ). */
  function parseMessage(record: SqsRecord): { versions: EventVersion[]; unusable: string | null } {
    try {
      const parsed = parseNotification(record.body, filter);
      if (parsed.testEvent) logger.info({ messageId: record.messageId }, 's3 test event acknowledged');
      const unusable =
        parsed.invalid.length > 0
          ? parsed.invalid.map((i) => `record ${i.index}: ${i.reason}`).join('; ')
          : null;
      // The valid versions of a partly bad message still convert now.
      return { versions: parsed.versions, unusable };
    } catch (err) {
      if (!(err instanceof MalformedNotificationError)) throw err;
      return { versions: [], unusable: err.message };
    }
  }

  async function handleSqs(records: SqsRecord[], signal: AbortSignal): Promise<SqsBatchResponse> {
    const messages = records.map((record) => ({ record, ...parseMessage(record) }));
    // All versions of the batch share the CONCURRENCY lanes, whichever message carries them.
    const work = messages.flatMap((m, message) => m.versions.map((version) => ({ message, version })));
    const outcomes = await inParallel(work, ({ version }) => convertOne(version, signal));
    const retry = new Set(work.filter((_, i) => outcomes[i] === 'retry').map((w) => w.message));
    const failures: { itemIdentifier: string }[] = [];
    messages.forEach(({ record, unusable }, i) => {
      if (unusable !== null) {
        logger.error(
          {
            messageId: record.messageId,
            receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? 1),
            reason: unusable,
          },
          'sqs message cannot be used; left for the redrive policy (dead-letter queue)',
        );
      }
      if (unusable !== null || retry.has(i)) failures.push({ itemIdentifier: record.messageId });
    });
    return { batchItemFailures: failures };
  }

  return async function handler(event, context) {
    const controller = new AbortController();
    const margin = deps.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS;
    const remaining = context?.getRemainingTimeInMillis();
    const timer =
      remaining === undefined ? null : setTimeout(() => controller.abort(), Math.max(0, remaining - margin));
    try {
      if (isSqsEvent(event)) return await handleSqs(event.Records, controller.signal);
      // A direct S3 (or EventBridge) invocation: Lambda retries the whole event when this rejects.
      const parsed = parseNotification(event, filter);
      const outcomes = await inParallel(parsed.versions, (v) => convertOne(v, controller.signal));
      if (outcomes.includes('retry'))
        throw new TransientError('a version failed transiently; retry the event');
      return { versions: parsed.versions.length };
    } finally {
      if (timer) clearTimeout(timer);
    }
  };
}

function isSqsEvent(event: unknown): event is { Records: SqsRecord[] } {
  if (typeof event !== 'object' || event === null) return false;
  const records = (event as { Records?: unknown }).Records;
  return (
    Array.isArray(records) &&
    records.length > 0 &&
    records.every((r) => typeof r === 'object' && r !== null && (r as SqsRecord).eventSource === 'aws:sqs')
  );
}

/** The same event the service's workers log for a final outcome. */
function logOutcome(log: Logger, result: PipelineResult): void {
  const { state, outcome } = result;
  const level = state === 'done' || state === 'skipped' ? 'info' : 'warn';
  log[level](
    { state, itemsWritten: outcome.itemsWritten, itemsRejected: outcome.itemsRejected, error: outcome.error },
    `file ${state}`,
  );
}
