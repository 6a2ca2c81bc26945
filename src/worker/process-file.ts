import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Config } from '../config/types.js';
import type { ConversionReport } from '../convert/types.js';
import {
  httpStatusOf,
  ObjectGoneError,
  PermanentError,
  TransientError,
  toTransformerError,
} from '../errors.js';
import { type FileOutcome, type FileRecord, type Ledger, normalizeEtag } from '../ledger/types.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { backoffDelayMs } from './backoff.js';
import type { ConverterFactory } from './converter.js';
import { outputKeyFor, reportKeyFor } from './naming.js';
import { uploadOutput } from './output-upload.js';

/**
 * Multipart sizing: memory per file in flight is about partSize * (queueSize + 1) (the parts being
 * sent plus the one being filled), so 8 MiB x 2 stays near 24 MiB a file, ~100 MiB at CONCURRENCY=4,
 * while two parts in flight keep the upload ahead of the converter.
 */
export const UPLOAD_PART_SIZE = 8 * 1024 * 1024;
export const UPLOAD_QUEUE_SIZE = 2;

export interface WorkerContext {
  s3: S3Client;
  ledger: Ledger;
  config: Config;
  metrics: Metrics;
  logger: Logger;
  /** This process's lease owner id. */
  owner: string;
  createConverter: ConverterFactory;
}

/** Why a row ends without a conversion, decided before any byte is written. */
class Superseded extends Error {}

/**
 * Converts one claimed ledger row and records its outcome. Never throws: every failure becomes a ledger
 * state (retry later, failed, gone, skipped). `signal` aborts the work (graceful stop or lost lease);
 * an aborted row is left for the caller to release.
 */
export async function processFile(ctx: WorkerContext, row: FileRecord, signal: AbortSignal): Promise<void> {
  const { config, ledger, metrics, owner } = ctx;
  const log = ctx.logger.child({ fileId: row.id, key: row.key, etag: row.etag, attempt: row.attempts });
  const started = performance.now();
  const finish = async (state: 'done' | 'failed' | 'skipped' | 'gone', outcome: FileOutcome) => {
    const saved = await ledger.finish(row.id, owner, state, outcome);
    if (!saved) {
      log.warn({ state }, 'lease lost before the outcome was recorded; another worker owns this file now');
      return;
    }
    metrics.filesTotal.inc({ outcome: state });
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
      },
      `file ${state}`,
    );
  };

  if (row.attempts > config.maxAttempts) {
    // Only reachable through expired leases (crashes): a file that kills the process must not loop.
    await finish('failed', { error: `gave up after ${row.attempts - 1} attempts (leases expired)` });
    return;
  }

  try {
    const outcome = await convert(ctx, row, signal, log);
    if (signal.aborted) return;
    await finish(outcome.state, outcome.outcome);
  } catch (err) {
    if (signal.aborted) return;
    if (err instanceof Superseded) {
      await finish('skipped', { error: err.message });
      return;
    }
    const e = toTransformerError(err);
    if (e instanceof ObjectGoneError) {
      await finish('gone', { error: `the source object is gone: ${e.message}` });
    } else if (e.retryable && row.attempts < config.maxAttempts) {
      const delay = backoffDelayMs(row.attempts, config.retryBaseMs, config.retryMaxMs);
      if (await ledger.retryLater(row.id, owner, e.message, Date.now() + delay)) {
        metrics.retriesTotal.inc();
        log.warn({ err: e.message, retryInMs: delay }, 'transient failure; will retry');
      }
    } else {
      const why = e.retryable ? `gave up after ${row.attempts} attempts: ${e.message}` : e.message;
      await finish('failed', { error: why });
    }
  }
}

type Decision = { state: 'done' | 'failed'; outcome: FileOutcome };

