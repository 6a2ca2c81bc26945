import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger } from '../src/ledger/index.js';
import { startS3rver, type TestS3 } from './support/s3rver.js';
import { putObject, startTestService, waitFor, waitForFile } from './support/service.js';
import { smallCatalogue } from './support/small-catalogue.js';

describe('graceful stop', () => {
  let s3: TestS3;
  let dataDir: string;
  beforeAll(async () => {
    s3 = await startS3rver();
    dataDir = await mkdtemp(join(tmpdir(), 'ft-stop-'));
  });
  afterAll(async () => {
    await s3?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('gives an unfinished conversion back as pending, with nothing visible, and the next start converts it', async () => {
    const first = await startTestService({ endpoint: s3.endpoint, dataDir });
    const etag = await putObject(first.s3, 'xml-bucket', 'big.xml', smallCatalogue(1, 120_000));
    await first.service.recordVersions([{ bucket: 'xml-bucket', key: 'big.xml', etag }], 'api');
    await waitFor(async () => (await first.service.getFileVersions('big.xml'))[0]?.state === 'processing');
    await first.service.stop({ graceMs: 0 });
    const ledger = await openLedger({ dataDir });
    const [row] = await ledger.getFileVersions('xml-bucket', 'big.xml');
    await ledger.close();
    expect(row).toMatchObject({ state: 'pending', attempts: 0, leaseOwner: null });
    await expect(
      first.s3.send(new HeadObjectCommand({ Bucket: 'json-bucket', Key: 'big.xml.json' })),
    ).rejects.toMatchObject({ name: 'NotFound' });
    await first.close();

    const second = await startTestService({ endpoint: s3.endpoint, dataDir });
    try {
      const done = await waitForFile(second.service, 'big.xml', ['done', 'failed'], 120_000);
      expect(done).toMatchObject({ state: 'done', itemsWritten: 120_000, attempts: 1 });
    } finally {
      await second.close();
    }
  });
});
