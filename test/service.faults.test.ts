/**
 * The service between a fault-injecting proxy and a real s3rver: throttling (503 SlowDown),
 * connections reset in the middle of a body, slow bodies and final errors. Files still end with
 * exactly the bytes a direct conversion gives; transient failures are retried (and counted in the
 * metrics), final ones are not.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { convertChunks } from '../src/convert/index.js';
import { objectPath } from './support/fault-proxy.js';
import { type FaultyS3, startFaultyS3 } from './support/faulty-s3.js';
import { putObject, startTestService, type TestService, waitFor, waitForFile } from './support/service.js';
import { smallCatalogue } from './support/small-catalogue.js';

const SOURCE = 'xml-bucket';
const TARGET = 'json-bucket';
/**
 * Transient failures are retried for this long (RETRY_FOR_HOURS), short here: 10 s, long enough for
 * the tests whose faults pass (a loaded machine) and short for the one whose never do.
 */
const RETRY_FOR_HOURS = String(10 / 3600);
/** The metrics test's own buckets: the shared service's scans must not find (and retry) its files. */
const METRICS_SOURCE = 'metrics-xml';
const METRICS_TARGET = 'metrics-json';

let s3: FaultyS3;
let ts: TestService;

beforeAll(async () => {
  s3 = await startFaultyS3([SOURCE, TARGET, METRICS_SOURCE, METRICS_TARGET]);
  ts = await startTestService({
    endpoint: s3.proxy.url,
    // A short stall timeout: the slow-body test's 20 ms gaps stay well under it.
    env: { RETRY_FOR_HOURS, STALL_TIMEOUT_SECONDS: '1' },
  });
});

afterAll(async () => {
  await ts?.close();
  await s3?.close();
});

async function retries(): Promise<number> {
  return (await ts.service.metrics.retriesTotal.get()).values[0]?.value ?? 0;
}

/** Uploads `xml` under `key`, lets the service find it (scan), waits for a final state. */
async function convertThroughService(key: string, xml: string) {
  await putObject(s3.direct, SOURCE, key, xml);
  await ts.service.requestScan('api');
  return waitForFile(ts.service, key, ['done', 'failed', 'gone', 'skipped'], 60_000);
}

async function output(key: string): Promise<string> {
  const res = await s3.direct.send(new GetObjectCommand({ Bucket: TARGET, Key: `${key}.json` }));
  return res.Body!.transformToString();
}

async function expectedJson(xml: string): Promise<string> {
  const { json } = await convertChunks([Buffer.from(xml)]);
  expect(json).not.toBeNull();
  return json!;
}

/** A catalogue big enough to be cut mid-body (~400 KB). */
const bigXml = smallCatalogue(10_000, 1200);

