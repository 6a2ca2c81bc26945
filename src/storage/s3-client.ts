import { S3Client } from '@aws-sdk/client-s3';
import type { S3Settings } from '../config/types.js';

/** Default for IO_TIMEOUT_SECONDS: connect, socket idle, and wait for an answer, per request. */
export const DEFAULT_IO_TIMEOUT_MS = 30_000;

/**
 * The slowest transfer rate a request may keep before it counts as stalled: a request moving `bytes`
 * may take `ioTimeout + bytes / MIN_TRANSFER_BYTES_PER_SECOND`. 1 MiB/s is far below any healthy link to
 * S3 (a 1 GB download may take 17 min), so only a connection that trickles is cut.
 */
export const MIN_TRANSFER_BYTES_PER_SECOND = 1024 * 1024;

/** The deadline of a request that moves `bytes` (a GetObject body, an UploadPart). */
export function transferDeadlineMs(ioTimeoutMs: number, bytes: number): number {
  return ioTimeoutMs + Math.ceil((Math.max(0, bytes) / MIN_TRANSFER_BYTES_PER_SECOND) * 1000);
}

/**
 * The one place S3 clients are made. Settings that matter for every S3-compatible store we meet:
 * - forcePathStyle: s3rver, MinIO and fauxqs do not resolve `<bucket>.host` names;
 * - checksums only when required: otherwise a streamed PutObject/UploadPart is sent aws-chunked with a
 *   trailing CRC, which s3rver stores verbatim (framing inside the object);
 * - the SDK's own retries stay small (3 attempts, for blips inside one request); the ledger's
 *   backoff is the real retry, because it survives restarts and is visible;
 * - every request has deadlines (issue: a socket that stopped moving bytes mid-body hung a conversion
 *   for 7 min with its lease renewed): connecting, the socket idle (no byte either way, also while a
 *   body streams), and the whole exchange up to the answer's head. A request whose body is large gets
 *   its own deadline scaled to its size (`transferDeadlineMs`) from the caller.
 */
export function createS3Client(settings: S3Settings): S3Client {
  const io = settings.ioTimeoutMs ?? DEFAULT_IO_TIMEOUT_MS;
  return new S3Client({
    region: settings.region,
    endpoint: settings.endpoint,
    credentials: settings.credentials,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: {
      connectionTimeout: Math.min(io, 10_000),
      socketTimeout: io,
      // Up to the response head; with throwOnRequestTimeout the SDK errors instead of only warning.
      requestTimeout: io + Math.ceil(UPLOAD_PART_BYTES_BOUND / MIN_TRANSFER_BYTES_PER_SECOND) * 1000,
      throwOnRequestTimeout: true,
    },
  });
}

/** Largest request body the service sends in one request (an output part, 8 MiB; reports are smaller). */
const UPLOAD_PART_BYTES_BOUND = 8 * 1024 * 1024;
