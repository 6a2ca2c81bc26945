/// <reference lib="dom" />
/**
 * The console's overview and actions in a real browser against a service with an API token: health
 * with each check, counts, the last scans and the 24-hour charts; a refused action explained in the
 * API's words, then done once the token is given (kept in sessionStorage only); the schedule changed
 * to a cron expression after seeing its next runs.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type ConsoleHarness, eventually, filePath, SOURCE, startConsole } from './support/console.js';
import { putObject } from './support/service.js';
import { smallCatalogue } from './support/small-catalogue.js';

const TOKEN = 'console-test-token';
let h: ConsoleHarness;

beforeAll(async () => {
  h = await startConsole({ apiToken: TOKEN });
  await h.upload('overview/a.xml', smallCatalogue(1, 3));
  await h.upload('overview/broken.xml', '<nsx:items><nsx:item');
});

afterAll(async () => {
  await h?.close();
});

test('the overview shows each readiness check, counts, the last scans and the 24-hour charts', async () => {
  const page = await h.open('/');
  await eventually(() => page.locator('#ready').textContent()).toBe('ready');
  const checks = page.locator('#health-body li');
  await eventually(() => checks.evaluateAll((li) => li.map((l) => l.getAttribute('data-check')))).toEqual([
    'ledger',
    'workers',
    'source-bucket',
    'target-bucket',
  ]);
  // biome-ignore lint/performance/useDomNodeTextContent: the text as rendered (what the operator reads) is what is checked
  expect(await checks.first().innerText()).toMatch(/ledger\s+ok, \d+ ms/);
  await eventually(() => page.locator('#counts-body a[data-state="done"] .count').textContent()).toBe('1');
  expect(await page.locator('#counts-body a[data-state="failed"] .count').textContent()).toBe('1');
  expect(await page.locator('#counts-body a[data-state="failed"]').getAttribute('href')).toBe(
    '/files?state=failed',
  );
  // The start-up scan: trigger, status, listed and recorded.
  const scan = page.locator('#scans-rows tr').last();
  expect(await scan.locator('td').allTextContents()).toEqual(expect.arrayContaining(['startup', 'done']));
  const charts = page.locator('#charts-body figure');
  expect(await charts.locator('figcaption').allTextContents()).toEqual([
    'Files converted per hour',
    'Items converted per hour',
    'Failed files per hour',
    'Upload → JSON lag',
  ]);
  expect(await charts.nth(0).locator('svg').getAttribute('aria-label')).toMatch(
    /^Files converted per hour: 1 in the last 24 hours/,
  );
  expect(await charts.nth(1).locator('svg').getAttribute('aria-label')).toMatch(/: 3 in the last 24 hours/);
  expect(await charts.nth(2).locator('svg').getAttribute('aria-label')).toMatch(/: 1 in the last 24 hours/);
  expect(await charts.nth(3).locator('svg').getAttribute('aria-label')).toMatch(/p50 \d/);
  // Every ledger keeps the instances' heartbeats: this service lists itself, running.
  expect(await page.locator('#instances').isVisible()).toBe(true);
  const rows = page.locator('#instances-body tbody tr');
  expect(await rows.count()).toBe(1);
  expect(await rows.first().locator('.state').textContent()).toBe('running');
  // By its id (host:pid:random), marked as the instance that answered, with its heartbeat.
  expect(await rows.first().locator('th').textContent()).toMatch(/^.+:\d+:[0-9a-f]+ \(this one\)$/);
  expect(await rows.first().locator('td[data-label="Last heartbeat"] time').getAttribute('datetime')).toMatch(
    /^\d{4}-\d\d-\d\dT/,
  );
});

test('an action without the token shows the refusal in words, asks for the token once, then runs', async () => {
  const key = 'actions/new.xml';
  await putObject(h.api.ts.s3, SOURCE, key, smallCatalogue(10, 2));
  const page = await h.open('/');
  await page.getByRole('button', { name: 'Scan now' }).click();
  const reason = page.locator('#token-reason');
  await eventually(() => reason.textContent()).toBe(
    'The service refused: this call changes state: send Authorization: Bearer <API_TOKEN>. Enter its API token to continue.',
  );
  expect(await page.locator('#token').evaluate((el) => el === document.activeElement)).toBe(true);

  // A wrong token: refused again, in the API's words.
  await page.locator('#token').fill('not-the-token');
  await page.locator('#token').press('Enter');
  await eventually(() => reason.textContent()).toBe(
    'The service refused: the bearer token is not valid. Enter its API token to continue.',
  );
  expect(await h.api.ts.service.getFileVersions(key)).toEqual([]);

  await page.locator('#token').fill(TOKEN);
  await page.getByRole('button', { name: 'Use token' }).click();
  await eventually(() => page.locator('#scan-status').textContent()).toMatch(
    /^Scan \d+: done \(\d+ listed, 1 new\)$/,
  );
  expect(await page.locator('#token-form').isHidden()).toBe(true);
  expect(await page.evaluate(() => [sessionStorage.getItem('ft-token'), localStorage.length])).toEqual([
    TOKEN,
    0,
  ]);

  // The token is kept for this tab: the next action asks nothing.
  await page.goto(`${h.api.base}${filePath(key)}`);
  await page.getByRole('button', { name: 'Reprocess' }).click();
  await eventually(() => page.locator('#action-status').textContent()).toBe('Queued for conversion again.');
  expect(await page.locator('#token-form').isHidden()).toBe(true);
});

test('cancelling the token prompt (Escape) leaves the refusal on the page, focus on the button, and changes nothing', async () => {
  const page = await h.open(filePath('overview/a.xml'));
  await page.getByRole('button', { name: 'Reprocess' }).click();
  await eventually(() => page.locator('#token-form').isVisible()).toBe(true);
  await page.locator('#token').press('Escape');
  await eventually(() => page.locator('#action-status').textContent()).toBe(
    'Not reprocessed. The service refused: this call changes state: send Authorization: Bearer <API_TOKEN>.',
  );
  expect(await page.locator('#token-form').isHidden()).toBe(true);
  // Focus is back on the button that asked.
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('reprocess');
  const [row] = await h.api.ts.service.getFileVersions('overview/a.xml');
  expect(row!.forced).toBe(false);
});

test('the schedule: a cron expression shows its next runs before saving, and saving applies it', async () => {
  const page = await h.open('/');
  await page.evaluate((token) => sessionStorage.setItem('ft-token', token), TOKEN);
  await page.getByText('Change the schedule', { exact: true }).first().click();
  await page.getByRole('radio', { name: 'Cron expression' }).check();
  const cron = page.locator('#cron');
  await cron.fill('not a cron');
  await eventually(() => page.locator('#preview-status').textContent()).toMatch(
    /^Not a valid schedule: cron: expected a cron expression/,
  );
  expect(await page.locator('#preview-runs li').count()).toBe(0);

  await cron.fill('15 6 * * *');
  await eventually(() => page.locator('#preview-runs li').count()).toBe(5);
  const runs = await page
    .locator('#preview-runs time')
    .evaluateAll((ts) => ts.map((t) => t.getAttribute('datetime')));
  const times = runs.map((r) => Date.parse(r!));
  expect(times[0]).toBeGreaterThan(Date.now());
  for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(24 * 3_600_000);
  expect(await h.api.ts.service.getSchedule()).toMatchObject({ cron: null, intervalHours: 3 });

  await page.getByRole('button', { name: 'Save schedule' }).click();
  await eventually(() => page.locator('#schedule-status').textContent()).toMatch(
    /^Saved: cron “15 6 \* \* \*”/,
  );
  const saved = await h.api.ts.service.getSchedule();
  expect(saved).toMatchObject({ cron: '15 6 * * *', source: 'settings' });
  expect(saved.nextRunAt).toBe(runs[0]);
  await eventually(() => page.locator('#schedule-rule').textContent()).toBe(
    'cron “15 6 * * *” (set through the API)',
  );

  // Back to an interval: its preview counts from now.
  await page.getByRole('radio', { name: 'Every N hours' }).check();
  await page.locator('#interval-hours').fill('6');
  await eventually(() => page.locator('#preview-runs li').count()).toBe(5);
  await page.getByRole('button', { name: 'Save schedule' }).click();
  await eventually(() => h.api.ts.service.getSchedule().then((s) => s.intervalHours)).toBe(6);
});

test('the pages ran without script errors', () => {
  expect(h.pageErrors).toEqual([]);
});
