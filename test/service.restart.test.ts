import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startS3rver, type TestS3 } from './support/s3rver.js';
import { getText, putObject, startTestService, waitForFile } from './support/service.js';

const ITEM = '<items><item id="9"><category>c</category><description>d</description></item></items>';

describe('restart', () => {
  let s3: TestS3;
  let dataDir: string;
  beforeAll(async () => {
    s3 = await startS3rver();
  });
  // Each test restarts on a data directory of its own: a schedule one persists is not another's start.
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ft-restart-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await s3?.close();
  });

  it('converts files uploaded while it was stopped at start-up, without waiting for the schedule', async () => {
    const env = { SCAN_INTERVAL_HOURS: '24' };
    const first = await startTestService({ endpoint: s3.endpoint, dataDir, env });
    await putObject(first.s3, 'xml-bucket', 'before.xml', ITEM);
    await first.service.requestScan().then((s) => first.service.waitForScan(s.id));
    await waitForFile(first.service, 'before.xml', ['done']);
    await first.close();

    // While stopped: a new file arrives.
    await putObject(first.s3, 'xml-bucket', 'while-down.xml', ITEM);

    const second = await startTestService({ endpoint: s3.endpoint, dataDir, env });
    try {
      const schedule = await second.service.getSchedule();
      expect(schedule.intervalHours).toBe(24);
      expect(Date.parse(schedule.nextRunAt!) - Date.now()).toBeGreaterThan(23 * 3_600_000);
      const row = await waitForFile(second.service, 'while-down.xml', ['done']);
      expect(row.discoveredBy).toBe('scan');
      expect(JSON.parse(await getText(second.s3, 'json-bucket', 'while-down.xml.json'))[0].product_id).toBe(
        '9',
      );
      // The file converted before the restart is not converted again.
      const before = await second.service.getFileVersions('before.xml');
      expect(before).toHaveLength(1);
      expect(before[0]!.attempts).toBe(1);
    } finally {
      await second.close();
    }
  });

  it('persists a schedule changed at run time and validates it', async () => {
    const a = await startTestService({ endpoint: s3.endpoint, dataDir });
    try {
      await expect(a.service.setSchedule({ cron: 'not a cron' })).rejects.toThrow(/cron/);
      await expect(a.service.setSchedule({ intervalHours: -1 })).rejects.toThrow(/intervalHours/);
      await expect(a.service.setSchedule({ intervalHours: 24 * 366 + 1 })).rejects.toThrow(/at most 8784/);
      await expect(a.service.setSchedule({ intervalHours: Number.NaN })).rejects.toThrow(/intervalHours/);
      const set = await a.service.setSchedule({ cron: '0 5 * * *' });
      expect(set).toMatchObject({ cron: '0 5 * * *', intervalHours: null, source: 'settings' });
      expect(new Date(set.nextRunAt!).getMinutes()).toBe(0);
    } finally {
      await a.close();
    }
    const b = await startTestService({ endpoint: s3.endpoint, dataDir });
    try {
      expect(await b.service.getSchedule()).toMatchObject({ cron: '0 5 * * *', source: 'settings' });
    } finally {
      await b.close();
    }
  });
});
