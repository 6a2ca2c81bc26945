import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Metrics } from '../src/metrics.js';
import { startS3rver, type TestS3 } from './support/s3rver.js';
import { putObject, startTestService, type TestService } from './support/service.js';

const ITEM = '<items><item id="1"><category>c</category><description>d</description></item></items>';

async function conversions(metrics: Metrics): Promise<number> {
  const values = (await metrics.filesTotal.get()).values;
  return values.filter((v) => v.labels.outcome === 'done').reduce((s, v) => s + v.value, 0);
}

describe('concurrent scans', () => {
  let s3: TestS3;
  let dataDir: string;
  let a: TestService;
  let b: TestService;
  beforeAll(async () => {
    s3 = await startS3rver();
    dataDir = await mkdtemp(join(tmpdir(), 'ft-shared-'));
    // Two services on one ledger: like `scan --once` from cron next to `serve`, or two instances.
    a = await startTestService({ endpoint: s3.endpoint, dataDir, env: { CONCURRENCY: '3' } });
    b = await startTestService({ endpoint: s3.endpoint, dataDir, env: { CONCURRENCY: '3' } });
  });

  it("leaves the other live service's scan alone at start-up", async () => {
    const startup = await a.service.getScan(a.service.startupScan!.id);
    expect(startup?.error ?? null).toBeNull();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await s3?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('coalesces requests: while a scan runs, further requests share one queued scan', async () => {
    await a.service.waitForScan(a.service.startupScan!.id);
    const [first, second, third] = await Promise.all([
      a.service.requestScan(),
      a.service.requestScan(),
      a.service.requestScan(),
    ]);
    expect(second!.id).not.toBe(first!.id);
    expect(third!.id).toBe(second!.id);
    expect((await a.service.waitForScan(third!.id))?.status).toBe('done');
    expect((await a.service.getScan(first!.id))?.status).toBe('done');
  });

  it('converts each file exactly once when scans and workers of two services overlap', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `batch/f-${i}.xml`);
    for (const key of keys) await putObject(a.s3, 'xml-bucket', key, ITEM);
    const before = (await conversions(a.service.metrics)) + (await conversions(b.service.metrics));

    const scans = await Promise.all([
      a.service.requestScan(),
      b.service.requestScan(),
      a.service.requestScan(),
      b.service.requestScan(),
    ]);
    await Promise.all(scans.map((s, i) => (i % 2 === 0 ? a : b).service.waitForScan(s.id)));
    await Promise.all([a.service.drain(), b.service.drain()]);
    const after = (await conversions(a.service.metrics)) + (await conversions(b.service.metrics));
    expect(after - before).toBe(keys.length);
    const rows = await a.service.listFiles({ prefix: 'batch/', limit: 1000 });
    expect(rows.files).toHaveLength(keys.length);
    expect(rows.files.every((f) => f.state === 'done' && f.attempts === 1)).toBe(true);

    // Scanning again records and converts nothing.
    const again = await b.service.requestScan();
    expect((await b.service.waitForScan(again.id))?.recorded).toBe(0);
    await Promise.all([a.service.drain(), b.service.drain()]);
    expect((await conversions(a.service.metrics)) + (await conversions(b.service.metrics))).toBe(after);
  });
});
