/**
 * A schedule changed through the API is persisted by the service: it survives a restart (same data
 * directory), and wins over the environment's default.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from 'vitest';
import { startTestApi, type TestApi } from './support/api-server.js';
import { startS3rver, type TestS3 } from './support/s3rver.js';

const TOKEN = 'schedule-test-token';

let s3: TestS3;
let api: TestApi;

beforeAll(async () => {
  s3 = await startS3rver();
});

// A fresh service (and data directory) per test: each starts from the environment's schedule.
beforeEach(async () => {
  api = await startTestApi({ endpoint: s3.endpoint, apiToken: TOKEN });
});

afterEach(async () => {
  await api?.close();
});

afterAll(async () => {
  await s3?.close();
});

interface Schedule {
  intervalHours: number | null;
  cron: string | null;
  nextRunAt: string | null;
}

async function schedule(): Promise<Schedule> {
  return (await (await api.call('GET', '/api/schedule')).json()) as Schedule;
}

test('a cron schedule set through the API survives a restart', async () => {
  expect(await schedule()).toMatchObject({ intervalHours: 3, cron: null });

  const res = await api.call('PUT', '/api/schedule', { auth: true, body: { cron: '15 */2 * * *' } });
  expect(res.status).toBe(200);
  const set = (await res.json()) as Schedule;
  expect(set).toMatchObject({ cron: '15 */2 * * *', intervalHours: null });
  // The next run is the next hh:15 with an even hour (UTC or local, minutes are 15 either way).
  expect(new Date(set.nextRunAt!).getUTCMinutes()).toBe(15);

  await api.restart();
  expect(await schedule()).toMatchObject({ cron: '15 */2 * * *', intervalHours: null });
});

test('an interval set through the API survives a restart', async () => {
  expect(await schedule()).toMatchObject({ intervalHours: 3, cron: null });
  const res = await api.call('PUT', '/api/schedule', { auth: true, body: { intervalHours: 0.5 } });
  expect(res.status).toBe(200);
  await api.restart();
  const after = await schedule();
  expect(after).toMatchObject({ intervalHours: 0.5, cron: null });
  const inMs = Date.parse(after.nextRunAt!) - Date.now();
  expect(inMs).toBeGreaterThan(0);
  expect(inMs).toBeLessThanOrEqual(30 * 60_000);
});

test.each([
  [{ intervalHours: true }, /intervalHours must be a number/],
  [{ intervalHours: '2' }, /intervalHours must be a number/],
  [{ cron: '*/10 * * * * *' }, /at most once a minute/],
  [{ cron: '* 0 * * * *' }, /at most once a minute/],
])('PUT /api/schedule %j is 400 with the error shape', async (body, message) => {
  const before = await schedule();
  const res = await api.call('PUT', '/api/schedule', { auth: true, body });
  expect(res.status).toBe(400);
  const err = (await res.json()) as { error: string; message: string };
  expect(err.error).toBe('BadRequest');
  expect(err.message).toMatch(message);
  expect(await schedule()).toEqual(before);
});

test('a persisted schedule that is not valid is not used at start-up (the configured one is)', async () => {
  await api.ts.service.ledger.setSetting('schedule', JSON.stringify({ cron: '* * * * * *' }));
  await api.restart();
  expect(await schedule()).toMatchObject({ intervalHours: 3, cron: null, source: 'config' });
  await api.ts.service.ledger.setSetting('schedule', '{not json');
  await api.restart();
  expect(await schedule()).toMatchObject({ intervalHours: 3, cron: null, source: 'config' });
});
