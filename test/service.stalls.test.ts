/**
 * Stalled connections (issue 8, item 1): a socket that stops moving bytes without closing, as when a
 * proxy stops forwarding on established connections. Every S3 and SQS request has an idle deadline,
 * a conversion whose bytes stop moving is aborted by the pool's watchdog and retried, and readiness
 * names conversions that could not be given back.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { convertChunks } from '../src/convert/index.js';
import { SqsEventSource } from '../src/discovery/sqs.js';
import { openSqliteLedger } from '../src/ledger/sqlite/sqlite-ledger.js';
import { createLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { ConversionStalledError, WorkerPool } from '../src/worker/pool.js';
import { FaultProxy, objectPath } from './support/fault-proxy.js';
import { type FaultyS3, startFaultyS3 } from './support/faulty-s3.js';
import { SQS_TEST_CREDENTIALS, startTestSqs } from './support/fauxqs.js';
import { putObject, startTestService, type TestService, waitFor, waitForFile } from './support/service.js';
import { smallCatalogue } from './support/small-catalogue.js';

const SOURCE = 'xml-bucket';
const TARGET = 'json-bucket';
const logger = createLogger('silent');

let s3: FaultyS3;

beforeAll(async () => {
  s3 = await startFaultyS3();
});

afterAll(() => s3?.close());

async function expectedJson(xml: string): Promise<string> {
  const { json } = await convertChunks([Buffer.from(xml)]);
  return json!;
}

async function output(key: string): Promise<string> {
  const res = await s3.direct.send(new GetObjectCommand({ Bucket: TARGET, Key: `${key}.json` }));
  return res.Body!.transformToString();
}

const bigXml = smallCatalogue(20_000, 1200);

/** Uploads `xml` directly, has the service scan, and waits for the version's final state. */
async function convertThrough(ts: TestService, key: string, xml: string) {
  await putObject(s3.direct, SOURCE, key, xml);
  await ts.service.requestScan('api');
  return waitForFile(ts.service, key, ['done', 'failed', 'gone', 'skipped'], 30_000);
}

describe('a stalled S3 transfer is cut by the idle deadline and retried', () => {
  let ts: TestService;
  beforeAll(async () => {
    ts = await startTestService({
      endpoint: s3.proxy.url,
      env: { IO_TIMEOUT_SECONDS: '1', STALL_TIMEOUT_SECONDS: '600' },
    });
  });
  afterAll(async () => ts?.close());

  test('a download that stops mid-body', async () => {
    const key = 'stalls/get-mid-body.xml';
    const rule = s3.proxy.inject({
      method: 'GET',
      path: objectPath(SOURCE, key),
      times: 1,
      fault: { kind: 'stallMidBody', afterBytes: 50_000 },
    });
    const row = await convertThrough(ts, key, bigXml);
    expect(rule.hits).toBe(1);
    expect(row).toMatchObject({ state: 'done', attempts: 2, itemsWritten: 1200 });
    expect(await output(key)).toBe(await expectedJson(bigXml));
  });

  test('an upload that is never answered', async () => {
    const key = 'stalls/put-unanswered.xml';
    const xml = smallCatalogue(21_000, 4);
    const rule = s3.proxy.inject({
      method: 'PUT',
      path: objectPath(TARGET, `${key}.json`),
      times: 1,
      fault: { kind: 'stallBeforeResponse' },
    });
    const row = await convertThrough(ts, key, xml);
    expect(rule.hits).toBe(1);
    // The SDK's own retry (a timeout is retryable) sent the PUT again within the same attempt.
    expect(row).toMatchObject({ state: 'done', itemsWritten: 4 });
    expect(s3.proxy.count('PUT', objectPath(TARGET, `${key}.json`))).toBe(2);
    expect(await output(key)).toBe(await expectedJson(xml));
  });
});

