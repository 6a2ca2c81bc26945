import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import {
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_IMAGE_TYPE,
  DEFAULT_MAX_ITEM_BYTES,
  MAX_IMAGE_TYPE_LIMIT,
} from '../convert/types.js';
import { ConfigError } from '../errors.js';
import {
  defaultConvertThreads,
  isLoopback,
  parseBoolean,
  parseBucket,
  parseBytes,
  parseConvertThreads,
  parseCron,
  parseDatabaseUrl,
  parseInteger,
  parseIntervalHours,
  parseLogLevel,
  parsePositiveNumber,
  parseSuffixes,
  parseUrl,
  redactDatabaseUrl,
} from './parse.js';
import type { Config, S3Settings, Schedule } from './types.js';

export type Env = Record<string, string | undefined>;

export interface LoadConfigOptions {
  /** Defaults to process.env. */
  env?: Env;
  /** A dotenv file; its values never override `env`. Default `.env` in the working directory. */
  envFile?: string | null;
  /** Resolves a relative DATA_DIR. Default the working directory. */
  cwd?: string;
}

/** The embedded default's buckets (the predecessor's names). */
export const EMBEDDED_SOURCE_BUCKET = 'xml-bucket';
export const EMBEDDED_TARGET_BUCKET = 'json-bucket';

/**
 * Canonical variable → the names also accepted, in order. Lowercase aliases are the predecessor's
 * `.env` keys; AWS_ENDPOINT_URL_S3 is the SDK's own variable for an S3 endpoint.
 */
const ALIASES: Record<string, string[]> = {
  SOURCE_BUCKET: ['clients_xml_bucket'],
  TARGET_BUCKET: ['app_json_bucket'],
  SCAN_INTERVAL_HOURS: ['number_of_hours'],
  AWS_REGION: ['aws_region'],
  AWS_ACCESS_KEY_ID: ['aws_access_key_id'],
  AWS_SECRET_ACCESS_KEY: ['aws_secret_access_key'],
  S3_ENDPOINT: ['AWS_ENDPOINT_URL_S3'],
};

/** Merges a dotenv file under the real environment (real variables win, as dotenv does). */
function readEnv(options: LoadConfigOptions): Env {
  const env = options.env ?? process.env;
  const file =
    options.envFile === undefined ? resolve(options.cwd ?? process.cwd(), '.env') : options.envFile;
  if (file === null || !existsSync(file)) return { ...env };
  const fromFile = parseDotenv(readFileSync(file));
  const merged: Env = { ...fromFile };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) merged[k] = v;
  return merged;
}

/** Reads a variable or its first alias that is set; blank counts as unset. */
function lookup(env: Env, name: string): { name: string; value: string } | undefined {
  for (const key of [name, ...(ALIASES[name] ?? [])]) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') return { name: key, value };
  }
  return undefined;
}

