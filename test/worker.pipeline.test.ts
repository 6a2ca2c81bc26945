/**
 * The one-version pipeline on its own, as a host without a ledger, scheduler, pool or API (an AWS
 * Lambda handler) calls it: real s3rver, a plain S3 client, no service.
 */
import { DeleteObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { createS3Client } from '../src/storage/s3-client.js';
import { convertVersion, type PipelineSettings } from '../src/worker/pipeline.js';
import { S3RVER_CREDENTIALS, startS3rver, type TestS3 } from './support/s3rver.js';
import { getObjectWithMetadata, putObject } from './support/service.js';

const settings: PipelineSettings = {
  targetBucket: 'json-bucket',
  reportBucket: 'json-bucket',
  reportPrefix: '_reports/',
  strict: false,
  maxImageType: 100,
  maxFileBytes: 1024 * 1024,
  maxItemBytes: 64 * 1024,
};
const logger = createLogger('silent');
const CATALOGUE = '<items><item id="7"><category>c</category><description>d</description></item></items>';

describe('convertVersion without a service', () => {
  let s3rver: TestS3;
  let s3: S3Client;
  beforeAll(async () => {
    s3rver = await startS3rver(['xml-bucket', 'json-bucket']);
    s3 = createS3Client({
      region: 'us-east-1',
      endpoint: s3rver.endpoint,
      credentials: { ...S3RVER_CREDENTIALS },
    });
  });
  afterAll(async () => {
    s3?.destroy();
    await s3rver?.close();
  });

  const run = (key: string, etag: string, extra: { force?: boolean } = {}) =>
    convertVersion({
      s3,
      settings,
      version: { bucket: 'xml-bucket', key, etag, ...extra },
      logger,
      signal: new AbortController().signal,
    });

  it('converts a version, then finds it converted (source-etag) instead of converting it again', async () => {
    const etag = await putObject(s3, 'xml-bucket', 'lambda/a.xml', CATALOGUE);
    const first = await run('lambda/a.xml', etag);
    expect(first).toMatchObject({
      state: 'done',
      outcome: { outputKey: 'lambda/a.xml.json', itemsWritten: 1, itemsRejected: 0, reportKey: null },
    });
    expect(first.converted?.itemsWritten).toBe(1);
    const out = await getObjectWithMetadata(s3, 'json-bucket', 'lambda/a.xml.json');
    expect(JSON.parse(out.body)).toMatchObject([{ product_id: '7', product_category: 'c' }]);
    expect(out.metadata['source-etag']).toBe(etag);

    const again = await run('lambda/a.xml', etag);
    expect(again).toEqual({
      state: 'done',
      outcome: { outputKey: 'lambda/a.xml.json', itemsWritten: 1, itemsRejected: 0 },
      converted: null,
    });
    expect((await run('lambda/a.xml', etag, { force: true })).converted?.itemsWritten).toBe(1);
  });

  it('fails a bad file with its code and report, leaving no output', async () => {
    const etag = await putObject(s3, 'xml-bucket', 'lambda/bad.xml', '<items><item id="1"></items>');
    const result = await run('lambda/bad.xml', etag);
    expect(result).toMatchObject({
      state: 'failed',
      outcome: { errorCode: 'bad-file', reportKey: '_reports/lambda/bad.xml.report.json' },
    });
    await expect(
      s3.send(new HeadObjectCommand({ Bucket: 'json-bucket', Key: 'lambda/bad.xml.json' })),
    ).rejects.toMatchObject({ name: 'NotFound' });
  });

  it('reports a deleted object as gone and a replaced one as skipped', async () => {
    const etag = await putObject(s3, 'xml-bucket', 'lambda/gone.xml', CATALOGUE);
    await s3.send(new DeleteObjectCommand({ Bucket: 'xml-bucket', Key: 'lambda/gone.xml' }));
    expect(await run('lambda/gone.xml', etag)).toMatchObject({
      state: 'gone',
      outcome: { errorCode: 'object-gone' },
    });

    const old = await putObject(s3, 'xml-bucket', 'lambda/replaced.xml', CATALOGUE);
    await putObject(s3, 'xml-bucket', 'lambda/replaced.xml', CATALOGUE.replace('id="7"', 'id="8"'));
    expect(await run('lambda/replaced.xml', old)).toMatchObject({
      state: 'skipped',
      outcome: { errorCode: null },
    });
  });

  it('rejects with a retryable, classified error when the target bucket is missing', async () => {
    const etag = await putObject(s3, 'xml-bucket', 'lambda/nowhere.xml', CATALOGUE);
    await expect(
      convertVersion({
        s3,
        settings: { ...settings, targetBucket: 'missing-target' },
        version: { bucket: 'xml-bucket', key: 'lambda/nowhere.xml', etag, fresh: true },
        logger,
        signal: new AbortController().signal,
      }),
    ).rejects.toMatchObject({ name: 'TransientError', code: 'no-such-bucket', retryable: true });
  });
});
