/**
 * Transient failures are retried for a span of time, not a handful of attempts (issue 8, item 3): an
 * S3 outage of over an hour, lived through on an injected clock (no sleeping), leaves the file
 * `pending` with its last error and next attempt, and it converts when S3 is back; a permanent failure
 * is final at once; a file failing for longer than RETRY_FOR_HOURS is given up.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Config } from '../src/config/types.js';
import { openSqliteLedger } from '../src/ledger/sqlite/sqlite-ledger.js';
import type { Ledger } from '../src/ledger/types.js';
import { createLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { createS3Client } from '../src/storage/s3-client.js';
import { loadConverter } from '../src/worker/converter.js';
import { processFile, type WorkerContext } from '../src/worker/process-file.js';
import { objectPath } from './support/fault-proxy.js';
import { type FaultyS3, startFaultyS3 } from './support/faulty-s3.js';
import { putObject, testConfig } from './support/service.js';
import { smallCatalogue } from './support/small-catalogue.js';

const SOURCE = 'xml-bucket';
const HOUR = 3_600_000;

let s3: FaultyS3;
let ledger: Ledger;
let ctx: WorkerContext;
let now = Date.UTC(2026, 10, 30, 2, 0, 0);

beforeAll(async () => {
  s3 = await startFaultyS3();
  ledger = openSqliteLedger(':memory:');
  await ledger.migrate();
  // The defaults that matter here: RETRY_BASE_SECONDS 1, RETRY_MAX_SECONDS 300, RETRY_FOR_HOURS 24.
  const config: Config = {
    ...testConfig({ endpoint: s3.proxy.url }, '/nonexistent'),
    retryBaseMs: 1000,
    retryMaxMs: 300_000,
    retryForMs: 24 * HOUR,
  };
  ctx = {
    s3: createS3Client(config.s3),
    ledger,
    config,
    metrics: createMetrics(),
    logger: createLogger('silent'),
    owner: 'retry-test',
    createConverter: await loadConverter(),
    now: () => now,
  };
});

afterAll(async () => {
  ctx?.s3.destroy();
  await ledger?.close();
  await s3?.close();
});

/** Claims the row when it is due (moving the clock there) and runs one attempt. */
async function attempt(key: string) {
  const [row] = await ledger.getFileVersions(SOURCE, key);
  if (row!.state === 'pending' && row!.nextAttemptAt) now = Math.max(now, Date.parse(row!.nextAttemptAt));
  const [claimed] = await ledger.claim(ctx.owner, 1, 60_000, now);
  expect(claimed?.key).toBe(key);
  await processFile(ctx, claimed!, new AbortController().signal);
  return (await ledger.getFileVersions(SOURCE, key))[0]!;
}

async function record(key: string, xml: string) {
  const etag = await putObject(ctx.s3, SOURCE, key, xml);
  await ledger.recordVersions([{ bucket: SOURCE, key, etag }], 'event', now);
}

test('an outage of more than an hour keeps the file pending (last error, next attempt); it converts after', async () => {
  const key = 'retry/outage.xml';
  await record(key, smallCatalogue(1, 2));
  const outage = s3.proxy.inject({
    method: 'GET',
    path: objectPath(SOURCE, key),
    fault: { kind: 'status', status: 503, code: 'ServiceUnavailable' },
  });
  const start = now;
  let row = await attempt(key);
  while (now - start < 90 * 60_000) {
    expect(row).toMatchObject({
      state: 'pending',
      error: expect.stringMatching(/injected ServiceUnavailable/),
    });
    expect(Date.parse(row.nextAttemptAt!)).toBeGreaterThanOrEqual(now);
    // Capped: never more than RETRY_MAX_SECONDS away.
    expect(Date.parse(row.nextAttemptAt!) - now).toBeLessThanOrEqual(300_000);
    expect(row.failingSince).toBe(new Date(start).toISOString());
    row = await attempt(key);
  }
  // 90 minutes of outage: still pending, far more attempts than the old limit of 5.
  expect(row.state).toBe('pending');
  expect(row.attempts).toBeGreaterThan(10);

  outage.times = 0; // S3 is back
  row = await attempt(key);
  expect(row).toMatchObject({ state: 'done', itemsWritten: 2, failingSince: null });
});

test('a permanent failure is final at once', async () => {
  const key = 'retry/denied.xml';
  await record(key, smallCatalogue(10, 1));
  s3.proxy.inject({
    method: 'GET',
    path: objectPath(SOURCE, key),
    fault: { kind: 'status', status: 403, code: 'AccessDenied' },
  });
  const row = await attempt(key);
  expect(row).toMatchObject({ state: 'failed', attempts: 1 });
  expect(row.error).toMatch(/AccessDenied|denied/i);
});

test('a file failing for longer than RETRY_FOR_HOURS is given up, naming how long', async () => {
  // RETRY_FOR_HOURS=2 (the 24 h default takes ~300 attempts to live through).
  const defaults = ctx.config;
  ctx.config = { ...defaults, retryForMs: 2 * HOUR };
  const key = 'retry/forever.xml';
  await record(key, smallCatalogue(20, 1));
  s3.proxy.inject({
    method: 'GET',
    path: objectPath(SOURCE, key),
    fault: { kind: 'status', status: 500, code: 'InternalError' },
  });
  const start = now;
  let row = await attempt(key);
  while (row.state === 'pending') {
    expect(now - start).toBeLessThan(2 * HOUR + 10 * 60_000);
    row = await attempt(key);
  }
  ctx.config = defaults;
  expect(row.state).toBe('failed');
  expect(now - start).toBeGreaterThanOrEqual(2 * HOUR);
  expect(row.error).toMatch(
    /^gave up after retrying for 2 h 0\d min \(\d+ attempts\): injected InternalError/,
  );
});
