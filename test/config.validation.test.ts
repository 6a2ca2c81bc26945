import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, redactedConfig } from '../src/config/index.js';
import { ConfigError } from '../src/errors.js';

const load = (env: Record<string, string>) => loadConfig({ env, envFile: null, cwd: '/srv/app' });

function errorOf(env: Record<string, string>): ConfigError {
  try {
    load(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('runs on embedded defaults when no bucket and no endpoint are set', () => {
    const c = load({});
    expect(c.embedded).toBe(true);
    expect(c.sourceBucket).toBe('xml-bucket');
    expect(c.targetBucket).toBe('json-bucket');
    expect(c.reportBucket).toBe('json-bucket');
    expect(c.reportPrefix).toBe('_reports/');
    expect(c.schedule).toEqual({ intervalHours: 3 });
    expect(c.port).toBe(8000);
    expect(c.host).toBe('127.0.0.1');
    expect(c.dataDir).toBe('/srv/app/data');
    expect(c.sourceSuffixes).toEqual(['.xml', '.xml.gz']);
    expect(c.concurrency).toBe(4);
    expect(c.convertThreads).toBe(availableParallelism());
    expect(c.maxAttempts).toBe(5);
    expect(c.embeddedS3Port).toBe(4566);
    expect(c.embeddedSqsPort).toBe(4576);
    expect(c.events).toBe(true);
    expect(c.s3.credentials).toEqual({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
  });

  it("accepts the predecessor's .env keys as aliases", () => {
    const c = load({
      clients_xml_bucket: 'partner-xml',
      app_json_bucket: 'shop-json',
      number_of_hours: '6',
      aws_region: 'eu-west-1',
      aws_access_key_id: 'AKIAEXAMPLE',
      aws_secret_access_key: 'secret-value',
    });
    expect(c.embedded).toBe(false);
    expect(c.sourceBucket).toBe('partner-xml');
    expect(c.targetBucket).toBe('shop-json');
    expect(c.schedule).toEqual({ intervalHours: 6 });
    expect(c.s3).toEqual({
      region: 'eu-west-1',
      endpoint: undefined,
      credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret-value' },
      ioTimeoutMs: 30_000,
    });
  });

  it("takes the SDK's AWS_ENDPOINT_URL_S3 as the endpoint and leaves credentials to the SDK chain", () => {
    const c = load({
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000/',
      SOURCE_BUCKET: 'in-xml',
      TARGET_BUCKET: 'out-json',
    });
    expect(c.s3.endpoint).toBe('http://127.0.0.1:9000');
    expect(c.s3.credentials).toBeUndefined();
    expect(c.embedded).toBe(false);
  });

  it('reads a .env file without overriding the real environment', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ft-config-'));
    try {
      const file = join(dir, '.env');
      await writeFile(file, 'clients_xml_bucket=from-file\napp_json_bucket=json-from-file\nCONCURRENCY=7\n');
      const c = loadConfig({ env: { CONCURRENCY: '2' }, envFile: file, cwd: dir });
      expect(c.sourceBucket).toBe('from-file');
      expect(c.targetBucket).toBe('json-from-file');
      expect(c.concurrency).toBe(2);
      expect(c.dataDir).toBe(join(dir, 'data'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('parses the remaining knobs', () => {
    const c = load({
      SCAN_CRON: '0 */2 * * *',
      SOURCE_SUFFIXES: '.xml, .XML ,.xml.gz',
      SOURCE_PREFIX: 'incoming/',
      STRICT: 'yes',
      MAX_FILE_BYTES: '512MiB',
      MAX_ITEM_BYTES: '1MiB',
      REPORT_BUCKET: 'reports',
      REPORT_PREFIX: 'r/',
      EVENTS: 'off',
      LOG_LEVEL: 'DEBUG',
    });
    expect(c.schedule).toEqual({ cron: '0 */2 * * *' });
    expect(c.sourceSuffixes).toEqual(['.xml', '.XML', '.xml.gz']);
    expect(c.sourcePrefix).toBe('incoming/');
    expect(c.strict).toBe(true);
    expect(c.maxFileBytes).toBe(512 * 1024 * 1024);
    expect(c.maxItemBytes).toBe(1024 * 1024);
    expect(load({}).maxItemBytes).toBe(16 * 1024 * 1024);
    expect(c.reportBucket).toBe('reports');
    expect(c.reportPrefix).toBe('r/');
    expect(c.events).toBe(false);
    expect(c.logLevel).toBe('debug');
    expect(load({ SOURCE_SUFFIXES: '*' }).sourceSuffixes).toEqual([]);
  });

  const bad: [Record<string, string>, string, RegExp][] = [
    [{ number_of_hours: 'often' }, 'number_of_hours', /number greater than 0/],
    [{ SCAN_INTERVAL_HOURS: '0' }, 'SCAN_INTERVAL_HOURS', /greater than 0/],
    [{ SCAN_CRON: 'every tuesday' }, 'SCAN_CRON', /cron expression/],
    [{ SCAN_CRON: '0 * * * *', SCAN_INTERVAL_HOURS: '2' }, 'SCAN_CRON', /not both/],
    [{ PORT: '80000' }, 'PORT', /whole number from 0 to 65535/],
    [{ CONCURRENCY: '2.5' }, 'CONCURRENCY', /whole number/],
    [{ CONVERT_THREADS: 'all' }, 'CONVERT_THREADS', /whole number from 0 to 256/],
    [{ CONVERT_THREADS: '-1' }, 'CONVERT_THREADS', /whole number from 0 to 256/],
    [{ MAX_ATTEMPTS: '0' }, 'MAX_ATTEMPTS', /from 1 to 100/],
    [{ STRICT: 'maybe' }, 'STRICT', /on\/off/],
    [{ MAX_FILE_BYTES: 'huge' }, 'MAX_FILE_BYTES', /size in bytes/],
    [{ MAX_ITEM_BYTES: '0' }, 'MAX_ITEM_BYTES', /size in bytes/],
    [{ S3_ENDPOINT: 'localhost:4566' }, 'S3_ENDPOINT', /http\(s\) URL/],
    [{ SOURCE_BUCKET: 'Bad_Bucket', TARGET_BUCKET: 'out-json' }, 'SOURCE_BUCKET', /bucket name/],
    [{ SOURCE_BUCKET: 'only-source' }, 'TARGET_BUCKET', /bucket name/],
    [{ SOURCE_BUCKET: 'same', TARGET_BUCKET: 'same' }, 'TARGET_BUCKET', /different from the source/],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /one of/],
    [{ REPORT_BUCKET: 'xml-bucket' }, 'REPORT_BUCKET', /different from the source/],
    [{ EVENTS: 'sometimes' }, 'EVENTS', /on\/off/],
    [{ SOURCE_SUFFIXES: ' , ' }, 'SOURCE_SUFFIXES', /comma-separated/],
    [{ AWS_ACCESS_KEY_ID: 'AKIA' }, 'AWS_SECRET_ACCESS_KEY', /expected a value/],
    // Refused with the configuration, before the embedded S3, the sample upload or a scan start.
    [{ HOST: '0.0.0.0' }, 'API_TOKEN', /HOST=0\.0\.0\.0/],
    [{ IO_TIMEOUT_SECONDS: '0' }, 'IO_TIMEOUT_SECONDS', /greater than 0/],
    [{ STALL_TIMEOUT_SECONDS: 'soon' }, 'STALL_TIMEOUT_SECONDS', /greater than 0/],
  ];
  it.each(bad)('rejects %j naming %s in one line', (env, variable, expectation) => {
    const err = errorOf(env);
    expect(err.variable).toBe(variable);
    expect(err.message.startsWith(`${variable}: expected`)).toBe(true);
    expect(err.message).toMatch(expectation);
    expect(err.message).not.toContain('\n');
  });

  it('hides credentials written into endpoint URLs when the configuration is logged', () => {
    const c = load({
      S3_ENDPOINT: 'http://minio:hunter2secret@10.0.0.5:9000',
      SQS_ENDPOINT: 'https://q:sqs-secret-pw@sqs.local',
      SQS_QUEUE_URL: 'https://q:sqs-secret-pw@sqs.local/1/events',
    });
    const logged = JSON.stringify(redactedConfig(c));
    expect(logged).not.toMatch(/hunter2secret|sqs-secret-pw|minio:/);
    expect(logged).toContain('http://[redacted]@10.0.0.5:9000');
    expect(c.s3.endpoint).toBe('http://minio:hunter2secret@10.0.0.5:9000');
  });

  it('never echoes a secret in its error', () => {
    const err = errorOf({ API_TOKEN: 'short' });
    expect(err.variable).toBe('API_TOKEN');
    expect(err.message).not.toContain('short');
  });

  it('chooses the PostgreSQL ledger with DATABASE_URL, never echoing or logging its password', () => {
    expect(load({}).databaseUrl).toBeUndefined();
    const url = 'postgres://ft:s3cret-pw@db.internal:5432/ledger?sslmode=verify-full';
    const c = load({ DATABASE_URL: url, DATABASE_POOL_SIZE: '20' });
    expect(c).toMatchObject({ databaseUrl: url, databasePoolSize: 20 });
    expect(JSON.stringify(redactedConfig(c))).not.toContain('s3cret-pw');
    expect(redactedConfig(c).databaseUrl).toBe(
      'postgres://ft:redacted@db.internal:5432/ledger?sslmode=verify-full',
    );
    for (const bad of ['mysql://ft:s3cret-pw@db/ledger', 'ft:s3cret-pw@db', 'postgres://']) {
      const err = errorOf({ DATABASE_URL: bad });
      expect(err.variable).toBe('DATABASE_URL');
      expect(err.message).not.toContain('s3cret-pw');
    }
    expect(errorOf({ DATABASE_URL: url, DATABASE_POOL_SIZE: '0' }).variable).toBe('DATABASE_POOL_SIZE');
  });
});
