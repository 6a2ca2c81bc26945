import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type App, type AppOptions, startApp } from '../../src/app/index.js';
import { loadConfig } from '../../src/config/index.js';
import type { Config } from '../../src/config/types.js';
import { type FileRecord, type FileState, normalizeEtag } from '../../src/ledger/types.js';
import { createLogger } from '../../src/log.js';
import { createS3Client } from '../../src/storage/s3-client.js';
import { S3RVER_CREDENTIALS } from './s3rver.js';

export interface TestServiceOptions {
  /** S3 endpoint of a server the test started (s3rver or fauxqs). */
  endpoint: string;
  sourceBucket?: string;
  targetBucket?: string;
  /** Extra environment variables (names as in docs/configuration.md). */
  env?: Record<string, string>;
  /** Reuse a data directory (restart scenarios); default a fresh temp dir, removed by close(). */
  dataDir?: string;
  deps?: AppOptions;
  /** Settings no variable reaches (the poll interval), over what the environment gives. */
  config?: Partial<Config>;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface TestService {
  service: App;
  config: Config;
  dataDir: string;
  /** A client for the test's own uploads and reads (same settings as the service's). */
  s3: S3Client;
  /** Stops the service; removes the data dir if the helper created it. */
  close(): Promise<void>;
}

/** Builds a service configuration on a test S3 server, as `serve` would from the environment. */
export function testConfig(options: TestServiceOptions, dataDir: string): Config {
  const creds = options.credentials ?? S3RVER_CREDENTIALS;
  return loadConfig({
    envFile: null,
    env: {
      S3_ENDPOINT: options.endpoint,
      SOURCE_BUCKET: options.sourceBucket ?? 'xml-bucket',
      TARGET_BUCKET: options.targetBucket ?? 'json-bucket',
      AWS_ACCESS_KEY_ID: creds.accessKeyId,
      AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
      DATA_DIR: dataDir,
      EVENTS: 'off',
      LOG_LEVEL: 'warn',
      RETRY_BASE_SECONDS: '0.05',
      RETRY_MAX_SECONDS: '0.2',
      ...options.env,
    },
  });
}

/** Starts a service (not its API) on a temp data dir against the given S3 endpoint. */
export async function startTestService(options: TestServiceOptions): Promise<TestService> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'ft-service-')));
  const config = { ...testConfig(options, dataDir), ...options.config };
  const service = await startApp(config, { logger: createLogger(config.logLevel), ...options.deps });
  const s3 = createS3Client(config.s3);
  return {
    service,
    config,
    dataDir,
    s3,
    async close() {
      await service.stop({ graceMs: 2000 });
      s3.destroy();
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` returns a truthy value (or throws after `timeoutMs`). */
export async function waitFor<T>(
  check: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the latest version of `key` reaches one of `states`; returns its row. */
export async function waitForFile(
  service: Pick<App, 'getFileVersions'>,
  key: string,
  states: FileState[] = ['done', 'failed', 'gone', 'skipped'],
  timeoutMs = 30_000,
): Promise<FileRecord> {
  return waitFor(
    async () => {
      const [latest] = await service.getFileVersions(key);
      return latest && states.includes(latest.state) ? latest : null;
    },
    timeoutMs,
    `${key} to reach ${states.join('/')}`,
  );
}

export async function putObject(
  s3: S3Client,
  bucket: string,
  key: string,
  body: string | Buffer,
  metadata?: Record<string, string>,
): Promise<string> {
  const res = await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: metadata }),
  );
  return normalizeEtag(res.ETag ?? '');
}

export async function getText(s3: S3Client, bucket: string, key: string): Promise<string> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return res.Body!.transformToString();
}

export async function getObjectWithMetadata(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<{ body: string; metadata: Record<string, string> }> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return { body: await res.Body!.transformToString(), metadata: res.Metadata ?? {} };
}
