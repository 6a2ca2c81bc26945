import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3rver, type TestS3 } from './support/s3rver.js';
import { putObject, startTestService, type TestService, waitFor, waitForFile } from './support/service.js';

const ITEM = '<items><item id="1"><category>c</category><description>d</description></item></items>';

describe('scheduled scans', () => {
  let s3: TestS3;
  let t: TestService;
  beforeAll(async () => {
    s3 = await startS3rver();
    t = await startTestService({ endpoint: s3.endpoint });
  });
  afterAll(async () => {
    await t?.close();
    await s3?.close();
  });

  it('runs on the schedule set at run time, and finds what no event announced', async () => {
    await t.service.waitForScan(t.service.startupScan!.id);
    await putObject(t.s3, 'xml-bucket', 'quiet.xml', ITEM);
    const info = await t.service.setSchedule({ intervalHours: 0.0003 }); // about a second
    expect(info).toMatchObject({ intervalHours: 0.0003, cron: null, source: 'settings' });
    const scheduled = await waitFor(
      async () =>
        (await t.service.listScans(10)).find((s) => s.trigger === 'schedule' && s.status === 'done'),
      30_000,
      'a scheduled scan',
    );
    expect(scheduled.recorded).toBeGreaterThanOrEqual(1);
    expect((await waitForFile(t.service, 'quiet.xml')).state).toBe('done');

    // Rescheduling replaces the timer: with a daily cron, no further scheduled scan starts.
    await t.service.setSchedule({ cron: '0 0 * * *' });
    const count = (await t.service.listScans(100)).filter((s) => s.trigger === 'schedule').length;
    await new Promise((r) => setTimeout(r, 1500));
    expect((await t.service.listScans(100)).filter((s) => s.trigger === 'schedule').length).toBe(count);
  });
});
