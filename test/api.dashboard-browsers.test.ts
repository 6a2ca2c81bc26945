/**
 * The console renders and answers a click in every Chromium this machine has: the one inside the
 * `@sparticuz/chromium` npm package (always there, what a fresh machine uses), Debian's
 * `/usr/bin/chromium` where it is installed, and `CHROMIUM_PATH` when set. The full console suite
 * (test/console.*.test.ts) runs only with the first of them (support/chromium's default).
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestApi, type TestApi } from './support/api-server.js';
import { availableChromiums, launchChromium } from './support/chromium.js';
import { startS3rver, type TestS3 } from './support/s3rver.js';
import { putObject, waitFor } from './support/service.js';
import { smallCatalogue } from './support/small-catalogue.js';

let s3: TestS3;
let api: TestApi;

beforeAll(async () => {
  s3 = await startS3rver();
  api = await startTestApi({ endpoint: s3.endpoint });
  await putObject(api.ts.s3, 'xml-bucket', 'in/a.xml', smallCatalogue(1, 2));
  await api.ts.service.requestScan('api');
  await waitFor(async () => (await api.ts.service.ledger.countByState()).done === 1);
});

afterAll(async () => {
  await api?.close();
  await s3?.close();
});

const chromiums = await availableChromiums();

test('the npm package always provides one', () => {
  expect(chromiums.map((c) => c.source)).toContain('@sparticuz/chromium');
});

describe.each(chromiums)('$source ($executablePath)', (binary) => {
  let browser: Browser;
  afterAll(async () => browser?.close());

  test('renders the console and filters on a change, with no script error', async () => {
    browser = await launchChromium(binary);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${api.base}/files`);
    await expect.poll(() => page.locator('#ready').textContent()).toBe('ready');
    await expect.poll(() => page.locator('#file-rows tr').count()).toBe(1);
    await page.locator('#filter-state').selectOption('failed');
    await expect.poll(() => page.locator('#files-summary').textContent()).toBe('No files (failed).');
    expect(await page.locator('#file-rows tr').count()).toBe(0);
    expect(errors).toEqual([]);
  });
});
