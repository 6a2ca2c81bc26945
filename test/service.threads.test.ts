/**
 * The service converting on worker threads: a thread that dies fails only the file it was
 * converting, which is retried like any transient failure; other files convert meanwhile.
 */
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConvertThreadPool } from '../src/worker/thread-pool.js';
import { startS3rver, type TestS3 } from './support/s3rver.js';
import { getText, putObject, startTestService, type TestService, waitForFile } from './support/service.js';
import { smallCatalogue } from './support/small-catalogue.js';

describe('service on conversion threads', () => {
  let s3: TestS3;
  let t: TestService;
  let pool: ConvertThreadPool;
  beforeAll(async () => {
    s3 = await startS3rver();
    // The test-only hook: a thread converting a key containing "poison" crashes on its first chunk.
    pool = new ConvertThreadPool({ threads: 2, crashOnSource: 'poison' });
    t = await startTestService({
      endpoint: s3.endpoint,
      env: { MAX_ATTEMPTS: '3' },
      deps: { createConverter: pool.createConverter },
    });
  });
  afterAll(async () => {
    await t?.close();
    await pool?.close();
    await s3?.close();
  });

  it('retries a file whose thread died, gives up after MAX_ATTEMPTS, and converts the others', async () => {
    await putObject(t.s3, 'xml-bucket', 'poison.xml', smallCatalogue(1, 3));
    for (let i = 0; i < 4; i++)
      await putObject(t.s3, 'xml-bucket', `good-${i}.xml`, smallCatalogue(10 * i, 2));
    await t.service.requestScan();

    const poisoned = await waitForFile(t.service, 'poison.xml', ['failed'], 60_000);
    expect(poisoned.attempts).toBe(3);
    expect(poisoned.error).toMatch(
      /^gave up after 3 attempts: the conversion thread died: test-only crash hook/,
    );
    await expect(
      t.s3.send(new HeadObjectCommand({ Bucket: 'json-bucket', Key: 'poison.xml.json' })),
    ).rejects.toMatchObject({ name: 'NotFound' });

    for (let i = 0; i < 4; i++) {
      const row = await waitForFile(t.service, `good-${i}.xml`);
      expect(row).toMatchObject({ state: 'done', attempts: 1, itemsWritten: 2 });
      const products = JSON.parse(await getText(t.s3, 'json-bucket', `good-${i}.xml.json`));
      expect(products.map((p: { product_id: string }) => p.product_id)).toEqual([
        `${10 * i}`,
        `${10 * i + 1}`,
      ]);
    }
    expect(pool.stats()).toMatchObject({ busy: 0, queued: 0 });
  });
});
