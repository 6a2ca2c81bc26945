/**
 * The service's error vocabulary, in the spirit of sqs-consumer's `SQSError`: every failure that
 * crosses a module boundary is a TransformerError carrying
 * - `code`: what went wrong, from a small closed set (ErrorCode; the ledger's `error_code`, a metric label);
 * - `retryable`: whether trying again can help (the worker retries with backoff, or records it as final);
 * - `statusCode` and `serviceCode`: the HTTP status and the S3/SQS/system error code, where there is one;
 * - `object`: the bucket, key and ETag being worked on, where known;
 * - `cause`: the original error, for the log (pino's `err` serializer prints the chain).
 * One class per control-flow outcome, with `name` set explicitly so logs and `err.name` checks show
 * the class even after bundling or minification renames it. `toTransformerError` is the one place that
 * turns anything thrown into one of these.
 */

export type ErrorCode =
  /** The input file is not an acceptable catalogue (the converter's verdict). Final. */
  | 'bad-file'
  /** The source object no longer exists (NoSuchKey, or a 404 on the object itself). Final. */
  | 'object-gone'
  /** The bucket does not exist (misnamed, or briefly missing). Retried: an operator can fix it. */
  | 'no-such-bucket'
  /** Not allowed (403, bad or expired credentials). Final. */
  | 'access-denied'
  /** The bucket is in another region than the client's. Final: a configuration mistake. */
  | 'wrong-region'
  /** The store refused the request itself (another 4xx). Final. */
  | 'bad-request'
  /** An event notification that cannot be read. Final for that message. */
  | 'malformed-event'
  /** Throttled (429, SlowDown). Retried. */
  | 'throttled'
  /** The store or the ledger failed on its side (5xx, busy). Retried. */
  | 'unavailable'
  /** A request or transfer took too long. Retried. */
  | 'timeout'
  /** The connection failed (refused, reset, DNS, closed mid-body). Retried. */
  | 'network'
  /** The work was cancelled (graceful stop, lost lease). Retried. */
  | 'aborted'
  /** A file whose conversions kept killing their process (every lease expired). Final. */
  | 'lease-expired'
  /** Anything else: a bug (a ReferenceError, a TypeError) or an error we do not know. Final: retrying hides bugs. */
  | 'internal';

/** The object a failure is about. */
export interface ObjectRef {
  bucket: string;
  key: string;
  /** Bare ETag, when a version is meant. */
  etag?: string;
}

export interface ErrorDetails {
  code?: ErrorCode;
  cause?: unknown;
  statusCode?: number | null;
  serviceCode?: string | null;
  object?: ObjectRef | null;
}

/** Base class: a failure that knows what it is and whether a retry can succeed. */
export class TransformerError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly statusCode: number | null;
  readonly serviceCode: string | null;
  /** Set by the thrower when it knows it, else by toTransformerError from its caller's context. */
  object: ObjectRef | null;
  readonly time: Date;

  constructor(message: string, options: ErrorDetails & { code: ErrorCode; retryable: boolean }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TransformerError';
    this.code = options.code;
    this.retryable = options.retryable;
    this.statusCode = options.statusCode ?? null;
    this.serviceCode = options.serviceCode ?? null;
    this.object = options.object ?? null;
    this.time = new Date();
  }
}

/**
 * The input file itself is unacceptable (not well-formed, wrong root, DOCTYPE, over the size limit,
 * a rejected item in strict mode). Final: the same bytes will fail the same way.
 */
export class ConversionError extends TransformerError {
  /** 1-based line in the (decompressed) input where the problem was found, when known. */
  readonly line: number | null;

  constructor(message: string, line: number | null, cause?: unknown) {
    super(message, { code: 'bad-file', retryable: false, cause });
    this.name = 'ConversionError';
    this.line = line;
  }
}

/** The object named by a ledger row no longer exists (deleted before it was read). Final. */
export class ObjectGoneError extends TransformerError {
  constructor(message: string, details: Omit<ErrorDetails, 'code'> = {}) {
    super(message, { ...details, code: 'object-gone', retryable: false });
    this.name = 'ObjectGoneError';
  }
}

/** A failure that may pass: throttling, 5xx, resets, timeouts, a missing bucket. Retry later. */
export class TransientError extends TransformerError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, { ...details, code: details.code ?? 'unavailable', retryable: true });
    this.name = 'TransientError';
  }
}

/**
 * What converted the file died before giving a verdict (a conversion thread exited). Worth another
 * try, but like a process that dies converting a file, only MAX_ATTEMPTS times: the file itself may be
 * what kills it, and unlike an outage that would not pass with time.
 */
export class ConverterCrashedError extends TransientError {
  constructor(message: string, details: Omit<ErrorDetails, 'code'> = {}) {
    super(message, { ...details, code: 'unavailable' });
    this.name = 'ConverterCrashedError';
  }
}

/** A failure that will not pass by itself: access denied, wrong region, bad request, a bug. */
export class PermanentError extends TransformerError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, { ...details, code: details.code ?? 'internal', retryable: false });
    this.name = 'PermanentError';
  }
}

/**
 * The ledger's schema was migrated by a newer release than this one. Start-up stops (rather than
 * read or write rows whose meaning it does not know); a rolling upgrade finishes, or the newer
 * release is rolled back together with its migrations.
 */
export class LedgerSchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LedgerSchemaError';
  }
}

