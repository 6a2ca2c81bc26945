import { S3Client } from '@aws-sdk/client-s3';
import type { S3Settings } from '../config/types.js';

/**
 * The one place S3 clients are made. Settings that matter for every S3-compatible store we meet:
 * - forcePathStyle: s3rver, MinIO and fauxqs do not resolve `<bucket>.host` names;
 * - checksums only when required: otherwise a streamed PutObject/UploadPart is sent aws-chunked with a
 *   trailing CRC, which s3rver stores verbatim (framing inside the object);
 * - the SDK's own retries stay small (3 attempts, for blips inside one request); the ledger's
 *   backoff is the real retry, because it survives restarts and is visible.
 */
export function createS3Client(settings: S3Settings): S3Client {
  return new S3Client({
    region: settings.region,
    endpoint: settings.endpoint,
    credentials: settings.credentials,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 10_000 },
  });
}
