/// <reference lib="dom" />
/**
 * The console's file page and files table in a real browser: the partner's sample converted (with
 * its JSON downloaded through the API), rejected items listed by line, a broken file's error,
 * reprocess, and a new upload appearing in the table without a reload.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type ConsoleHarness, eventually, filePath, startConsole } from './support/console.js';
import { putObject, waitFor, waitForFile } from './support/service.js';
import { smallCatalogue } from './support/small-catalogue.js';

let h: ConsoleHarness;
let sample: Buffer;

beforeAll(async () => {
  h = await startConsole();
  sample = await readFile(join(import.meta.dirname, '..', 'samples', 'seed-sample.xml'));
});

afterAll(async () => {
  await h?.close();
});

/** Lines 1-2 header; each item below starts on the line noted. */
function catalogueWithRejections(): { xml: string; badPriceLine: number; noIdLine: number } {
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<nsx:items>'];
  const item = (attrs: string, price: string) => {
    const start = lines.length + 1;
    lines.push(
      ` <nsx:item${attrs}>`,
      '  <nsx:category>Jeans</nsx:category>',
      '  <nsx:description>Slim</nsx:description>',
      `  <nsx:prices><nsx:price><nsx:currency>EUR</nsx:currency><nsx:value>${price}</nsx:value></nsx:price></nsx:prices>`,
      ' </nsx:item>',
    );
    return start;
  };
  item(' id="ok-1"', '10.00');
  const badPriceLine = item(' id="bad-price-7"', '49,95');
  const noIdLine = item('', '5.00');
  item(' id="ok-2"', '12.50');
  lines.push('</nsx:items>', '');
  return { xml: lines.join('\n'), badPriceLine, noIdLine };
}

test('the partner sample: converted, its versions and counts shown, its JSON downloadable through the API', async () => {
  const key = `${h.freshPrefix()}catalogue.xml`;
  await h.upload(key, sample);
  const page = await h.open(filePath(key));
  await eventually(() => page.locator('#file-state .state').textContent()).toBe('done');
  const version = page.locator('article.version');
  expect(await version.count()).toBe(1);
  // biome-ignore lint/performance/useDomNodeTextContent: the text as rendered (what the operator reads) is what is checked
  const facts = await version.locator('dl.facts').innerText();
  expect(facts).toMatch(/Items written\s+2/);
  expect(facts).toMatch(/Attempts\s+1/);
  expect(facts).toMatch(/Discovered\s+by event/);
  expect(await page.locator('#rejections-none').textContent()).toBe('No rejected items.');

  const href = await page.locator('a.download-output').getAttribute('href');
  expect(href).toMatch(/^\/api\/outputs\//);
  const res = await page.request.get(`${h.api.base}${href}`);
  expect(res.status()).toBe(200);
  expect(res.headers()['content-disposition']).toMatch(/attachment; filename="catalogue.xml.json"/);
  const expected = JSON.parse(
    await readFile(join(import.meta.dirname, 'fixtures', 'seed-sample.expected.json'), 'utf8'),
  );
  expect(await res.json()).toEqual(expected);
});

test('a file with rejected items lists them by line, product id, field and reason', async () => {
  const key = `${h.freshPrefix()}rejects.xml`;
  const { xml, badPriceLine, noIdLine } = catalogueWithRejections();
  await h.upload(key, xml);
  const page = await h.open(filePath(key));
  const rows = page.locator('#rejections tbody tr');
  await eventually(() => rows.count()).toBe(2);
  const cells = async (i: number) => rows.nth(i).locator('td').allTextContents();
  expect(await cells(0)).toEqual([
    String(badPriceLine),
    'bad-price-7',
    'prices.value',
    'price value "49,95" is not a plain decimal number',
  ]);
  const noId = await cells(1);
  expect(noId.slice(0, 2)).toEqual([String(noIdLine), '(none)']);
  expect(noId[2]).toBe('id');
  expect(await page.locator('#rejections caption').textContent()).toBe('Rejected items (2)');
  // The report of a file with rejections is in the report bucket; the link streams it through the API.
  const href = await page.locator('a.download-report').getAttribute('href');
  const report = await (await page.request.get(`${h.api.base}${href}`)).json();
  expect(report.rejections.map((r: { line: number }) => r.line)).toEqual([badPriceLine, noIdLine]);
});

test('a broken file shows its error with the line, and offers no JSON', async () => {
  const key = `${h.freshPrefix()}broken.xml`;
  await h.upload(key, '<nsx:items>\n <nsx:item id="1">\n</nsx:items>\n');
  const page = await h.open(filePath(key));
  await eventually(() => page.locator('#file-state .state').textContent()).toBe('failed');
  // biome-ignore lint/performance/useDomNodeTextContent: the text as rendered (what the operator reads) is what is checked
  expect(await page.locator('#report-error').innerText()).toMatch(
    /^The file failed as a whole\s+Line 3: not well-formed XML/,
  );
  // biome-ignore lint/performance/useDomNodeTextContent: the text as rendered (what the operator reads) is what is checked
  expect(await page.locator('.version-error').innerText()).toMatch(/^Failed: .*not well-formed/);
  expect(await page.locator('a.download-output').count()).toBe(0);
});

test('reprocess converts the file again and the page follows it to done', async () => {
  const key = `${h.freshPrefix()}again.xml`;
  await h.upload(key, smallCatalogue(1, 2));
  const [before] = await h.api.ts.service.getFileVersions(key);
  const page = await h.open(filePath(key));
  await eventually(() => page.locator('#file-state .state').textContent()).toBe('done');
  await page.getByRole('button', { name: 'Reprocess' }).click();
  await eventually(() => page.locator('#action-status').textContent()).toBe('Queued for conversion again.');
  const after = await waitFor(async () => {
    const [row] = await h.api.ts.service.getFileVersions(key);
    return row && row.state === 'done' && row.finishedAt !== before!.finishedAt ? row : null;
  });
  expect(after.id).toBe(before!.id);
  await eventually(() => page.locator('#file-state .state').textContent()).toBe('done');
  await eventually(() =>
    page.locator('article.version time').evaluateAll((times) => times.map((t) => t.getAttribute('datetime'))),
  ).toContain(after.finishedAt);
});

test('a new upload appears in the files table without a reload, where the operator is', async () => {
  const prefix = h.freshPrefix();
  await h.upload(`${prefix}first.xml`, smallCatalogue(1, 1));
  const page = await h.open(`/files?prefix=${encodeURIComponent(prefix)}`);
  const rows = page.locator('#file-rows tr');
  await eventually(() => rows.count()).toBe(1);
  await page.evaluate(() => {
    (window as unknown as { stayed: boolean }).stayed = true;
  });
  await page.locator('#filter-prefix').focus();

  const key = `${prefix}second.xml`;
  const etag = await putObject(h.api.ts.s3, 'xml-bucket', key, smallCatalogue(5, 1));
  await h.api.ts.service.recordVersions([{ bucket: 'xml-bucket', key, etag }], 'event');
  await eventually(() => rows.first().getAttribute('data-key')).toBe(key);
  await waitForFile(h.api.ts.service, key);
  await eventually(() => rows.first().locator('.state').textContent()).toBe('done');
  expect(await rows.count()).toBe(2);
  // Same document (no reload), same filter, focus where it was.
  expect(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true);
  expect(await page.locator('#filter-prefix').inputValue()).toBe(prefix);
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('filter-prefix');
});

test('the pages ran without script errors', () => {
  expect(h.pageErrors).toEqual([]);
});
