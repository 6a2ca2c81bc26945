/**
 * The service's error vocabulary. Every failure that crosses a module boundary is one of these, and
 * each says whether trying again can help: the worker retries `retryable` errors with backoff and
 * records the others as final. `name` is set explicitly so `instanceof`-free checks (and logs) survive
 * transpilation and bundling, as bullmq does.
 */

/** Base class: a failure that knows whether a retry can succeed. */
export class TransformerError extends Error {
  readonly retryable: boolean;

  constructor(message: string, options: { retryable: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = 'TransformerError';
    this.retryable = options.retryable;
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
    super(message, { retryable: false, cause });
    this.name = 'ConversionError';
    this.line = line;
  }
}

/** The object named by a ledger row no longer exists (deleted before it was read). Final. */
export class ObjectGoneError extends TransformerError {
  constructor(message: string, cause?: unknown) {
    super(message, { retryable: false, cause });
    this.name = 'ObjectGoneError';
  }
}

/** A storage or network failure that may pass: throttling, 5xx, resets, timeouts. Retry later. */
export class TransientError extends TransformerError {
  constructor(message: string, cause?: unknown) {
    super(message, { retryable: true, cause });
    this.name = 'TransientError';
  }
}

/** A failure that will not pass by itself: access denied, missing bucket, bad request. */
export class PermanentError extends TransformerError {
  constructor(message: string, cause?: unknown) {
    super(message, { retryable: false, cause });
    this.name = 'PermanentError';
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

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ServiceUnavailable',
  'InternalError',
]);

const GONE_CODES = new Set(['NoSuchKey', 'NotFound', 'NoSuchVersion']);

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $retryable?: unknown;
}

/** The HTTP status an AWS SDK error carries; 0 when there is none (network failures, our own errors). */
export function httpStatusOf(err: unknown): number {
  const status = (err as ErrorLike | null | undefined)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : 0;
}

/**
 * Classifies anything thrown by the AWS SDK, Node's network stack or our own code into a
 * TransformerError, like sqs-consumer's `toSQSError`: the one place that decides retry vs final.
 */
export function toTransformerError(err: unknown): TransformerError {
  if (err instanceof TransformerError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as ErrorLike;
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : String(err);
  const status = httpStatusOf(err);

  if (GONE_CODES.has(name) || GONE_CODES.has(code) || status === 404) {
    return new ObjectGoneError(message || 'object not found', err);
  }
  if (
    TRANSIENT_CODES.has(name) ||
    TRANSIENT_CODES.has(code) ||
    e.$retryable !== undefined ||
    status === 429 ||
    status >= 500 ||
    name === 'AbortError'
  ) {
    return new TransientError(message, err);
  }
  // Errors with no HTTP status are network-level failures (socket closed mid-body and the like).
  if (status === 0 && !(err instanceof TypeError) && !(err instanceof RangeError)) {
    return new TransientError(message, err);
  }
  return new PermanentError(message, err);
}