describe('transient faults are retried and the output is still exact', () => {
  test('throttled downloads (503 SlowDown beyond the SDK retries)', async () => {
    const key = 'faults/throttled-get.xml';
    const before = await retries();
    // The SDK tries 3 times per request: 4 SlowDowns fail the first attempt, the second one succeeds.
    const rule = s3.proxy.inject({
      method: 'GET',
      path: objectPath(SOURCE, key),
      times: 4,
      fault: { kind: 'slowDown' },
    });
    const xml = smallCatalogue(1, 5);
    const row = await convertThroughService(key, xml);
    expect(rule.hits).toBe(4);
    expect(row).toMatchObject({ state: 'done', attempts: 2, itemsWritten: 5 });
    expect(await retries()).toBe(before + 1);
    expect(await output(key)).toBe(await expectedJson(xml));
  });

  test('downloads reset in the middle of the body', async () => {
    const key = 'faults/reset-get.xml';
    const before = await retries();
    const rule = s3.proxy.inject({
      method: 'GET',
      path: objectPath(SOURCE, key),
      times: 2,
      fault: { kind: 'resetMidBody', afterBytes: 100_000 },
    });
    const row = await convertThroughService(key, bigXml);
    expect(rule.hits).toBe(2);
    expect(row).toMatchObject({ state: 'done', attempts: 3, itemsWritten: 1200 });
    expect(await retries()).toBe(before + 2);
    expect(await output(key)).toBe(await expectedJson(bigXml));
  });

  test('throttled uploads of the output', async () => {
    const key = 'faults/throttled-put.xml';
    const before = await retries();
    const rule = s3.proxy.inject({
      method: 'PUT',
      path: objectPath(TARGET, `${key}.json`),
      times: 4,
      fault: { kind: 'slowDown' },
    });
    const xml = smallCatalogue(500, 7);
    const row = await convertThroughService(key, xml);
    expect(rule.hits).toBe(4);
    expect(row).toMatchObject({ state: 'done', attempts: 2, itemsWritten: 7 });
    expect(await retries()).toBe(before + 1);
    expect(await output(key)).toBe(await expectedJson(xml));
  });

  test('slow bodies are waited for, not cut', async () => {
    const key = 'faults/slow-get.xml';
    const before = await retries();
    const rule = s3.proxy.inject({
      method: 'GET',
      path: objectPath(SOURCE, key),
      times: 1,
      fault: { kind: 'slowBody', bytesPerSecond: 400_000, chunkBytes: 8192 },
    });
    const row = await convertThroughService(key, bigXml);
    expect(rule.hits).toBe(1);
    expect(row).toMatchObject({ state: 'done', attempts: 1 });
    expect(await retries()).toBe(before);
    expect(await output(key)).toBe(await expectedJson(bigXml));
  });

  test('a download that stops moving is aborted (not waited for) and retried', async () => {
    const key = 'faults/stalled-get.xml';
    const before = await retries();
    // 4 KB pieces 8 s apart: the first attempt gets one piece, then nothing for longer than 1 s.
    const rule = s3.proxy.inject({
      method: 'GET',
      path: objectPath(SOURCE, key),
      times: 1,
      fault: { kind: 'slowBody', bytesPerSecond: 512, chunkBytes: 4096 },
    });
    const row = await convertThroughService(key, bigXml);
    expect(rule.hits).toBe(1);
    expect(row).toMatchObject({ state: 'done', attempts: 2 });
    expect(await retries()).toBe(before + 1);
    expect(await output(key)).toBe(await expectedJson(bigXml));
  });

  test('server errors on every attempt end as failed after RETRY_FOR_HOURS, nothing written', async () => {
    const key = 'faults/always-500.xml';
    const before = await retries();
    s3.proxy.inject({
      method: 'GET',
      path: objectPath(SOURCE, key),
      fault: { kind: 'status', status: 500, code: 'InternalError' },
    });
    const row = await convertThroughService(key, smallCatalogue(700, 2));
    expect(row.state).toBe('failed');
    expect(row.attempts).toBeGreaterThanOrEqual(2);
    expect(row.error).toMatch(new RegExp(`gave up after retrying for \\d+ s \\(${row.attempts} attempts\\)`));
    // Every service attempt made up to the SDK's 3 tries (fewer once the SDK's retry quota runs low).
    const gets = s3.proxy.count('GET', objectPath(SOURCE, key));
    expect(gets).toBeGreaterThanOrEqual(row.attempts);
    expect(gets).toBeLessThanOrEqual(row.attempts * 3);
    expect(await retries()).toBe(before + row.attempts - 1);
    await expect(output(key)).rejects.toMatchObject({ name: 'NoSuchKey' });
  });
});