test('a conversion that makes no progress is aborted by the watchdog and retried', async () => {
  // The sockets' own deadline is long here: only the watchdog can end the stall.
  const ts = await startTestService({
    endpoint: s3.proxy.url,
    env: { IO_TIMEOUT_SECONDS: '600', STALL_TIMEOUT_SECONDS: '3' },
  });
  try {
    const key = 'stalls/watchdog.xml';
    const rule = s3.proxy.inject({
      method: 'GET',
      path: objectPath(SOURCE, key),
      times: 1,
      fault: { kind: 'stallMidBody', afterBytes: 30_000 },
    });
    const row = await convertThrough(ts, key, bigXml);
    expect(rule.hits).toBe(1);
    // At least the stalled attempt and one more (a loaded machine may stall a later one too).
    expect(row.state).toBe('done');
    expect(row.attempts).toBeGreaterThanOrEqual(2);
    expect(await output(key)).toBe(await expectedJson(bigXml));
  } finally {
    await ts.close();
  }
});

test('readiness names a conversion that ignores the abort; the watchdog aborts it as stalled', async () => {
  const ledger = openSqliteLedger(':memory:');
  await ledger.migrate();
  await ledger.recordVersions([{ bucket: SOURCE, key: 'stuck.xml', etag: 'e1' }], 'scan');
  let now = 1_000_000;
  let reason: unknown = null;
  const pool = new WorkerPool({
    ledger,
    owner: 'test',
    concurrency: 1,
    leaseMs: 60_000,
    pollMs: 60_000,
    stallMs: 10_000,
    logger,
    now: () => now,
    // A conversion that never ends and ignores its abort signal.
    process: (_row, signal) =>
      new Promise<void>(() => {
        signal.addEventListener('abort', () => {
          reason = signal.reason;
        });
      }),
  });
  pool.start();
  try {
    await waitFor(() => pool.inFlight === 1, 10_000, 'the row to be claimed');
    expect(pool.stuck()).toEqual([]);
    now += 10_001;
    pool.abortStalled();
    expect(reason).toBeInstanceOf(ConversionStalledError);
    expect(pool.stuck()).toEqual([]);
    now += 10_000;
    expect(pool.stuck()).toEqual([{ fileId: 1, key: 'stuck.xml', idleMs: 20_001 }]);
  } finally {
    void pool.stop(0);
    await ledger.close();
  }
});

test('a stalled SQS receive is cut by the deadline and the source goes on receiving', async () => {
  const sqs = await startTestSqs();
  const sqsProxy = await FaultProxy.start(sqs.endpoint);
  const { queueUrl } = await sqs.createQueue('stalls', { visibilityTimeoutSeconds: 5, maxReceiveCount: 3 });
  const recorded: string[] = [];
  const source = new SqsEventSource({
    queueUrl,
    endpoint: sqsProxy.url,
    region: 'us-east-1',
    credentials: SQS_TEST_CREDENTIALS,
    filter: { bucket: SOURCE, matchesKey: (key) => key.endsWith('.xml') },
    sink: {
      recordVersions: (versions) => {
        recorded.push(...versions.map((v) => v.key));
        return versions.length;
      },
    },
    logger,
    metrics: createMetrics(),
    waitTimeSeconds: 1,
    ioTimeoutMs: 1000,
  });
  try {
    await source.start();
    const rule = sqsProxy.inject({ method: 'POST', times: 1, fault: { kind: 'stallBeforeResponse' } });
    await waitFor(() => rule.hits === 1, 10_000, 'a receive to stall');
    await sqs.send(queueUrl, {
      Records: [
        {
          eventName: 'ObjectCreated:Put',
          s3: { bucket: { name: SOURCE }, object: { key: 'after-stall.xml', eTag: 'abc', size: 1 } },
        },
      ],
    });
    await waitFor(() => recorded.includes('after-stall.xml'), 20_000, 'the message after the stall');
  } finally {
    await source.stop();
    await sqsProxy.close();
    await sqs.close();
  }
});
