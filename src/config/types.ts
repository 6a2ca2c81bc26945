/** The service's validated configuration (built by `loadConfig`; see docs/configuration.md). */

import type { Schedule } from '../contracts.js';

export type { Schedule } from '../contracts.js';

export interface S3Settings {
  region: string;
  /** Custom S3-compatible endpoint (s3rver, MinIO, fauxqs); undefined = AWS. */
  endpoint?: string;
  /** Static credentials; undefined = the SDK's default provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Connect / idle-socket / answer deadline of each request (IO_TIMEOUT_SECONDS); default 30 s. */
  ioTimeoutMs?: number;
}

export interface Config {
  /** No bucket and no endpoint configured: run s3rver (and the embedded queue) ourselves. */
  embedded: boolean;
  s3: S3Settings;
  sourceBucket: string;
  /** Only keys under this prefix are scanned ('' = all). */
  sourcePrefix: string;
  /** Keys must end with one of these (case-sensitive); empty array = every key. */
  sourceSuffixes: string[];
  targetBucket: string;
  reportBucket: string;
  reportPrefix: string;
  schedule: Schedule;
  port: number;
  host: string;
  /** Absolute path; the ledger and the embedded S3 data live here. */
  dataDir: string;
  /** PostgreSQL ledger shared by many instances (postgres://…); unset = SQLite in dataDir. */
  databaseUrl?: string;
  /** Connections one instance opens to PostgreSQL at most. */
  databasePoolSize: number;
  concurrency: number;
  /** Worker threads converting files (one file each at a time); 0 = on the main thread. */
  convertThreads: number;
  maxAttempts: number;
  strict: boolean;
  maxImageType: number;
  maxFileBytes: number;
  /** Largest accepted item (FORMAT.md item size limit); bounds the converter's memory per file. */
  maxItemBytes: number;
  apiToken?: string;
  logLevel: string;
  embeddedS3Port: number;
  sqsQueueUrl?: string;
  sqsEndpoint?: string;
  embeddedSqsPort: number;
  /** Event ingestion on (SQS / embedded queue / webhook) or off (scan only). */
  events: boolean;
  /** A download that delivers no byte for this long is aborted and retried. */
  stallTimeoutMs: number;
  /** How long a claimed row stays ours without renewal; a crashed worker's rows come back after it. */
  leaseMs: number;
  /** Retry backoff: full jitter over min(cap, base * 2^(attempt-1)). */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Transient failures are retried until this long after the first of them (RETRY_FOR_HOURS). */
  retryForMs: number;
  /** Connect / idle-socket / answer deadline of every S3 and SQS request (IO_TIMEOUT_SECONDS). */
  ioTimeoutMs: number;
  /** Object versions the webhook records per second, sustained (WEBHOOK_VERSIONS_PER_SECOND). */
  webhookVersionsPerSecond: number;
  /** Fallback poll when no wake-up arrives (backoff timers and expired leases are also timed exactly). */
  pollMs: number;
}
