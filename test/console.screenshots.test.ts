/// <reference lib="dom" />
/**
 * The console's main views at 1,400 px and 390 px, with a day of history: each view fits the width
 * (no sideways scrolling at 390 px) and renders without script errors. The screenshots shown in the
 * README are these: `UPDATE_SCREENSHOTS=1 npx vitest run test/console.screenshots.test.ts` writes
 * them to docs/console-*.png (each checked to stay under 300 KB).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { packageRoot } from '../src/package-root.js';
import { type ConsoleHarness, eventually, filePath, startConsole } from './support/console.js';
import { smallCatalogue } from './support/small-catalogue.js';

const HOUR = 3_600_000;
const WRITE = process.env.UPDATE_SCREENSHOTS === '1';
const REJECTS_KEY = 'partner/2026-11-30/catalogue-0900.xml';
let h: ConsoleHarness;

/** A catalogue of `n` items where every 7th has a price the format rejects. */
function catalogue(firstId: number, n: number): string {
  const items = Array.from({ length: n }, (_, i) => {
    const id = firstId + i;
    const value = i % 7 === 3 ? '49,95' : '49.95';
    return (
      ` <nsx:item id="${id}">\n  <nsx:category>Jeans</nsx:category>\n` +
      (i % 5 === 1 ? '' : `  <nsx:description>Bootleg ${id}</nsx:description>\n`) +
      `  <nsx:prices><nsx:price><nsx:currency>EUR</nsx:currency><nsx:value>${value}</nsx:value></nsx:price></nsx:prices>\n` +
      ' </nsx:item>\n'
    );
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<nsx:items>\n${items.join('')}</nsx:items>\n`;
}

beforeAll(async () => {
  h = await startConsole();
  // A day of history, as the ledger keeps it: files finished over the last 24 hours (recorded,
  // claimed and finished at those times through the ledger, as workers would have).
  const ledger = h.api.ts.service.ledger;
  const now = Date.now();
  for (let hoursAgo = 23; hoursAgo >= 1; hoursAgo -= 1) {
    const files = 2 + ((hoursAgo * 7) % 5);
    const at = now - hoursAgo * HOUR;
    const versions = Array.from({ length: files }, (_, i) => ({
      bucket: 'xml-bucket',
      key: `partner/history/${new Date(at).toISOString().slice(0, 13)}h-${i}.xml`,
      etag: `h${hoursAgo}-${i}`,
      size: 40_000 + i * 1000,
      lastModified: new Date(at - 60_000),
    }));
    await ledger.recordVersions(versions, 'scan', at);
    const claimed = await ledger.claim('history', files, 60_000, at);
    for (const [i, row] of claimed.entries()) {
      const failed = hoursAgo % 9 === 4 && i === 0;
      const lag = 20_000 + ((hoursAgo * 13 + i * 29) % 90) * 1000;
      await ledger.finish(
        row.id,
        'history',
        failed ? 'failed' : 'done',
        failed
          ? { error: 'line 412: not well-formed XML' }
          : { itemsWritten: 800 + ((hoursAgo * 31 + i * 17) % 400), itemsRejected: i },
        at - 60_000 + lag,
      );
    }
  }
  await h.upload('partner/2026-11-30/catalogue-0600.xml', smallCatalogue(100, 20));
  await h.upload(REJECTS_KEY, catalogue(2445000, 40));
  await h.upload('partner/2026-11-30/catalogue-1200.xml', '<nsx:items>\n <nsx:item id="1">\n</nsx:items>\n');
});

afterAll(async () => {
  await h?.close();
});

const views = [
  { name: 'overview', path: '/', ready: '#charts-body figure' },
  { name: 'files', path: '/files', ready: '#file-rows tr' },
  { name: 'file', path: filePath(REJECTS_KEY), ready: '#rejections tbody tr' },
];

for (const view of views) {
  for (const width of [1400, 390]) {
    test(`${view.name} at ${width} px fits the width${WRITE ? ' (screenshot written to docs/)' : ''}`, async () => {
      const page = await h.open(view.path, width);
      await eventually(() => page.locator(view.ready).count()).toBeGreaterThan(0);
      await eventually(() => page.locator('#ready').textContent()).toBe('ready');
      const wider = await page.evaluate(() =>
        [...document.querySelectorAll('body *')]
          .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
          .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}.${e.className}`),
      );
      expect(wider).toEqual([]);
      if (WRITE) {
        const path = join(packageRoot(), 'docs', `console-${view.name}-${width}.png`);
        // The files table is as long as its page: the first screenful shows it.
        await page.screenshot({ path, fullPage: view.name !== 'files' });
        expect((await stat(path)).size).toBeLessThan(300 * 1024);
      }
      await page.close();
    });
  }
}

test('the pages ran without script errors', () => {
  expect(h.pageErrors).toEqual([]);
});
