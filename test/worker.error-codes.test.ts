/**
 * Error codes end to end: a real service on a real s3rver records each outcome's code in the ledger
 * (`error_code`), the API shows it (`errorCode`) and `/metrics` counts it; a missing bucket is retried
 * and never taken for a missing object.
 */
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../src/api/server.js';
import { startS3rver, type TestS3 } from './support/s3rver.js';
import { putObject, startTestService, type TestService, waitFor, waitForFile } from './support/service.js';

describe('error codes of outcomes', () => {
  let s3: TestS3;
  let t: TestService;
  let api: FastifyInstance;
  beforeAll(async () => {
    s3 = await startS3rver();
    // Transient failures (a missing bucket among them) are retried for RETRY_FOR_HOURS: 1 s here.
    t = await startTestService({ endpoint: s3.endpoint, env: { RETRY_FOR_HOURS: String(1 / 3600) } });
    api = await buildApi(t.service);
  });
  afterAll(async () => {
    await api?.close();
    await t?.close();
    await s3?.close();
  });

  async function errorsCounted(code: string, final: 'true' | 'false'): Promise<number> {
    const { values } = await t.service.metrics.errorsTotal.get();
    return values.find((v) => v.labels.code === code && v.labels.final === final)?.value ?? 0;
  }

  it('a source bucket that does not exist is retried as no-such-bucket, never marked gone', async () => {
    await t.service.recordVersions([{ bucket: 'missing-bucket', key: 'lost.xml', etag: 'e1' }], 'event');
    const rows = await t.service.ledger.listFiles('missing-bucket', {});
    const row = await waitFor(async () => {
      const r = await t.service.ledger.getFile(rows.files[0]!.id);
      return r && r.state !== 'pending' && r.state !== 'processing' ? r : null;
    });
    expect(row).toMatchObject({ state: 'failed', errorCode: 'no-such-bucket' });
    expect(row.attempts).toBeGreaterThanOrEqual(2);
    expect(row.error).toMatch(
      new RegExp(`^gave up after retrying for \\d+ s \\(${row.attempts} attempts\\): `),
    );
    expect(await errorsCounted('no-such-bucket', 'false')).toBe(row.attempts - 1);
    expect(await errorsCounted('no-such-bucket', 'true')).toBe(1);
  });

  it('a bad file is bad-file, a deleted object is object-gone, and the API shows both codes', async () => {
    await putObject(t.s3, 'xml-bucket', 'broken.xml', '<items><item id="1"></items>');
    const etag = await putObject(t.s3, 'xml-bucket', 'deleted.xml', '<items/>');
    await t.s3.send(new DeleteObjectCommand({ Bucket: 'xml-bucket', Key: 'deleted.xml' }));
    await t.service.recordVersions([{ bucket: 'xml-bucket', key: 'deleted.xml', etag }], 'event');
    await t.service.requestScan();

    expect(await waitForFile(t.service, 'broken.xml')).toMatchObject({
      state: 'failed',
      errorCode: 'bad-file',
    });
    expect(await waitForFile(t.service, 'deleted.xml')).toMatchObject({
      state: 'gone',
      errorCode: 'object-gone',
    });
    const res = await api.inject({ method: 'GET', url: '/api/files/broken.xml' });
    expect(res.json().versions[0]).toMatchObject({ state: 'failed', errorCode: 'bad-file' });
    expect(await errorsCounted('bad-file', 'true')).toBe(1);
    expect(await errorsCounted('object-gone', 'true')).toBe(1);
  });
});
