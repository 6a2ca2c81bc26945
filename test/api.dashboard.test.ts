/**
 * The operations dashboard in a real browser (Chromium driven by playwright-core, see support/chromium) against
 * a real service: files by state, recent files (keys shown as text, never as HTML), filtering, and
 * "Scan now" asking for the API token first.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestApi, type TestApi } from './support/api-server.js';
import { launchChromium } from './support/chromium.js';
import { startS3rver, type TestS3 } from './support/s3rver.js';
import { putObject, waitFor } from './support/service.js';
import { smallCatalogue } from './support/small-catalogue.js';

const TOKEN = 'dashboard-test-token';
const SOURCE = 'xml-bucket';
/** A legal S3 key that would be markup if the page used innerHTML. */
const HTML_KEY = 'in/<img src=x onerror=alert(1)>.xml';

let s3: TestS3;
let api: TestApi;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  s3 = await startS3rver();
  api = await startTestApi({ endpoint: s3.endpoint, apiToken: TOKEN });
  await putObject(api.ts.s3, SOURCE, 'in/a.xml', smallCatalogue(1, 2));
  await putObject(api.ts.s3, SOURCE, HTML_KEY, smallCatalogue(10, 3));
  await putObject(api.ts.s3, SOURCE, 'in/broken.xml', '<nsx:items><nsx:item');
  await api.ts.service.requestScan('api');
  await waitFor(async () => {
    const counts = await api.ts.service.ledger.countByState();
    return counts.done === 2 && counts.failed === 1;
  });

  browser = await launchChromium();
  page = await browser.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('dialog', (dialog) => {
    pageErrors.push(`unexpected dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  await page.goto(`${api.base}/`);
});

afterAll(async () => {
  await browser?.close();
  await api?.close();
  await s3?.close();
});

function countOf(state: string) {
  return page.locator(`#states button[data-state="${state}"] .count`);
}

test('shows readiness, files by state and the schedule', async () => {
  await expect.poll(() => page.locator('#ready').textContent()).toBe('ready');
  await expect.poll(() => countOf('done').textContent()).toBe('2');
  expect(await countOf('failed').textContent()).toBe('1');
  expect(await countOf('pending').textContent()).toBe('0');
  expect(await countOf('all').textContent()).toBe('3');
  expect(await page.locator('#schedule').textContent()).toMatch(/^every 3 h, next /);
});

test('lists recent files with their state and counts, keys as text', async () => {
  const rows = page.locator('#files tr');
  await expect.poll(() => rows.count()).toBe(3);
  const htmlRow = page.locator('#files tr', { hasText: 'onerror' });
  expect(await htmlRow.locator('td.key').textContent()).toBe(HTML_KEY);
  expect(await htmlRow.locator('td').nth(1).textContent()).toBe('done');
  expect(await htmlRow.locator('td').nth(3).textContent()).toBe('3');
  // The key stayed text: no <img> element was created from it.
  expect(await page.locator('#files img').count()).toBe(0);
  const broken = page.locator('#files tr', { hasText: 'in/broken.xml' });
  expect(await broken.locator('td').nth(1).textContent()).toBe('failed');
  expect(await broken.locator('td.error').textContent()).toMatch(/not well-formed|end of input/);
});

test('a state button filters the list', async () => {
  await page.locator('#states button[data-state="failed"]').click();
  await expect.poll(() => page.locator('#files tr').count()).toBe(1);
  expect(await page.locator('#files td.key').textContent()).toBe('in/broken.xml');
  expect(await page.locator('#filter-label').textContent()).toBe('(failed)');
  await page.locator('#states button[data-state="all"]').click();
  await expect.poll(() => page.locator('#files tr').count()).toBe(3);
});

test('"Scan now" asks for the token, then scans and shows the new file', async () => {
  await putObject(api.ts.s3, SOURCE, 'in/new.xml', smallCatalogue(50, 4));
  await page.locator('#scan-now').click();
  await expect.poll(() => page.locator('#token-form').isVisible()).toBe(true);
  expect(await page.locator('#scan-status').textContent()).toMatch(/API token/);
  expect((await api.ts.service.ledger.countByState()).pending).toBe(0);

  await page.locator('#token').fill(TOKEN);
  await page.locator('#token-form button[type="submit"]').click();
  await expect.poll(() => page.locator('#scan-status').textContent()).toMatch(/: done \(\d+ listed, 1 new\)/);
  expect(await page.locator('#token-form').isVisible()).toBe(false);
  await expect.poll(() => countOf('done').textContent(), { timeout: 15_000 }).toBe('3');
  await expect.poll(() => page.locator('#files tr', { hasText: 'in/new.xml' }).count()).toBe(1);
});

test('the page ran without script errors', () => {
  expect(pageErrors).toEqual([]);
});
