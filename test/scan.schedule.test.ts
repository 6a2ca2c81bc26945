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
    // The first scheduled scan (scans are listed newest first) found the file no event announced.
    const firstScheduled = await waitFor(
      async () =>
        (await t.service.listScans(10)).filter((s) => s.trigger === 'schedule' && s.status === 'done').at(-1),
      30_000,
      'a scheduled scan',
    );
    expect(firstScheduled.recorded).toBe(1);
    expect((await waitForFile(t.service, 'quiet.xml')).state).toBe('done');
    // When exactly it runs, and that a new schedule replaces the timer, is scan.scheduler-timing's
    // part, on fake time.
  });
});