async function convert(
  ctx: WorkerContext,
  row: FileRecord,
  signal: AbortSignal,
  log: Logger,
): Promise<Decision> {
  const { s3, config } = ctx;
  const outputKey = outputKeyFor(row.key);

  // Already converted (crashed after the upload, before the ledger said done; or a scan after the
  // ledger was lost): do not redo it. A fresh upload announced by an event on its first attempt
  // cannot have been converted yet, so the hot path saves this request.
  const mayBeConverted = row.attempts > 1 || row.discoveredBy !== 'event';
  if (!row.forced && mayBeConverted) {
    const existing = await headTarget(s3, config.targetBucket, outputKey, signal);
    if (existing && existing['source-etag'] === row.etag) {
      log.info('target already holds this version; recording it as done');
      return {
        state: 'done',
        outcome: {
          outputKey,
          itemsWritten: numberOrNull(existing['items-written']),
          itemsRejected: numberOrNull(existing['items-rejected']),
        },
      };
    }
  }

  const source = await getSource(s3, row, signal);
  const { stream, report } = ctx.createConverter({
    source: row.key,
    strict: config.strict,
    maxImageType: config.maxImageType,
    maxBytes: config.maxFileBytes,
    gzip: 'auto',
  });

  // Three parts can fail: the source body (a reset mid-download: transient), the converter (its
  // verdict on the file: final), the upload (classified like any S3 error). Whichever fails first is the
  // cause; the others are then torn down so nothing waits forever on a stalled stream, and their
  // secondary errors (the converter reports "aborted" when destroyed) are not mistaken for the cause.
  let failure: { part: 'source' | 'converter' | 'upload'; error: unknown } | null = null;
  const tearDown = () => {
    source.destroy();
    stream.destroy();
  };
  source.on('error', (error) => {
    failure ??= { part: 'source', error };
    stream.destroy();
  });
  stream.on('error', (error) => {
    failure ??= { part: 'converter', error };
    source.destroy();
  });
  source.pipe(stream);
  const onAbort = () => source.destroy(new TransientError('conversion aborted'));
  signal.addEventListener('abort', onAbort, { once: true });

  const metadata: Record<string, string> = { 'source-etag': row.etag };
  // The item counts are known only at the end: they reach the object's metadata when it is written
  // in one PUT (output under one part); a multipart upload starts before they are known.
  async function* output() {
    for await (const chunk of stream) yield chunk as Buffer;
    const r = await report;
    metadata['items-written'] = String(r.itemsWritten);
    metadata['items-rejected'] = String(r.itemsRejected);
  }
  const uploading = uploadOutput(
    {
      s3,
      bucket: config.targetBucket,
      key: outputKey,
      contentType: 'application/json',
      metadata,
      partSize: UPLOAD_PART_SIZE,
      queueSize: UPLOAD_QUEUE_SIZE,
    },
    output(),
  ).catch((error: unknown) => {
    failure ??= { part: 'upload', error };
    tearDown();
    throw error;
  });
  const [uploaded, result] = await Promise.allSettled([uploading, report]);
  signal.removeEventListener('abort', onAbort);
  const rep: ConversionReport | null = result.status === 'fulfilled' ? result.value : null;
  const cause = failure as { part: 'source' | 'converter' | 'upload'; error: unknown } | null;

  // A failed body or request has already aborted the multipart upload (uploadOutput does so itself).
  if (cause?.part === 'source') {
    throw toTransformerError(cause.error);
  }
  if (cause?.part === 'upload') {
    const e = toTransformerError(cause.error);
    // A 404 while writing means the target bucket is missing, not that the source is gone.
    throw e instanceof ObjectGoneError ? new TransientError(`target bucket: ${e.message}`, e) : e;
  }
  if (rep?.error) {
    // The file fails as a whole: nothing may be visible. A failed stream aborts the upload; if the store
    // completed it anyway (error after the last byte), remove it.
    if (uploaded.status === 'fulfilled') await deleteQuietly(s3, config.targetBucket, outputKey, log);
    const fullReport = { ...rep, etag: row.etag, bucket: row.bucket };
    const reportKey = await putReport(ctx, row, fullReport, log);
    return {
      state: 'failed',
      outcome: {
        error: rep.error.line === null ? rep.error.message : `line ${rep.error.line}: ${rep.error.message}`,
        report: fullReport,
        reportKey,
        bytes: rep.bytes,
        itemsWritten: 0,
        itemsRejected: rep.itemsRejected,
      },
    };
  }
  if (uploaded.status === 'rejected') throw toTransformerError(uploaded.reason);
  if (!rep) throw new PermanentError('the converter gave no report');

  ctx.metrics.itemsWrittenTotal.inc(rep.itemsWritten);
  ctx.metrics.itemsRejectedTotal.inc(rep.itemsRejected);
  ctx.metrics.bytesTotal.inc(rep.bytes);
  const fullReport = { ...rep, etag: row.etag, bucket: row.bucket };
  const reportKey = rep.itemsRejected > 0 ? await putReport(ctx, row, fullReport, log) : null;
  if (reportKey === null) await removeStaleReport(ctx, row, log);
  return {
    state: 'done',
    outcome: {
      outputKey,
      itemsWritten: rep.itemsWritten,
      itemsRejected: rep.itemsRejected,
      bytes: rep.bytes,
      report: fullReport,
      reportKey,
    },
  };
}

