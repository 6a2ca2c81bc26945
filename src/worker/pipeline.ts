/**
 * The pipeline for one object version: GetObject (pinned to its ETag) → converter → upload of the
 * JSON (single PUT or multipart, never visible half-written) → report → the outcome. It knows nothing
 * of the ledger, the scheduler, the worker pool or the API, so every host runs the same code: the
 * service's workers (src/worker/process-file.ts records the outcome in the ledger), the CLI, and an
 * AWS Lambda handler fed by SQS.
 *
 * Idempotence lives in the target object: its `source-etag` metadata names the version it was made
 * from, so a version whose output is already there is reported done without converting it again.
 */
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
  type TransformerError,
  TransientError,
  toTransformerError,
} from '../errors.js';
import type { FileOutcome } from '../ledger/types.js';
import type { Logger } from '../log.js';
import { normalizeEtag } from '../s3-format.js';
import { DEFAULT_IO_TIMEOUT_MS, transferDeadlineMs } from '../storage/s3-client.js';
import { type ConverterFactory, loadConverter } from './converter.js';
import { outputKeyFor, reportKeyFor } from './naming.js';
import { uploadOutput } from './output-upload.js';
import { watchForStall } from './stall-watchdog.js';

/**
 * Multipart sizing: memory per file in flight is about partSize * (queueSize + 1) (the parts being
 * sent plus the one being filled), so 8 MiB x 2 stays near 24 MiB a file, ~100 MiB at CONCURRENCY=4,
 * while two parts in flight keep the upload ahead of the converter.
 */
export const UPLOAD_PART_SIZE = 8 * 1024 * 1024;
export const UPLOAD_QUEUE_SIZE = 2;

/** The configuration the pipeline reads (a Lambda handler builds this from its own environment). */
export type PipelineSettings = Pick<
  Config,
  | 'targetBucket'
  | 'reportBucket'
  | 'reportPrefix'
  | 'strict'
  | 'maxImageType'
  | 'maxFileBytes'
  | 'maxItemBytes'
> &
  /** Connect / idle / answer deadline of each S3 request, and the base of a download's (default 30 s). */
  Partial<Pick<Config, 'ioTimeoutMs'>> &
  /** A download with no byte for this long is aborted and retried (default 60 s). */
  Partial<Pick<Config, 'stallTimeoutMs'>>;

const DEFAULT_STALL_TIMEOUT_MS = 60_000;

/** The object version to convert. */
export interface VersionToConvert {
  bucket: string;
  key: string;
  /** Bare ETag (see normalizeEtag). */
  etag: string;
  /** Convert even when the target already holds this version's output (a reprocess request). */
  force?: boolean;
  /**
   * True when this version cannot have been converted yet (the first attempt at an upload announced
   * by an event): the HEAD on the target that proves idempotence is then skipped.
   */
  fresh?: boolean;
}

export interface PipelineInput {
  s3: S3Client;
  settings: PipelineSettings;
  version: VersionToConvert;
  /** Default: the converter of src/convert/ (loaded on first use). */
  createConverter?: ConverterFactory;
  logger: Logger;
  /**
   * Aborts the work (graceful stop, lost lease, a Lambda about to time out, a stall). A TransientError
   * as the abort reason is what the attempt then fails with.
   */
  signal: AbortSignal;
  /** Called whenever bytes move (downloaded, converted, a part stored): the stall watchdog's heartbeat. */
  progress?: () => void;
  /**
   * Whether another version of this key may have left a report in the report bucket (one report per
   * key). When this version converts cleanly that report no longer describes the key and is removed
   * before the JSON is committed. Absent: assume it may exist (deleting a missing object is harmless,
   * one request).
   */
  hadEarlierReport?: () => Promise<boolean>;
}

/**
 * How the version ended:
 * - done: the JSON is in the target bucket (converted now, or found there from an earlier run);
 * - failed: the file itself is bad (the converter's verdict, final); nothing was left in the target;
 * - skipped: a newer upload replaced this version before it was read;
 * - gone: the source object no longer exists.
 * `converted` is the converter's report when this call converted the file (for metrics).
 */
export interface PipelineResult {
  state: 'done' | 'failed' | 'skipped' | 'gone';
  outcome: FileOutcome;
  converted: ConversionReport | null;
}

/** Why a version ends without a conversion, decided before any byte is written. */
class Superseded extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Superseded';
  }
}

/**
 * Converts one object version. Resolves with a final result; rejects with a TransformerError when the
 * attempt failed in a way the caller must decide on (`retryable`: try again later; otherwise record
 * it as failed). When `signal` aborts, it rejects and nothing is visible in the target.
 */
