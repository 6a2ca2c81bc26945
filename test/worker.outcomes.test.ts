import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3rver, type TestS3 } from './support/s3rver.js';
import {
  getObjectWithMetadata,
  getText,
  putObject,
  startTestService,
  type TestService,
  waitForFile,
} from './support/service.js';
import { smallCatalogue } from './support/small-catalogue.js';

const item = (id: string) =>
  `<items><item id="${id}"><category>c</category><description>d</description></item></items>`;

describe('worker outcomes', () => {
  let s3: TestS3;
  let t: TestService;
  beforeAll(async () => {
    s3 = await startS3rver(['xml-bucket', 'json-bucket', 'xml-limited', 'json-limited']);
    t = await startTestService({ endpoint: s3.endpoint });
  });
  afterAll(async () => {
    await t?.close();
    await s3?.close();
  });

  it('rejects an item over MAX_ITEM_BYTES with its line and converts the rest of the file', async () => {
    // Its own buckets: this service's start-up scan must not touch the other tests' files.
    const limited = await startTestService({
      endpoint: s3.endpoint,
      sourceBucket: 'xml-limited',
      targetBucket: 'json-limited',
      env: { MAX_ITEM_BYTES: '100' },
    });
    try {
      const xml = `<items>\n<item id="long"><description>${'d'.repeat(200)}</description></item>\n<item id="2"/>\n</items>`;
      const etag = await putObject(limited.s3, 'xml-limited', 'long.xml', xml);
      await limited.service.recordVersions([{ bucket: 'xml-limited', key: 'long.xml', etag }], 'event');
      const row = await waitForFile(limited.service, 'long.xml');
      expect(row).toMatchObject({ state: 'done', itemsWritten: 1, itemsRejected: 1 });
      const out = await getObjectWithMetadata(limited.s3, 'json-limited', 'long.xml.json');
      expect(JSON.parse(out.body).map((p: { product_id: string }) => p.product_id)).toEqual(['2']);
      const report = JSON.parse(await getText(limited.s3, 'json-limited', '_reports/long.xml.report.json'));
      expect(report.rejections).toEqual([
        { line: 2, id: 'long', field: 'item', reason: 'item is larger than the limit of 100 bytes' },
      ]);
    } finally {
      await limited.close();
    }
  });

  it('ends as gone, without retrying, when the object was deleted before it was read', async () => {
    const etag = await putObject(t.s3, 'xml-bucket', 'deleted.xml', item('1'));
    await t.s3.send(new DeleteObjectCommand({ Bucket: 'xml-bucket', Key: 'deleted.xml' }));
    await t.service.recordVersions([{ bucket: 'xml-bucket', key: 'deleted.xml', etag }], 'event');
    const row = await waitForFile(t.service, 'deleted.xml');
    expect(row).toMatchObject({ state: 'gone', attempts: 1, outputKey: null });
  });

  it('skips a version replaced by a newer upload, and converts the newer one', async () => {
    const oldEtag = await putObject(t.s3, 'xml-bucket', 'replaced.xml', item('old'));
    const newEtag = await putObject(t.s3, 'xml-bucket', 'replaced.xml', item('new'));
    await t.service.recordVersions([{ bucket: 'xml-bucket', key: 'replaced.xml', etag: oldEtag }], 'event');
    await t.service.drain();
    const [old] = await t.service.getFileVersions('replaced.xml');
    expect(old).toMatchObject({ etag: oldEtag, state: 'skipped' });
    expect(old!.error).toMatch(/superseded/);

    await t.service.recordVersions([{ bucket: 'xml-bucket', key: 'replaced.xml', etag: newEtag }], 'event');
    await t.service.drain();
    const out = await getObjectWithMetadata(t.s3, 'json-bucket', 'replaced.xml.json');
    expect(JSON.parse(out.body)[0].product_id).toBe('new');
    expect(out.metadata['source-etag']).toBe(newEtag);
  });

  it('records a version as done without converting when the target already holds its output', async () => {
    const etag = await putObject(t.s3, 'xml-bucket', 'crashed.xml', item('1'));
    // As if a previous process uploaded the JSON and died before marking the row done.
    await putObject(t.s3, 'json-bucket', 'crashed.xml.json', '["already there"]', {
      'source-etag': etag,
      'items-written': '1',
      'items-rejected': '0',
    });
    await t.service.recordVersions([{ bucket: 'xml-bucket', key: 'crashed.xml', etag }], 'scan');
    const row = await waitForFile(t.service, 'crashed.xml');
    expect(row).toMatchObject({ state: 'done', itemsWritten: 1, report: null });
    expect((await getObjectWithMetadata(t.s3, 'json-bucket', 'crashed.xml.json')).body).toBe(
      '["already there"]',
    );

    // Reprocess forces a real conversion.
    const requeued = await t.service.reprocess('crashed.xml');
    expect(requeued).toMatchObject({ etag, state: 'pending', forced: true });
    await t.service.drain();
    const again = await waitForFile(t.service, 'crashed.xml');
    expect(again).toMatchObject({ state: 'done', forced: false, itemsWritten: 1, itemsRejected: 0 });
    expect(again.report).toMatchObject({
      source: 'crashed.xml',
      etag,
      itemsSeen: 1,
      itemsWritten: 1,
      error: null,
    });
    const products = JSON.parse((await getObjectWithMetadata(t.s3, 'json-bucket', 'crashed.xml.json')).body);
    expect(products.map((p: { product_id: string }) => p.product_id)).toEqual(['1']);
    expect(await t.service.reprocess('never-uploaded.xml')).toBeNull();
  });

  it('does not look for an earlier output on the first attempt of a version announced by an event', async () => {
    const etag = await putObject(t.s3, 'xml-bucket', 'fresh.xml', item('fresh'));
    await putObject(t.s3, 'json-bucket', 'fresh.xml.json', '["stale"]', { 'source-etag': etag });
    await t.service.recordVersions([{ bucket: 'xml-bucket', key: 'fresh.xml', etag }], 'event');
    expect((await waitForFile(t.service, 'fresh.xml')).state).toBe('done');
    const out = await getObjectWithMetadata(t.s3, 'json-bucket', 'fresh.xml.json');
    expect(JSON.parse(out.body)[0].product_id).toBe('fresh');
  });
});

