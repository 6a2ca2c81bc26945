/**
 * The multipart upload of an output when a part goes wrong, through the fault proxy in front of a
 * real s3rver: a failing UploadPart aborts the upload (nothing becomes visible) and the file is left
 * to retry; a conversion cancelled in the middle of the upload aborts it, and the file is given back.
 */
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openLedger } from '../src/ledger/index.js';
import { objectPath } from './support/fault-proxy.js';
import { type FaultyS3, startFaultyS3 } from './support/faulty-s3.js';
import { putObject, startTestService, waitFor } from './support/service.js';
import { smallCatalogue } from './support/small-catalogue.js';

const SOURCE = 'xml-bucket';
const TARGET = 'json-bucket';
/** About 8.5 MB of JSON: more than the worker's 8 MiB part, so the output goes in two parts. */
const MULTIPART_ITEMS = 40_000;

let s3: FaultyS3;

beforeAll(async () => {
  s3 = await startFaultyS3();
});

afterAll(() => s3?.close());

/** The requests of one output's multipart upload, by kind, as the proxy saw them. */
function uploadRequests(key: string) {
  const output = `${key}.json`;
  return {
    created: s3.proxy.count('POST', objectPath(TARGET, output, 'uploads')),
    parts: s3.proxy.count('PUT', objectPath(TARGET, output, 'partNumber=')),
    aborted: s3.proxy.count('DELETE', objectPath(TARGET, output, 'uploadId=')),
    completed: s3.proxy.count('POST', objectPath(TARGET, output, 'uploadId=')),
  };
}

async function expectNothingVisible(key: string): Promise<void> {
  await expect(
    s3.direct.send(new HeadObjectCommand({ Bucket: TARGET, Key: `${key}.json` })),
  ).rejects.toMatchObject({ name: 'NotFound' });
  const listed = await s3.direct.send(new ListObjectsV2Command({ Bucket: TARGET, Prefix: key }));
  expect(listed.Contents ?? []).toEqual([]);
}

test('a failing UploadPart aborts the multipart upload, shows nothing and leaves the file to retry', async () => {
  // A retry an hour away: the row stays as the failed attempt left it.
  const key = 'upload-faults/part-fails.xml';
  // SOURCE_PREFIX: each test's service sees only its own file, not the other test's.
  const ts = await startTestService({
    endpoint: s3.proxy.url,
    env: { SOURCE_PREFIX: key, MAX_ATTEMPTS: '3', RETRY_BASE_SECONDS: '3600', RETRY_MAX_SECONDS: '3600' },
  });
  try {
    const rule = s3.proxy.inject({
      method: 'PUT',
      path: objectPath(TARGET, `${key}.json`, 'partNumber=2'),
      fault: { kind: 'status', status: 500, code: 'InternalError' },
    });
    await putObject(s3.direct, SOURCE, key, smallCatalogue(0, MULTIPART_ITEMS));
    await ts.service.requestScan('api');

    const row = await waitFor(
      async () => {
        const [latest] = await ts.service.getFileVersions(key);
        return latest?.attempts === 1 && latest.state === 'pending' && latest.error ? latest : null;
      },
      60_000,
      'the first attempt to fail',
    );
    // Retryable: back to pending with the store's error, not failed.
    expect(row).toMatchObject({
      state: 'pending',
      attempts: 1,
      error: 'injected InternalError',
      errorCode: 'unavailable',
      outputKey: null,
    });
    expect((await ts.service.metrics.retriesTotal.get()).values[0]?.value).toBe(1);
    // The SDK's three tries of part 2, then the abort; never a completion.
    expect(rule.hits).toBe(3);
    expect(uploadRequests(key)).toEqual({ created: 1, parts: 4, aborted: 1, completed: 0 });
    await expectNothingVisible(key);
  } finally {
    await ts.close();
  }
});

test('a conversion cancelled in the middle of its multipart upload aborts it and gives the file back', async () => {
  const key = 'upload-faults/cancelled.xml';
  const ts = await startTestService({ endpoint: s3.proxy.url, env: { SOURCE_PREFIX: key } });
  try {
    // ~20 MB of input trickled at 6 MB/s: part 1 (8 MiB of JSON) goes out while a third of the input
    // is still to come, so the service stops with that part just sent and the body still streaming.
    s3.proxy.inject({
      method: 'GET',
      path: objectPath(SOURCE, key),
      times: 1,
      fault: { kind: 'slowBody', bytesPerSecond: 6_000_000, chunkBytes: 64 * 1024 },
    });
    await putObject(s3.direct, SOURCE, key, smallCatalogue(0, 60_000));
    await ts.service.requestScan('api');
    await waitFor(() => uploadRequests(key).parts === 1, 60_000, 'part 1 sent');

    // A grace period shorter than the rest of the download: the conversion is cancelled.
    await ts.service.stop({ graceMs: 100 });
    expect(uploadRequests(key)).toEqual({ created: 1, parts: 1, aborted: 1, completed: 0 });
    await expectNothingVisible(key);
    // Given back as it was before the claim, for the next start to convert from scratch.
    const ledger = await openLedger({ dataDir: ts.dataDir });
    try {
      const [row] = await ledger.getFileVersions(SOURCE, key);
      expect(row).toMatchObject({ state: 'pending', attempts: 0, leaseOwner: null, outputKey: null });
    } finally {
      await ledger.close();
    }
  } finally {
    await ts.close();
  }
});