export async function convertVersion(input: PipelineInput): Promise<PipelineResult> {
  try {
    return await convert(input);
  } catch (err) {
    if (err instanceof Superseded) {
      return { state: 'skipped', outcome: { error: err.message, errorCode: null }, converted: null };
    }
    const { bucket, key, etag } = input.version;
    const e: TransformerError = toTransformerError(err, { bucket, key, etag });
    if (e instanceof ObjectGoneError) {
      const error = `the source object is gone: ${e.message}`;
      return { state: 'gone', outcome: { error, errorCode: e.code }, converted: null };
    }
    throw e;
  }
}

async function convert(input: PipelineInput): Promise<PipelineResult> {
  const { s3, settings, version, signal, logger: log } = input;
  const outputKey = outputKeyFor(version.key);

  // Already converted (crashed after the upload, before the outcome was recorded; or a scan after the
  // ledger was lost): do not redo it.
  if (!version.force && !version.fresh) {
    const existing = await headTarget(s3, settings.targetBucket, outputKey, signal);
    if (existing && existing['source-etag'] === version.etag) {
      log.info('target already holds this version; recording it as done');
      return {
        state: 'done',
        outcome: {
          outputKey,
          itemsWritten: numberOrNull(existing['items-written']),
          itemsRejected: numberOrNull(existing['items-rejected']),
        },
        converted: null,
      };
    }
  }

  const createConverter = input.createConverter ?? (await loadConverter());
  const progress = input.progress ?? (() => {});
  const source = await getSource(s3, version, signal, settings.ioTimeoutMs ?? DEFAULT_IO_TIMEOUT_MS);
  source.on('data', progress);
  const { stream, report, recycle } = createConverter({
    source: version.key,
    strict: settings.strict,
    maxImageType: settings.maxImageType,
    maxBytes: settings.maxFileBytes,
    maxItemBytes: settings.maxItemBytes,
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
  // A stalled download tears everything down through the source's error, like a reset would.
  watchForStall(source, settings.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS);
  const onAbort = () =>
    source.destroy(
      signal.reason instanceof TransientError
        ? signal.reason
        : new TransientError('conversion aborted', { code: 'aborted' }),
    );
  signal.addEventListener('abort', onAbort, { once: true });

  // The key's report is settled before the JSON is committed: once the target holds this version
  // (what the idempotence check above looks for) its report is stored, or an earlier version's removed,
  // so a retry after a failed report write converts again instead of finding the JSON and stopping.
  let reportKey: string | null = null;
  const settleReport = async () => {
    const r = await report;
    if (r.error) return; // a failed file: the upload is aborted, or its output removed below
    const fullReport = { ...r, etag: version.etag, bucket: version.bucket };
    if (r.itemsRejected > 0) reportKey = await putReport(input, fullReport);
    else if (await (input.hadEarlierReport?.() ?? true)) await deleteReport(input);
  };

  const metadata: Record<string, string> = { 'source-etag': version.etag };
  // The item counts are known only at the end: they reach the object's metadata when it is written
  // in one PUT (output under one part); a multipart upload starts before they are known.
  async function* output() {
    for await (const chunk of stream) {
      progress();
      yield chunk as Buffer;
    }
    const r = await report;
    metadata['items-written'] = String(r.itemsWritten);
    metadata['items-rejected'] = String(r.itemsRejected);
  }
  const uploading = uploadOutput(
    {
      s3,
      bucket: settings.targetBucket,
      key: outputKey,
      contentType: 'application/json',
      metadata,
      partSize: UPLOAD_PART_SIZE,
      queueSize: UPLOAD_QUEUE_SIZE,
      signal,
      onPartSent: progress,
      beforeCommit: settleReport,
      recycle,
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
    // A 404 while writing means the target bucket is missing (never that the source is gone): say so.
    // (A report's failure already says which bucket.)
    if (e.object !== null || (e.code !== 'no-such-bucket' && e.code !== 'object-gone')) throw e;
    const { statusCode, serviceCode } = e;
    throw new TransientError(`target bucket: ${e.message}`, {
      code: 'no-such-bucket',
      cause: cause.error,
      statusCode,
      serviceCode,
      object: { bucket: settings.targetBucket, key: outputKey },
    });
  }
  if (rep?.error) {
    // The file fails as a whole: nothing may be visible. A failed stream aborts the upload; if the store
    // completed it anyway (error after the last byte), remove it.
    if (uploaded.status === 'fulfilled') await deleteQuietly(s3, settings.targetBucket, outputKey, log);
    const fullReport = { ...rep, etag: version.etag, bucket: version.bucket };
    const failedReportKey = await putReport(input, fullReport);
    return {
      state: 'failed',
      outcome: {
        error: rep.error.line === null ? rep.error.message : `line ${rep.error.line}: ${rep.error.message}`,
        errorCode: 'bad-file',
        report: fullReport,
        reportKey: failedReportKey,
        bytes: rep.bytes,
        itemsWritten: 0,
        itemsRejected: rep.itemsRejected,
      },
      converted: rep,
    };
  }
  if (uploaded.status === 'rejected') throw toTransformerError(uploaded.reason);
  if (!rep) throw new PermanentError('the converter gave no report');

  const fullReport = { ...rep, etag: version.etag, bucket: version.bucket };
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
    converted: rep,
  };
}

/**
 * GetObject pinned to the version's ETag; another ETag means a newer upload replaced this version. The
 * body must arrive within a deadline scaled to its size (a connection that trickles bytes defeats the
 * idle timeout, not this).
 */
async function getSource(
  s3: S3Client,
  version: VersionToConvert,
  signal: AbortSignal,
  ioTimeoutMs: number,
): Promise<Readable> {
  let res: GetObjectCommandOutput;
  try {
    res = await s3.send(
      new GetObjectCommand({ Bucket: version.bucket, Key: version.key, IfMatch: `"${version.etag}"` }),
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
  if (res.ETag !== undefined && normalizeEtag(res.ETag) !== version.etag) {
    body.destroy();
    throw new Superseded(`superseded: the object now has ETag ${normalizeEtag(res.ETag)} (newer upload)`);
  }
  const deadlineMs = transferDeadlineMs(ioTimeoutMs, res.ContentLength ?? 0);
  const timer = setTimeout(() => {
    body.destroy(
      new TransientError(`download not finished within its deadline of ${deadlineMs} ms`, {
        code: 'timeout',
      }),
    );
  }, deadlineMs);
  body.once('close', () => clearTimeout(timer));
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

/**
 * Uploads a report next to (not among) the products. A failed upload fails the attempt like any
 * failed write (retried when transient): the report is part of the version's outcome.
 */
async function putReport(input: PipelineInput, report: object): Promise<string> {
  const { s3, settings, version } = input;
  const key = reportKeyFor(settings.reportPrefix, version.key);
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: settings.reportBucket,
        Key: key,
        Body: JSON.stringify(report),
        ContentType: 'application/json',
        Metadata: { 'source-etag': version.etag },
      }),
      { abortSignal: input.signal },
    );
    return key;
  } catch (err) {
    throw reportError(err, settings.reportBucket, key, 'storing');
  }
}

/** Removes the key's report left by an earlier version (this one has none); failing fails the attempt. */
async function deleteReport(input: PipelineInput): Promise<void> {
  const { s3, settings, version } = input;
  const key = reportKeyFor(settings.reportPrefix, version.key);
  try {
    await s3.send(new DeleteObjectCommand({ Bucket: settings.reportBucket, Key: key }), {
      abortSignal: input.signal,
    });
  } catch (err) {
    throw reportError(err, settings.reportBucket, key, 'removing the earlier');
  }
}

/**
 * A report write's failure, classified like any S3 error but never "gone": a 404 there means the
 * report bucket is missing, not the source object.
 */
function reportError(err: unknown, bucket: string, key: string, what: string): TransformerError {
  const e = toTransformerError(err);
  const object = { bucket, key };
  const message = `${what} report ${key}: ${e.message}`;
  const { statusCode, serviceCode } = e;
  if (e.code === 'object-gone' || e.code === 'no-such-bucket') {
    return new TransientError(message, {
      code: 'no-such-bucket',
      cause: err,
      statusCode,
      serviceCode,
      object,
    });
  }
  const details = { code: e.code, cause: err, statusCode, serviceCode, object };
  return e.retryable ? new TransientError(message, details) : new PermanentError(message, details);
}

async function deleteQuietly(s3: S3Client, bucket: string, key: string, log: Logger): Promise<void> {
  try {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  } catch (err) {
    log.error({ err: toTransformerError(err), bucket, key }, 'could not remove an object that must not stay');
  }
}

function numberOrNull(value: string | undefined): number | null {
  const n = value === undefined ? Number.NaN : Number(value);
  return Number.isFinite(n) ? n : null;
}
