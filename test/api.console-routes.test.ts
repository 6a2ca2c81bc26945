/**
 * The routes the console reads, over real HTTP against a real service: the 24-hour timeline, the
 * last scans, the schedule preview, the downloads of outputs and reports (streamed from S3 through
 * the API, refusing a version whose output was replaced), the oldest-first listing, and the page
 * itself at every console URL with its Content-Security-Policy.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { buildTimeline } from '../src/api/timeline.js';
import { startTestApi, type TestApi } from './support/api-server.js';
import { startS3rver, type TestS3 } from './support/s3rver.js';
import { putObject, waitForFile } from './support/service.js';
import { smallCatalogue } from './support/small-catalogue.js';

const SOURCE = 'xml-bucket';
let s3: TestS3;
let api: TestApi;

beforeAll(async () => {
  s3 = await startS3rver();
  api = await startTestApi({ endpoint: s3.endpoint });
});

afterAll(async () => {
  await api?.close();
  await s3?.close();
});

async function convert(key: string, body: string): Promise<string> {
  const etag = await putObject(api.ts.s3, SOURCE, key, body);
  await api.ts.service.recordVersions([{ bucket: SOURCE, key, etag, eventTime: new Date() }], 'event');
  await waitForFile(api.ts.service, key);
  return etag;
}

test('the timeline counts this hour’s conversions, items and failures, with the lag', async () => {
  await convert('timeline/a.xml', smallCatalogue(1, 4));
  await convert('timeline/b.xml', '<nsx:items><nsx:item');
  const res = await api.call('GET', '/api/stats/timeline');
  expect(res.status).toBe(200);
  const body = (await res.json()) as ReturnType<typeof buildTimeline>;
  expect(body.hours).toHaveLength(24);
  // The hour the conversions finished in (not necessarily the last one, if an hour just began).
  const [row] = await api.ts.service.getFileVersions('timeline/a.xml');
  const hourOf = (iso: string) => Math.floor(Date.parse(iso) / 3_600_000);
  const now = body.hours.find((h) => hourOf(h.hour) === hourOf(row!.finishedAt!))!;
  expect(now).toMatchObject({ files: 1, items: 4, rejected: 0, failures: 1 });
  expect(now.lagP50Ms).toBeGreaterThanOrEqual(0);
  expect(now.lagP95Ms).toBe(now.lagP50Ms);
  expect(body.hours.filter((h) => h !== now).every((h) => h.files === 0 && h.lagP50Ms === null)).toBe(true);
  expect((await api.call('GET', '/api/stats/timeline?hours=0')).status).toBe(400);
});

test('the timeline’s percentiles are nearest-rank over the hour’s converted files', () => {
  const from = Date.UTC(2026, 0, 1);
  const done = (finishedAt: number, lag: number) => ({
    state: 'done' as const,
    finishedAt,
    uploadedAt: finishedAt - lag,
    itemsWritten: 1,
    itemsRejected: 0,
  });
  const rows = [
    ...Array.from({ length: 20 }, (_, i) => done(from + 1000 + i, (i + 1) * 1000)),
    done(from + 3_600_000, 7),
  ];
  const t = buildTimeline(rows, from, from + 2 * 3_600_000);
  expect(t.hours.map((h) => [h.files, h.lagP50Ms, h.lagP95Ms])).toEqual([
    [20, 10_000, 19_000],
    [1, 7, 7],
  ]);
});

test('GET /api/scans lists the last scans, newest first, with trigger and counts', async () => {
  const started = await api.ts.service.requestScan('api');
  await api.ts.service.waitForScan(started.id);
  const { scans } = (await (await api.call('GET', '/api/scans?limit=2')).json()) as {
    scans: { id: string; trigger: string; status: string; listed: number; recorded: number }[];
  };
  expect(scans).toHaveLength(2);
  expect(scans[0]).toMatchObject({ id: started.id, trigger: 'api', status: 'done' });
  expect(scans[0]!.listed).toBeGreaterThanOrEqual(2);
  expect(scans[1]).toMatchObject({ trigger: 'startup' });
});

test('the schedule preview lists the next runs without changing the schedule', async () => {
  const before = await api.ts.service.getSchedule();
  const cron = (await (
    await api.call('GET', '/api/schedule/preview?cron=0%20*%2F2%20*%20*%20*&count=3')
  ).json()) as {
    runs: string[];
  };
  expect(cron.runs).toHaveLength(3);
  const times = cron.runs.map(Date.parse);
  expect(times.every((t) => new Date(t).getUTCMinutes() === 0 && new Date(t).getUTCHours() % 2 === 0)).toBe(
    true,
  );
  expect(times[1]! - times[0]!).toBe(2 * 3_600_000);
  const interval = (await (await api.call('GET', '/api/schedule/preview?intervalHours=1.5')).json()) as {
    runs: string[];
  };
  expect(interval.runs).toHaveLength(5);
  expect(Date.parse(interval.runs[1]!) - Date.parse(interval.runs[0]!)).toBe(5_400_000);

  const bad = await api.call('GET', '/api/schedule/preview?cron=nope');
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { message: string }).message).toMatch(/^cron: expected a cron expression/);
  expect((await api.call('GET', '/api/schedule/preview')).status).toBe(400);
  expect((await api.call('GET', '/api/schedule/preview?cron=0%20*%20*%20*%20*&intervalHours=1')).status).toBe(
    400,
  );
  expect(await api.ts.service.getSchedule()).toEqual(before);
});

test('downloads stream the output and the report through the API; a replaced output is a 409', async () => {
  const key = 'downloads/cat alog+ue.xml';
  const first = await convert(key, smallCatalogue(1, 2));
  const out = await api.call('GET', `/api/outputs/${encodeURIComponent(key)}`);
  expect(out.status).toBe(200);
  expect(out.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(out.headers.get('content-disposition')).toBe(
    `attachment; filename="cat alog+ue.xml.json"; filename*=UTF-8''${encodeURIComponent('cat alog+ue.xml.json')}`,
  );
  expect(((await out.json()) as { product_id: string }[]).map((p) => p.product_id)).toEqual(['1', '2']);
  // Raw slashes name the same key.
  expect(
    (await api.call('GET', `/api/outputs/downloads/${encodeURIComponent('cat alog+ue.xml')}`)).status,
  ).toBe(200);
  // No rejections: the report is the ledger's copy.
  const report = (await (await api.call('GET', `/api/reports/${encodeURIComponent(key)}`)).json()) as {
    itemsWritten: number;
  };
  expect(report.itemsWritten).toBe(2);

  // A new upload replaces the output: the old version's output is refused, not someone else's bytes.
  const second = await convert(key, smallCatalogue(10, 1));
  const old = await api.call('GET', `/api/outputs/${encodeURIComponent(key)}?etag=${first}`);
  expect(old.status).toBe(409);
  expect(((await old.json()) as { message: string }).message).toContain(`now holds version ${second}`);
  const latest = await api.call('GET', `/api/outputs/${encodeURIComponent(key)}?etag=${second}`);
  expect(((await latest.json()) as { product_id: string }[]).map((p) => p.product_id)).toEqual(['10']);

  expect((await api.call('GET', '/api/outputs/no-such.xml')).status).toBe(404);
  expect((await api.call('GET', `/api/outputs/${encodeURIComponent(key)}?etag=nope`)).status).toBe(404);
  const broken = 'downloads/broken.xml';
  await convert(broken, '<nsx:items><nsx:item');
  const none = await api.call('GET', `/api/outputs/${encodeURIComponent(broken)}`);
  expect(none.status).toBe(404);
  expect(((await none.json()) as { message: string }).message).toMatch(/has no JSON output \(state failed\)/);
  const failedReport = (await (
    await api.call('GET', `/api/reports/${encodeURIComponent(broken)}`)
  ).json()) as {
    error: { message: string };
  };
  expect(failedReport.error.message).toMatch(/not well-formed/);
});

test('GET /api/files?order=oldest pages from the first version recorded', async () => {
  await convert('order/1.xml', smallCatalogue(1, 1));
  await convert('order/2.xml', smallCatalogue(1, 1));
  await convert('order/3.xml', smallCatalogue(1, 1));
  const page = async (cursor?: string) =>
    (await (
      await api.call(
        'GET',
        `/api/files?prefix=order/&order=oldest&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      )
    ).json()) as { files: { key: string }[]; nextCursor: string | null };
  const p1 = await page();
  expect(p1.files.map((f) => f.key)).toEqual(['order/1.xml', 'order/2.xml']);
  const p2 = await page(p1.nextCursor!);
  expect(p2.files.map((f) => f.key)).toEqual(['order/3.xml']);
  expect(p2.nextCursor).toBeNull();
  expect((await api.call('GET', '/api/files?order=sideways')).status).toBe(400);
});

test('every console URL answers the page with its CSP; assets are served, unknown ones are 404', async () => {
  for (const path of ['/', '/files', `/files/${encodeURIComponent('in/a b.xml')}`, '/files/in/a.xml']) {
    const res = await api.call('GET', path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'/);
    expect(await res.text()).toContain('<script type="module" src="/console/app.js"></script>');
  }
  const js = await api.call('GET', '/console/app.js');
  expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  expect((await api.call('GET', '/console/console.css')).headers.get('content-type')).toBe(
    'text/css; charset=utf-8',
  );
  expect((await api.call('GET', '/console/nope.js')).status).toBe(404);
  expect((await api.call('GET', '/console/..%2Fdashboard.ts')).status).toBe(404);
});