describe('transient failures', () => {
  it('retries with backoff for RETRY_FOR_HOURS, then fails the file', async () => {
    // An endpoint that refuses connections: every request fails with a network error (retryable).
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const dataDir = await mkdtemp(join(tmpdir(), 'ft-refused-'));
    const t = await startTestService({
      endpoint: `http://127.0.0.1:${port}`,
      dataDir,
      env: { RETRY_FOR_HOURS: String(1 / 3600), RETRY_BASE_SECONDS: '0.01', RETRY_MAX_SECONDS: '0.05' },
    });
    try {
      await t.service.recordVersions([{ bucket: 'xml-bucket', key: 'a.xml', etag: 'e1' }], 'event');
      const row = await waitForFile(t.service, 'a.xml', ['failed'], 60_000);
      expect(row.attempts).toBeGreaterThanOrEqual(2);
      expect(row.error).toMatch(
        new RegExp(`gave up after retrying for \\d+ s \\(${row.attempts} attempts\\)`),
      );
      const retries = (await t.service.metrics.retriesTotal.get()).values[0]?.value;
      expect(retries).toBe(row.attempts - 1);
      const health = await t.service.health();
      expect(health.ok).toBe(false);
      expect(health.checks.find((c) => c.name === 'ledger')?.ok).toBe(true);
      expect(health.checks.find((c) => c.name === 'source-bucket')?.ok).toBe(false);
    } finally {
      await t.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('a failing upload', () => {
  it('is a retryable failure that tears the conversion down instead of stalling it', async () => {
    // No target bucket: the multipart upload (the output is over one 8 MiB part) fails after the
    // converter has started, which must stop the converter and the download, not leave them waiting.
    const s3 = await startS3rver(['xml-bucket']);
    const t = await startTestService({ endpoint: s3.endpoint, env: { RETRY_FOR_HOURS: String(1 / 3600) } });
    try {
      const etag = await putObject(t.s3, 'xml-bucket', 'big.xml', smallCatalogue(1, 100_000));
      await t.service.recordVersions([{ bucket: 'xml-bucket', key: 'big.xml', etag }], 'api');
      const row = await waitForFile(t.service, 'big.xml', ['failed', 'done'], 60_000);
      expect(row.state).toBe('failed');
      expect(row.attempts).toBeGreaterThanOrEqual(2);
      expect(row.error).toMatch(/gave up after retrying for \d+ s \(\d+ attempts\): target bucket/);
      expect((await t.service.metrics.retriesTotal.get()).values[0]?.value).toBe(row.attempts - 1);
    } finally {
      await t.close();
      await s3.close();
    }
  });
});
