import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger } from '../src/ledger/index.js';
import { FaultProxy, objectPath } from './support/fault-proxy.js';
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

  it('records a conversion whose output write was in flight at the stop: the output is written once', async () => {
    // The first attempt at an event's version skips the idempotence HEAD (it cannot have been
    // converted yet): a stop that gave this row back after its output was stored would write it twice.
    const proxy = await FaultProxy.start(s3.endpoint);
    const dir = await mkdtemp(join(tmpdir(), 'ft-stop-put-'));
    const key = 'stop/during-put.xml';
    const outputPut = objectPath('json-bucket', `${key}.json`);
    const stored = () =>
      proxy.log.filter((r) => r.method === 'PUT' && outputPut.test(r.path) && r.status === 200);
    try {
      const first = await startTestService({ endpoint: proxy.url, dataDir: dir });
      proxy.inject({ method: 'PUT', path: outputPut, times: 1, fault: { kind: 'delayAnswer', ms: 3000 } });
      const etag = await putObject(first.s3, 'xml-bucket', key, smallCatalogue(1, 50));
      await first.service.recordVersions([{ bucket: 'xml-bucket', key, etag }], 'event');
      await waitFor(() => stored().length === 1, 30_000, 'the output PUT to reach the store');
      await first.service.stop({ graceMs: 0 });
      await first.close();
      const ledger = await openLedger({ dataDir: dir });
      const [atStop] = await ledger.getFileVersions('xml-bucket', key);
      await ledger.close();
      expect(atStop).toMatchObject({ state: 'done', attempts: 1 });

      const second = await startTestService({ endpoint: proxy.url, dataDir: dir });
      try {
        const row = await waitForFile(second.service, key, ['done', 'failed'], 60_000);
        expect(row).toMatchObject({ state: 'done', itemsWritten: 50 });
      } finally {
        await second.close();
      }
      expect(stored()).toHaveLength(1);
    } finally {
      await proxy.close();
      await rm(dir, { recursive: true, force: true });
    }
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