/** GetObject pinned to the row's ETag; another ETag means a newer upload replaced this version. */
async function getSource(s3: S3Client, row: FileRecord, signal: AbortSignal): Promise<Readable> {
  let res: GetObjectCommandOutput;
  try {
    res = await s3.send(
      new GetObjectCommand({ Bucket: row.bucket, Key: row.key, IfMatch: `"${row.etag}"` }),
      { abortSignal: signal },
    );
  } catch (err) {
    if (httpStatusOf(err) === 412 || (err as { name?: unknown }).name === 'PreconditionFailed') {
      throw new Superseded('superseded: the object was replaced by a newer upload (ETag changed)');
    }
    throw err;
  }
  const body = res.Body;
  if (!(body instanceof Readable)) throw new TransientError('GetObject returned no body stream');
  // Not every store honours If-Match (s3rver ignores it): check the ETag we actually got.
  if (res.ETag !== undefined && normalizeEtag(res.ETag) !== row.etag) {
    body.destroy();
    throw new Superseded(`superseded: the object now has ETag ${normalizeEtag(res.ETag)} (newer upload)`);
  }
  return body;
}

/** The target object's metadata, or null when there is none. */
async function headTarget(
  s3: S3Client,
  bucket: string,
  key: string,
  signal: AbortSignal,
): Promise<Record<string, string> | null> {
  try {
    const res = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    return res.Metadata ?? {};
  } catch (err) {
    if (toTransformerError(err) instanceof ObjectGoneError) return null;
    // Without read access to the target (a write-only policy) the check cannot be made: convert.
    if (httpStatusOf(err) === 403) return null;
    throw err;
  }
}

/** Uploads a report next to (not among) the products. A failed report upload does not fail the file. */
async function putReport(
  ctx: WorkerContext,
  row: FileRecord,
  report: object,
  log: Logger,
): Promise<string | null> {
  const key = reportKeyFor(ctx.config.reportPrefix, row.key);
  try {
    await ctx.s3.send(
      new PutObjectCommand({
        Bucket: ctx.config.reportBucket,
        Key: key,
        Body: JSON.stringify(report),
        ContentType: 'application/json',
        Metadata: { 'source-etag': row.etag },
      }),
    );
    return key;
  } catch (err) {
    log.error(
      { err: toTransformerError(err).message, reportKey: key },
      'report upload failed (kept in the ledger)',
    );
    return null;
  }
}

/**
 * A clean version of a key whose earlier version had a report: that report (one per key) would now
 * describe a file that is no longer there, so it goes.
 */
async function removeStaleReport(ctx: WorkerContext, row: FileRecord, log: Logger): Promise<void> {
  const versions = await ctx.ledger.getFileVersions(row.bucket, row.key);
  if (!versions.some((v) => v.id !== row.id && v.reportKey !== null)) return;
  await deleteQuietly(ctx.s3, ctx.config.reportBucket, reportKeyFor(ctx.config.reportPrefix, row.key), log);
}

async function deleteQuietly(s3: S3Client, bucket: string, key: string, log: Logger): Promise<void> {
  try {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  } catch (err) {
    log.error({ err: toTransformerError(err).message, key }, 'could not remove output of a failed file');
  }
}

function numberOrNull(value: string | undefined): number | null {
  const n = value === undefined ? Number.NaN : Number(value);
  return Number.isFinite(n) ? n : null;
}