/** Invalid configuration: startup stops with this one line, which names the variable. */
export class ConfigError extends Error {
  readonly variable: string;

  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

/** Service and system error codes (the SDK's `name`, Node's `code`) by what they mean. */
const SERVICE_CODES: Record<string, ErrorCode> = {
  NoSuchKey: 'object-gone',
  NotFound: 'object-gone',
  NoSuchVersion: 'object-gone',
  NoSuchBucket: 'no-such-bucket',
  AccessDenied: 'access-denied',
  AccessDeniedException: 'access-denied',
  AllAccessDisabled: 'access-denied',
  InvalidAccessKeyId: 'access-denied',
  SignatureDoesNotMatch: 'access-denied',
  ExpiredToken: 'access-denied',
  InvalidToken: 'access-denied',
  PermanentRedirect: 'wrong-region',
  AuthorizationHeaderMalformed: 'wrong-region',
  IllegalLocationConstraintException: 'wrong-region',
  SlowDown: 'throttled',
  Throttling: 'throttled',
  ThrottlingException: 'throttled',
  TooManyRequestsException: 'throttled',
  RequestLimitExceeded: 'throttled',
  ServiceUnavailable: 'unavailable',
  InternalError: 'unavailable',
  // The multipart upload was aborted under us (e.g. after a timeout): start the file again.
  NoSuchUpload: 'unavailable',
  SQLITE_BUSY: 'unavailable',
  SQLITE_LOCKED: 'unavailable',
  // PostgreSQL (SQLSTATE): the server is restarting, failing over, out of connections, or chose this
  // transaction as a deadlock or serialization victim. All pass by themselves.
  '57P01': 'unavailable',
  '57P02': 'unavailable',
  '57P03': 'unavailable',
  '08000': 'unavailable',
  '08001': 'unavailable',
  '08003': 'unavailable',
  '08006': 'unavailable',
  '53300': 'unavailable',
  '40001': 'unavailable',
  '40P01': 'unavailable',
  TimeoutError: 'timeout',
  RequestTimeout: 'timeout',
  RequestTimeoutException: 'timeout',
  RequestTimeTooSkewed: 'timeout',
  ETIMEDOUT: 'timeout',
  ESOCKETTIMEDOUT: 'timeout',
  ECONNRESET: 'network',
  ECONNREFUSED: 'network',
  ECONNABORTED: 'network',
  EPIPE: 'network',
  EAI_AGAIN: 'network',
  ENOTFOUND: 'network',
  EHOSTUNREACH: 'network',
  ENETUNREACH: 'network',
  UND_ERR_SOCKET: 'network',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  ERR_STREAM_PREMATURE_CLOSE: 'network',
  AbortError: 'aborted',
};

const RETRYABLE: ReadonlySet<ErrorCode> = new Set([
  'no-such-bucket',
  'throttled',
  'unavailable',
  'timeout',
  'network',
  'aborted',
]);

export function isRetryable(code: ErrorCode): boolean {
  return RETRYABLE.has(code);
}

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $retryable?: { throttling?: unknown };
}

const asErrorLike = (err: unknown): ErrorLike => (typeof err === 'object' && err !== null ? err : {});
const str = (value: unknown): string => (typeof value === 'string' ? value : '');

/** The HTTP status an AWS SDK error carries; 0 when there is none (network failures, our own errors). */
export function httpStatusOf(err: unknown): number {
  const status = asErrorLike(err).$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : 0;
}

/** The service or system error code: the SDK's error name (NoSuchKey), else Node's `code` (ECONNRESET). */
function serviceCodeOf(err: unknown): string | null {
  const e = asErrorLike(err);
  const name = str(e.name);
  const code = str(e.code);
  if (code in SERVICE_CODES) return code;
  if (name in SERVICE_CODES) return name;
  // fetch (undici) wraps the socket error: TypeError('fetch failed', { cause: { code } }).
  const causeCode = str(asErrorLike(e.cause).code);
  if (causeCode in SERVICE_CODES) return causeCode;
  if (e.$metadata !== undefined && name !== '' && name !== 'Error') return name;
  return code || null;
}

function codeFor(err: unknown, status: number, serviceCode: string | null): ErrorCode {
  const known = serviceCode === null ? undefined : SERVICE_CODES[serviceCode];
  if (known) return known;
  const e = asErrorLike(err);
  if (status === 404) return serviceCode === null ? 'object-gone' : 'bad-request';
  if (status === 429) return 'throttled';
  if (status === 403) return 'access-denied';
  if (status === 301) return 'wrong-region';
  if (status === 408) return 'timeout';
  if (status >= 500 || e.$fault === 'server') return 'unavailable';
  if (e.$retryable !== undefined) return e.$retryable.throttling === true ? 'throttled' : 'unavailable';
  if (status >= 400) return 'bad-request';
  return 'internal';
}

/**
 * Classifies anything thrown by the AWS SDK, Node's network stack, the ledger or our own code into a
 * TransformerError, like sqs-consumer's `toSQSError`: the one place that decides retry vs final.
 * `object` names what was being worked on (a TransformerError keeps its own, or gets this one). An error nobody recognises is `internal` and final: a ReferenceError retried five times
 * is a bug hidden, not an outage ridden out.
 */
export function toTransformerError(err: unknown, object?: ObjectRef): TransformerError {
  if (err instanceof TransformerError) {
    err.object ??= object ?? null;
    return err;
  }
  const e = asErrorLike(err);
  const message = str(e.message) || String(err);
  const statusCode = httpStatusOf(err) || null;
  const serviceCode = serviceCodeOf(err);
  const code = codeFor(err, statusCode ?? 0, serviceCode);
  const details = { code, cause: err, statusCode, serviceCode, object: object ?? null };
  if (code === 'object-gone') return new ObjectGoneError(message || 'object not found', details);
  return isRetryable(code) ? new TransientError(message, details) : new PermanentError(message, details);
}

/** The error as the ledger and the API keep it: its message and code. */
export function errorRecord(err: TransformerError): { error: string; errorCode: ErrorCode } {
  return { error: err.message, errorCode: err.code };
}
