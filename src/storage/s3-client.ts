import { S3Client } from '@aws-sdk/client-s3';
import { isLoopback } from '../config/parse.js';
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
 *   its own deadline scaled to its size (`transferDeadlineMs`) from the caller;
 * - uploads are not hashed for the signature where the link protects them (`unsignedUploads`).
 */
export function createS3Client(settings: S3Settings): S3Client {
  const io = settings.ioTimeoutMs ?? DEFAULT_IO_TIMEOUT_MS;
  const client = new S3Client({
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
  if (linkProtectsPayload(settings.endpoint)) unsignedUploads(client);
  return client;
}

/** Commands that carry the output's bytes: the service's only large request bodies. */
const UPLOAD_COMMANDS = new Set(['PutObjectCommand', 'UploadPartCommand']);
const CONTENT_SHA256 = 'x-amz-content-sha256';

/**
 * Signs uploads with `UNSIGNED-PAYLOAD` instead of the body's sha256. SigV4 otherwise hashes every
 * Buffer body before sending it: for a 1 GB catalogue that is ~600 MB of JSON hashed on the service's
 * main thread (~0.6 CPU s per GB in a profile of `bench:service`), for an integrity check that TLS
 * already gives (the SDK itself sends streamed bodies unsigned over HTTPS). The header set here is
 * what the signer uses as the payload hash, so the signature still covers everything else.
 */
function unsignedUploads(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string> } | undefined;
      if (request?.headers && UPLOAD_COMMANDS.has(context.commandName ?? '')) {
        request.headers[CONTENT_SHA256] = 'UNSIGNED-PAYLOAD';
      }
      return next(args);
    },
    { step: 'build', name: 'fileTransformerUnsignedUploads', override: true },
  );
}

/**
 * Whether the connection itself protects the bytes in transit: HTTPS (AWS's default endpoint included),
 * or plain HTTP to this machine (the embedded s3rver, a test server), where there is no wire to guard.
 */
export function linkProtectsPayload(endpoint: string | undefined): boolean {
  if (endpoint === undefined) return true;
  const url = new URL(endpoint);
  // URL keeps an IPv6 literal in brackets ([::1]); isLoopback takes the bare address.
  return url.protocol === 'https:' || isLoopback(url.hostname.replace(/^\[(.*)\]$/, '$1'));
}

/** Largest request body the service sends in one request (an output part, 8 MiB; reports are smaller). */
const UPLOAD_PART_BYTES_BOUND = 8 * 1024 * 1024;
