/**
 * A claimed ledger row through the pipeline (./pipeline.ts), and its outcome into the ledger: done,
 * failed, skipped or gone as the pipeline decides; a retryable failure back to pending with backoff
 * (for RETRY_FOR_HOURS after the first failure; a converter or process that died converting the file,
 * MAX_ATTEMPTS times); anything else failed. The lease fences every write: a worker that lost its
 * row records nothing.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { backoffDelayMs } from '../backoff.js';
import type { Config } from '../config/types.js';
import { ConverterCrashedError, errorRecord, type TransformerError, toTransformerError } from '../errors.js';
import type { FileOutcome, FileRecord, Ledger } from '../ledger/types.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ConverterFactory } from './converter.js';
import { convertVersion, type PipelineResult } from './pipeline.js';
import { ConversionStalledError } from './pool.js';

export interface WorkerContext {
  s3: S3Client;
  ledger: Ledger;
  config: Config;
  metrics: Metrics;
  logger: Logger;
  /** This process's lease owner id. */
  owner: string;
  createConverter: ConverterFactory;
  /** The clock for retry decisions and ledger times (tests move it through an outage). */
  now?: () => number;
}

/** "3 h 05 min", "12 min", "40 s": how long a file has been failing, for its final error. */
function span(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/**
 * Converts one claimed ledger row and records its outcome. Every failure of the conversion becomes a
 * ledger state (retry later, failed, gone, skipped); it rejects only when the ledger itself fails
 * (the pool logs that, and the row's lease expires so it comes back). `signal` aborts the work
 * (graceful stop or lost lease); an aborted row is left for the caller to release.
 */
export async function processFile(
  ctx: WorkerContext,
  row: FileRecord,
  signal: AbortSignal,
  progress: () => void = () => {},
): Promise<void> {
  const { config, ledger, metrics, owner } = ctx;
  const now = ctx.now ?? Date.now;
  const log = ctx.logger.child({ fileId: row.id, key: row.key, etag: row.etag, attempt: row.attempts });
  const started = performance.now();
  const finish = async (state: PipelineResult['state'], outcome: FileOutcome, err?: TransformerError) => {
    const saved = await ledger.finish(row.id, owner, state, outcome, now());
    if (!saved) {
      log.warn({ state }, 'lease lost before the outcome was recorded; another worker owns this file now');
      return;
    }
    metrics.filesTotal.inc({ outcome: state });
    if (outcome.errorCode) metrics.errorsTotal.inc({ code: outcome.errorCode, final: 'true' });
    metrics.conversionSeconds.observe((performance.now() - started) / 1000);
    if (state === 'done' && saved.eventTime) {
      metrics.eventLagSeconds.observe(Math.max(0, Date.now() - Date.parse(saved.eventTime)) / 1000);
    }
    const level = state === 'done' || state === 'skipped' ? 'info' : 'warn';
    log[level](
      {
        state,
        itemsWritten: outcome.itemsWritten,
        itemsRejected: outcome.itemsRejected,
        error: outcome.error,
        errorCode: outcome.errorCode,
        err,
      },
      `file ${state}`,
    );
  };

  if (row.lostLeases >= config.maxAttempts) {
    // The process died converting this file MAX_ATTEMPTS times: a file that kills it must not loop.
    const error = `gave up: the process converting this file ended ${row.lostLeases} times (leases expired)`;
    await finish('failed', { error, errorCode: 'lease-expired' });
    return;
  }

  // A stall (the pool's watchdog) is a transient failure of this attempt; any other abort (graceful
  // stop, lost lease) leaves the row to the caller.
  const handedBack = () => signal.aborted && !(signal.reason instanceof ConversionStalledError);
  let result: PipelineResult;
  try {
    result = await convertVersion({
      s3: ctx.s3,
      settings: config,
      version: {
        bucket: row.bucket,
        key: row.key,
        etag: row.etag,
        force: row.forced,
        // A fresh upload announced by an event on its first attempt cannot have been converted yet,
        // so the hot path saves the idempotence HEAD.
        fresh: row.attempts <= 1 && row.discoveredBy === 'event',
      },
      createConverter: ctx.createConverter,
      logger: log,
      signal,
      progress,
      // Any other version may have left the key's report, also one the ledger has no report key for
      // (stored just before a crash, or by an attempt that then found the version superseded).
      hadEarlierReport: async () =>
        (await ledger.getFileVersions(row.bucket, row.key)).some((v) => v.id !== row.id),
    });
  } catch (caught) {
    if (handedBack()) return;
    const err: unknown = signal.aborted ? signal.reason : caught;
    const e = toTransformerError(err, { bucket: row.bucket, key: row.key, etag: row.etag });
    // Transient failures are retried for a span of time (RETRY_FOR_HOURS from the first failure of
    // this run), not a number of attempts: an S3 outage delays work, it does not fail it.
    const at = now();
    const failingFor = row.failingSince === null ? 0 : at - Date.parse(row.failingSince);
    // A converter that died is counted like a process that died: MAX_ATTEMPTS at most.
    const crashedTooOften = e instanceof ConverterCrashedError && row.attempts >= config.maxAttempts;
    if (e.retryable && failingFor < config.retryForMs && !crashedTooOften) {
      const delay = backoffDelayMs(row.attempts, config.retryBaseMs, config.retryMaxMs);
      if (await ledger.retryLater(row.id, owner, errorRecord(e), at + delay, at)) {
        metrics.retriesTotal.inc();
        metrics.errorsTotal.inc({ code: e.code, final: 'false' });
        log.warn({ err: e, retryInMs: delay, failingForMs: failingFor }, 'transient failure; will retry');
      }
    } else {
      const why = crashedTooOften
        ? `gave up after ${row.attempts} attempts: ${e.message}`
        : e.retryable
          ? `gave up after retrying for ${span(failingFor)} (${row.attempts} attempts): ${e.message}`
          : e.message;
      await finish('failed', { error: why, errorCode: e.code }, e);
    }
    return;
  }
  // A result is recorded even when a graceful stop came meanwhile: the output may be written, and a
  // row given back would be converted (and written) again.
  if (result.state === 'done' && result.converted) {
    metrics.itemsWrittenTotal.inc(result.converted.itemsWritten);
    metrics.itemsRejectedTotal.inc(result.converted.itemsRejected);
    metrics.bytesTotal.inc(result.converted.bytes);
  }
  await finish(result.state, result.outcome);
}