describe('a report that cannot be stored is a retryable failure of its version', () => {
  const REPORTS = '_reports/';
  /** PUTs of `key` that s3rver stored (answered 200 upstream), faulted or not on the way back. */
  const storedPuts = (key: string) =>
    s3.proxy.log.filter((r) => r.method === 'PUT' && objectPath(TARGET, key).test(r.path) && r.status === 200)
      .length;
  const reportOf = async (key: string) => {
    const res = await s3.direct.send(
      new GetObjectCommand({ Bucket: TARGET, Key: `${REPORTS}${key}.report.json` }),
    );
    return JSON.parse(await res.Body!.transformToString()) as { etag: string; itemsRejected: number };
  };
  /**
   * Fails the report's first PUTs: every SDK try of the first attempt (3 per request, fewer once the
   * SDK's retry quota runs low, so these may take more than one attempt of the service).
   */
  const failReportPut = (key: string) =>
    s3.proxy.inject({
      method: 'PUT',
      path: objectPath(TARGET, `${REPORTS}${key}.report.json`),
      times: 3,
      fault: { kind: 'status', status: 500, code: 'InternalError' },
    });

  test('a file with rejected items: retried, its report stored, its JSON written once', async () => {
    const key = 'faults/report-put.xml';
    const before = await retries();
    const rule = failReportPut(key);
    const xml = smallCatalogue(1100, 4).replace(
      '<nsx:value>49.95</nsx:value>',
      '<nsx:value>49,95</nsx:value>',
    );
    const row = await convertThroughService(key, xml);
    expect(rule.hits).toBe(3);
    expect(row).toMatchObject({ state: 'done', itemsWritten: 3, itemsRejected: 1 });
    expect(row.attempts).toBeGreaterThanOrEqual(2);
    expect(row.reportKey).toBe(`${REPORTS}${key}.report.json`);
    expect(await retries()).toBe(before + row.attempts - 1);
    expect(await reportOf(key)).toMatchObject({ etag: row.etag, itemsRejected: 1 });
    expect(await output(key)).toBe(await expectedJson(xml));
    expect(storedPuts(`${key}.json`)).toBe(1);
  });

  test('a bad file: retried, its report stored, no JSON', async () => {
    const key = 'faults/report-put-bad.xml';
    const rule = failReportPut(key);
    const row = await convertThroughService(key, '<nsx:items><nsx:item id="1"><nsx:category>x</nsx:items>');
    expect(rule.hits).toBe(3);
    expect(row).toMatchObject({ state: 'failed', errorCode: 'bad-file' });
    expect(row.attempts).toBeGreaterThanOrEqual(2);
    expect(row.reportKey).toBe(`${REPORTS}${key}.report.json`);
    expect((await reportOf(key)).etag).toBe(row.etag);
    await expect(output(key)).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  test('a clean new version whose old report cannot be removed: retried until it is gone', async () => {
    const key = 'faults/report-delete.xml';
    const bad = smallCatalogue(1200, 2).replace('<nsx:value>49.95</nsx:value>', '<nsx:value>-1</nsx:value>');
    const first = await convertThroughService(key, bad);
    expect(first).toMatchObject({ state: 'done', itemsRejected: 1 });
    expect((await reportOf(key)).etag).toBe(first.etag);
    const rule = s3.proxy.inject({
      method: 'DELETE',
      path: objectPath(TARGET, `${REPORTS}${key}.report.json`),
      times: 3,
      fault: { kind: 'status', status: 500, code: 'InternalError' },
    });
    const clean = smallCatalogue(1300, 2);
    const etag = await putObject(s3.direct, SOURCE, key, clean);
    await ts.service.requestScan('api');
    const row = await waitFor(async () => {
      const version = (await ts.service.getFileVersions(key)).find((v) => v.etag === etag);
      return version && ['done', 'failed'].includes(version.state) ? version : null;
    }, 60_000);
    expect(rule.hits).toBe(3);
    expect(row).toMatchObject({ state: 'done', itemsRejected: 0, reportKey: null });
    expect(row.attempts).toBeGreaterThanOrEqual(2);
    await expect(reportOf(key)).rejects.toMatchObject({ name: 'NoSuchKey' });
    expect(await output(key)).toBe(await expectedJson(clean));
    expect(storedPuts(`${key}.json`)).toBe(2);
  });
});

describe('final errors are not retried', () => {
  test('access denied on the source ends as failed after one request', async () => {
    const key = 'faults/denied.xml';
    const before = await retries();
    s3.proxy.inject({
      method: 'GET',
      path: objectPath(SOURCE, key),
      fault: { kind: 'status', status: 403, code: 'AccessDenied' },
    });
    const row = await convertThroughService(key, smallCatalogue(800, 2));
    expect(row).toMatchObject({ state: 'failed', attempts: 1 });
    expect(row.error).toMatch(/AccessDenied|denied/i);
    expect(s3.proxy.count('GET', objectPath(SOURCE, key))).toBe(1);
    expect(await retries()).toBe(before);
    await expect(output(key)).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  test('a malformed file ends as failed after one download', async () => {
    const key = 'faults/malformed.xml';
    const before = await retries();
    const row = await convertThroughService(key, '<nsx:items><nsx:item id="1"><nsx:category>x</nsx:items>');
    expect(row).toMatchObject({ state: 'failed', attempts: 1 });
    expect(s3.proxy.count('GET', objectPath(SOURCE, key))).toBe(1);
    expect(await retries()).toBe(before);
    await expect(output(key)).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  test('an object deleted before it is read ends as gone', async () => {
    const key = 'faults/vanished.xml';
    // The listing still shows it, but every read says it is not there (as after a delete).
    s3.proxy.inject({
      method: 'GET',
      path: objectPath(SOURCE, key),
      fault: { kind: 'status', status: 404, code: 'NoSuchKey' },
    });
    const row = await convertThroughService(key, smallCatalogue(900, 1));
    expect(row).toMatchObject({ state: 'gone', attempts: 1 });
    expect(s3.proxy.count('GET', objectPath(SOURCE, key))).toBe(1);
  });
});

test('the fault metrics add up: outcomes and retries are in the registry', async () => {
  // Its own service, so the counts are this test's alone (the shared one's depend on what ran before).
  const own = await startTestService({
    endpoint: s3.proxy.url,
    sourceBucket: METRICS_SOURCE,
    targetBucket: METRICS_TARGET,
    env: { RETRY_FOR_HOURS },
  });
  try {
    const cases = [
      ['metrics/always-500.xml', { kind: 'status', status: 500, code: 'InternalError' }],
      ['metrics/denied.xml', { kind: 'status', status: 403, code: 'AccessDenied' }],
      ['metrics/vanished.xml', { kind: 'status', status: 404, code: 'NoSuchKey' }],
      ['metrics/clean.xml', null],
    ] as const;
    for (const [i, [key, fault]] of cases.entries()) {
      if (fault) s3.proxy.inject({ method: 'GET', path: objectPath(METRICS_SOURCE, key), fault });
      await putObject(s3.direct, METRICS_SOURCE, key, smallCatalogue(2000 + i * 10, 2));
    }
    await own.service.requestScan('api');
    const rows = [];
    for (const [key] of cases) rows.push(await waitForFile(own.service, key, undefined, 60_000));
    expect(rows.map((r) => r.state)).toEqual(['failed', 'failed', 'gone', 'done']);

    const text = await own.service.metrics.registry.metrics();
    expect(text).toMatch(/^file_transformer_files_total\{outcome="done"\} 1$/m);
    expect(text).toMatch(/^file_transformer_files_total\{outcome="failed"\} 2$/m);
    expect(text).toMatch(/^file_transformer_files_total\{outcome="gone"\} 1$/m);
    // The retries of the file that always fails; final errors are not retried.
    expect(text).toMatch(new RegExp(`^file_transformer_retries_total ${rows[0]!.attempts - 1}$`, 'm'));
  } finally {
    await own.close();
  }
});

test('a target the service may not read (HEAD 403) does not stop the conversion', async () => {
  const key = 'faults/write-only-target.xml';
  const rule = s3.proxy.inject({
    method: 'HEAD',
    path: objectPath(TARGET, `${key}.json`),
    fault: { kind: 'status', status: 403, code: 'AccessDenied' },
  });
  const xml = smallCatalogue(1000, 3);
  const row = await convertThroughService(key, xml);
  expect(rule.hits).toBe(1);
  expect(row).toMatchObject({ state: 'done', attempts: 1, itemsWritten: 3 });
  expect(await output(key)).toBe(await expectedJson(xml));
});
