/// <reference lib="dom" />
/**
 * The console's files table over 1,200 files, in a real browser: paged with the API's cursor (older,
 * newer, back), searched by key prefix, filtered by state, oldest first, and usable at 390 px.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type ConsoleHarness, eventually, SOURCE, startConsole } from './support/console.js';
import { putObject, waitForFile } from './support/service.js';

const FILES = 1200;
const PAGE = 50;
let h: ConsoleHarness;
const keyOf = (i: number) => `bulk/${String(i).padStart(4, '0')}.xml`;

beforeAll(async () => {
  h = await startConsole();
  // 1,200 versions recorded in one call, as a scan records a listing page: the table pages over
  // ledger rows, so the objects need not exist (the workers find them gone, a final state, while the
  // tests run: rows change state in place, their order does not). One real broken file gives the
  // state filter something to find.
  const brokenEtag = await putObject(h.api.ts.s3, SOURCE, keyOf(7), '<broken');
  const versions = Array.from({ length: FILES }, (_, i) => ({
    bucket: SOURCE,
    key: keyOf(i),
    etag: i === 7 ? brokenEtag : `etag-${i}`,
    size: 100,
    lastModified: new Date(),
  }));
  await h.api.ts.service.recordVersions(versions, 'scan');
  await waitForFile(h.api.ts.service, keyOf(7));
});

afterAll(async () => {
  await h?.close();
});

const keys = (page: import('playwright-core').Page) =>
  page.locator('#file-rows tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key')));

test('pages through 1,200 files 50 at a time with the cursor, and back', async () => {
  const page = await h.open('/files');
  await eventually(() => page.locator('#file-rows tr').count()).toBe(PAGE);
  const first = await keys(page);
  expect(new Set(first).size).toBe(PAGE);
  expect(await page.locator('#page-newer').isDisabled()).toBe(true);

  await page.locator('#page-older').click();
  await eventually(() => page.locator('#page-number').textContent()).toBe('Page 2');
  await eventually(async () => (await keys(page))[0] !== first[0]).toBe(true);
  const second = await keys(page);
  expect(second).toHaveLength(PAGE);
  expect(second.filter((k) => first.includes(k))).toEqual([]);
  expect(new URL(page.url()).searchParams.get('cursor')).toMatch(/^\d+$/);

  await page.locator('#page-older').click();
  await eventually(() => page.locator('#page-number').textContent()).toBe('Page 3');
  // The browser's Back returns to page 2, then "Newer" to page 1.
  await page.goBack();
  await eventually(() => keys(page)).toEqual(second);
  await page.locator('#page-newer').click();
  await eventually(() => keys(page)).toEqual(first);
  expect(await page.locator('#page-number').textContent()).toBe('Page 1');
});

test('searches by key prefix and pages the matches to the end', async () => {
  const page = await h.open('/files');
  await page.locator('#filter-prefix').fill('bulk/11');
  await eventually(() => new URL(page.url()).searchParams.get('prefix')).toBe('bulk/11');
  await eventually(async () => (await keys(page)).every((k) => k?.startsWith('bulk/11'))).toBe(true);
  const firstPage = await keys(page);
  expect(firstPage).toHaveLength(PAGE);
  expect(firstPage[0]).toBe('bulk/1199.xml');
  await page.locator('#page-older').click();
  await eventually(() => page.locator('#page-number').textContent()).toBe('Page 2');
  await eventually(() => keys(page)).toHaveLength(PAGE);
  expect((await keys(page)).at(-1)).toBe('bulk/1100.xml');
  // 100 matches: the second page is the last.
  expect(await page.locator('#page-older').isDisabled()).toBe(true);

  await page.locator('#filter-prefix').fill('bulk/0123');
  await eventually(() => keys(page)).toEqual(['bulk/0123.xml']);
  expect(await page.locator('#page-number').textContent()).toBe('Page 1');
  await page.locator('#filter-prefix').fill('nothing/');
  await eventually(() => page.locator('#files-summary').textContent()).toBe(
    'No files (key starting with “nothing/”).',
  );
});

test('filters by state from the URL and sorts oldest first', async () => {
  const page = await h.open('/files?state=failed');
  await eventually(() => keys(page)).toEqual([keyOf(7)]);
  expect(await page.locator('#filter-state').inputValue()).toBe('failed');
  await page.locator('#filter-state').selectOption('');
  await page.locator('#filter-order').selectOption('oldest');
  await eventually(async () => (await keys(page))[0]).toBe(keyOf(0));
  expect(await keys(page)).toEqual(Array.from({ length: PAGE }, (_, i) => keyOf(i)));
  await page.locator('#page-older').click();
  await eventually(async () => (await keys(page))[0]).toBe(keyOf(PAGE));
});

test('at 390 px the table becomes labelled cards, without sideways scrolling', async () => {
  const page = await h.open('/files?prefix=bulk/000', 390);
  await eventually(() => page.locator('#file-rows tr').count()).toBe(10);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  const label = await page
    .locator('#file-rows tr td')
    .first()
    .evaluate((td) => getComputedStyle(td, '::before').content);
  expect(label).toBe('"State"');
});

test('the pages ran without script errors', () => {
  expect(h.pageErrors).toEqual([]);
});