/**
 * Builds and validates the configuration. Throws ConfigError (one line: variable and expectation) on
 * the first wrong value; `serve` prints that line and exits.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = readEnv(options);
  const get = (name: string) => lookup(env, name);
  const opt = <T>(name: string, parse: (n: string, v: string) => T, fallback: T): T => {
    const found = get(name);
    return found ? parse(found.name, found.value) : fallback;
  };
  const str = (name: string): string | undefined => get(name)?.value.trim();

  const sourceBucketVar = get('SOURCE_BUCKET');
  const targetBucketVar = get('TARGET_BUCKET');
  const endpointVar = get('S3_ENDPOINT');
  const embedded = !sourceBucketVar && !targetBucketVar && !endpointVar;

  const sourceBucket = sourceBucketVar
    ? parseBucket(sourceBucketVar.name, sourceBucketVar.value)
    : embedded || endpointVar
      ? EMBEDDED_SOURCE_BUCKET
      : missing('SOURCE_BUCKET');
  const targetBucket = targetBucketVar
    ? parseBucket(targetBucketVar.name, targetBucketVar.value)
    : embedded || endpointVar
      ? EMBEDDED_TARGET_BUCKET
      : missing('TARGET_BUCKET');
  if (sourceBucket === targetBucket) {
    throw new ConfigError(
      targetBucketVar?.name ?? 'TARGET_BUCKET',
      `expected a bucket different from the source bucket ${JSON.stringify(sourceBucket)} (the source is never written to)`,
    );
  }

  const embeddedS3Port = opt('EMBEDDED_S3_PORT', (n, v) => parseInteger(n, v, 0, 65535), 4566);
  const host = str('HOST') ?? '127.0.0.1';
  const ioTimeoutMs = opt('IO_TIMEOUT_SECONDS', (n, v) => parsePositiveNumber(n, v, 3600), 30) * 1000;
  const s3 = { ...s3Settings(get, embedded), ioTimeoutMs };

  const config: Config = {
    embedded,
    s3,
    sourceBucket,
    sourcePrefix: get('SOURCE_PREFIX')?.value ?? '',
    sourceSuffixes: opt('SOURCE_SUFFIXES', parseSuffixes, ['.xml', '.xml.gz']),
    targetBucket,
    reportBucket: opt('REPORT_BUCKET', parseBucket, targetBucket),
    reportPrefix: get('REPORT_PREFIX')?.value ?? '_reports/',
    schedule: schedule(get),
    port: opt('PORT', (n, v) => parseInteger(n, v, 0, 65535), 8000),
    host,
    dataDir: resolve(options.cwd ?? process.cwd(), str('DATA_DIR') ?? './data'),
    databaseUrl: opt('DATABASE_URL', parseDatabaseUrl, undefined as string | undefined),
    databasePoolSize: opt('DATABASE_POOL_SIZE', (n, v) => parseInteger(n, v, 1, 100), 10),
    concurrency: opt('CONCURRENCY', (n, v) => parseInteger(n, v, 1, 256), 4),
    convertThreads: opt('CONVERT_THREADS', parseConvertThreads, defaultConvertThreads()),
    maxAttempts: opt('MAX_ATTEMPTS', (n, v) => parseInteger(n, v, 1, 100), 5),
    strict: opt('STRICT', parseBoolean, false),
    maxImageType: opt(
      'MAX_IMAGE_TYPE',
      (n, v) => parseInteger(n, v, 1, MAX_IMAGE_TYPE_LIMIT),
      DEFAULT_MAX_IMAGE_TYPE,
    ),
    maxFileBytes: opt('MAX_FILE_BYTES', parseBytes, DEFAULT_MAX_BYTES),
    maxItemBytes: opt('MAX_ITEM_BYTES', parseBytes, DEFAULT_MAX_ITEM_BYTES),
    apiToken: str('API_TOKEN'),
    logLevel: opt('LOG_LEVEL', parseLogLevel, 'info'),
    embeddedS3Port,
    sqsQueueUrl: opt('SQS_QUEUE_URL', parseUrl, undefined as string | undefined),
    sqsEndpoint: opt('SQS_ENDPOINT', parseUrl, undefined as string | undefined),
    embeddedSqsPort: opt('EMBEDDED_SQS_PORT', (n, v) => parseInteger(n, v, 0, 65535), 4576),
    events: opt('EVENTS', parseBoolean, true),
    leaseMs: opt('LEASE_SECONDS', (n, v) => parsePositiveNumber(n, v, 86_400), 60) * 1000,
    stallTimeoutMs: opt('STALL_TIMEOUT_SECONDS', (n, v) => parsePositiveNumber(n, v, 3600), 60) * 1000,
    retryBaseMs: opt('RETRY_BASE_SECONDS', (n, v) => parsePositiveNumber(n, v, 3600), 1) * 1000,
    retryMaxMs: opt('RETRY_MAX_SECONDS', (n, v) => parsePositiveNumber(n, v, 86_400), 300) * 1000,
    retryForMs: opt('RETRY_FOR_HOURS', (n, v) => parsePositiveNumber(n, v, 24 * 30), 24) * 3_600_000,
    ioTimeoutMs,
    webhookVersionsPerSecond: opt(
      'WEBHOOK_VERSIONS_PER_SECOND',
      (n, v) => parsePositiveNumber(n, v, 100_000),
      20,
    ),
    pollMs: 5000,
  };
  if (config.reportBucket === config.sourceBucket) {
    throw new ConfigError(
      'REPORT_BUCKET',
      `expected a bucket different from the source bucket ${JSON.stringify(sourceBucket)} (the source is never written to)`,
    );
  }
  if (config.apiToken !== undefined && config.apiToken.length < 8) {
    throw new ConfigError('API_TOKEN', 'expected at least 8 characters (value hidden)');
  }
  // Refused here, before anything starts (embedded S3, the sample, a catch-up scan), not at listen().
  if (config.apiToken === undefined && !isLoopback(host)) {
    throw new ConfigError(
      'API_TOKEN',
      `expected a token (8+ characters) because HOST=${host} exposes the API beyond this machine ` +
        '(mutating calls then need Authorization: Bearer <API_TOKEN>), or set HOST=127.0.0.1',
    );
  }
  return config;
}

function missing(name: string): never {
  throw new ConfigError(
    name,
    'expected a bucket name: set SOURCE_BUCKET and TARGET_BUCKET together (or neither, for the embedded default)',
  );
}

function schedule(get: (name: string) => { name: string; value: string } | undefined): Schedule {
  const hours = get('SCAN_INTERVAL_HOURS');
  const cron = get('SCAN_CRON');
  if (hours && cron) {
    throw new ConfigError(cron.name, `expected either ${hours.name} or SCAN_CRON, not both`);
  }
  if (cron) return { cron: parseCron(cron.name, cron.value) };
  if (hours) return { intervalHours: parseIntervalHours(hours.name, hours.value) };
  return { intervalHours: 3 };
}

function s3Settings(
  get: (name: string) => { name: string; value: string } | undefined,
  embedded: boolean,
): S3Settings {
  const region = get('AWS_REGION')?.value.trim() ?? 'us-east-1';
  const endpointVar = get('S3_ENDPOINT');
  const endpoint = endpointVar ? parseUrl(endpointVar.name, endpointVar.value) : undefined;
  const keyId = get('AWS_ACCESS_KEY_ID');
  const secret = get('AWS_SECRET_ACCESS_KEY');
  if (keyId && !secret) {
    throw new ConfigError('AWS_SECRET_ACCESS_KEY', `expected a value because ${keyId.name} is set`);
  }
  if (secret && !keyId) {
    throw new ConfigError('AWS_ACCESS_KEY_ID', `expected a value because ${secret.name} is set`);
  }
  // Temporary credentials (an AWS Lambda function's, an assumed role's) come with a session token.
  const sessionToken = get('AWS_SESSION_TOKEN')?.value.trim();
  const credentials =
    keyId && secret
      ? {
          accessKeyId: keyId.value.trim(),
          secretAccessKey: secret.value.trim(),
          ...(sessionToken ? { sessionToken } : {}),
        }
      : embedded
        ? { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }
        : undefined;
  return { region, endpoint, credentials };
}

/** A URL as safe to log: a password (or user) written into it (`http://user:secret@host`) is hidden. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1[redacted]@');
}

/** The configuration as safe to log: secrets replaced by whether they are set. */
export function redactedConfig(config: Config): Record<string, unknown> {
  const { apiToken, s3, databaseUrl, sqsQueueUrl, sqsEndpoint, ...rest } = config;
  return {
    ...rest,
    apiToken: apiToken ? '[set]' : '[unset]',
    databaseUrl: databaseUrl ? redactDatabaseUrl(databaseUrl) : '(SQLite in dataDir)',
    sqsQueueUrl: sqsQueueUrl === undefined ? undefined : redactUrl(sqsQueueUrl),
    sqsEndpoint: sqsEndpoint === undefined ? undefined : redactUrl(sqsEndpoint),
    s3: {
      region: s3.region,
      endpoint: s3.endpoint === undefined ? '(AWS)' : redactUrl(s3.endpoint),
      ioTimeoutMs: s3.ioTimeoutMs,
      credentials: s3.credentials
        ? { accessKeyId: s3.credentials.accessKeyId, secretAccessKey: '[redacted]' }
        : '(SDK default chain)',
    },
  };
}
