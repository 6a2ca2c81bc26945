import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3rver, type TestS3 } from './support/s3rver.js';
import { putObject, startTestService, type TestService, waitForFile } from './support/service.js';

const ITEM = '<items><item id="1"><category>c</category><description>d</description></item></items>';

/** Uploads with bounded parallelism (s3rver writes files; a thousand at once would only thrash). */
async function uploadAll(t: TestService, keys: string[], body: string): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < keys.length) await putObject(t.s3, 'xml-bucket', keys[next++]!, body);
    }),
  );
}

describe('scan over more than one page', () => {
  let s3: TestS3;
  let t: TestService;
  beforeAll(async () => {
    s3 = await startS3rver();
    t = await startTestService({ endpoint: s3.endpoint, env: { SOURCE_PREFIX: 'feed/' } });
  });
  afterAll(async () => {
    await t?.close();
    await s3?.close();
  });

  it('lists every page (1000 keys each) and records only matching keys under the prefix', async () => {
    // 1050 non-catalogue objects sort before the catalogues, so those are only on the second page.
    const filler = Array.from({ length: 1050 }, (_, i) => `feed/a-${String(i).padStart(4, '0')}.txt`);
    await uploadAll(t, filler, 'x');
    await uploadAll(t, ['feed/z-1.xml', 'feed/z-2.xml.gz', 'elsewhere/z-3.xml'], ITEM);

    const scan = await t.service.requestScan();
    const finished = await t.service.waitForScan(scan.id);
    expect(finished).toMatchObject({ status: 'done', listed: 1052, matched: 2, error: null });
    expect(finished!.recorded).toBe(2);
    expect((await waitForFile(t.service, 'feed/z-1.xml')).state).toBe('done');
    expect(await t.service.getFileVersions('elsewhere/z-3.xml')).toEqual([]);
    expect(
      Number((await t.service.metrics.scanObjectsListedTotal.get()).values[0]?.value),
    ).toBeGreaterThanOrEqual(1052);
  });
});
