/**
 * The operations console in a real browser (support/chromium's Chromium, driven by playwright-core) against a
 * real service: `startConsole()` starts s3rver, the service with its API, and one browser; each test
 * opens pages with `open(path, width)` and uploads under its own fresh prefix (`freshPrefix()`).
 * Script errors and unexpected dialogs on any page are collected in `pageErrors`.
 */
import type { Browser, Page } from 'playwright-core';
import { expect } from 'vitest';
import { startTestApi, type TestApi } from './api-server.js';
import { launchChromium } from './chromium.js';
import { startS3rver, type TestS3 } from './s3rver.js';
import { putObject, waitForFile } from './service.js';

export const SOURCE = 'xml-bucket';

export interface ConsoleHarness {
  s3: TestS3;
  api: TestApi;
  browser: Browser;
  pageErrors: string[];
  /** A new page at `path`, `width` px wide (1,400 unless told). */
  open(path: string, width?: number): Promise<Page>;
  /** A key prefix no other test of this file uses. */
  freshPrefix(): string;
  /** Uploads `body` as `key`, lets the service discover it (an S3 event would do the same) and waits for its outcome. */
  upload(key: string, body: string | Buffer): Promise<void>;
  close(): Promise<void>;
}

export async function startConsole(
  options: { apiToken?: string; env?: Record<string, string> } = {},
): Promise<ConsoleHarness> {
  const s3 = await startS3rver();
  const api = await startTestApi({ endpoint: s3.endpoint, apiToken: options.apiToken, env: options.env });
  const browser = await launchChromium();
  const pageErrors: string[] = [];
  let prefixes = 0;
  return {
    s3,
    api,
    browser,
    pageErrors,
    async open(path, width = 1400) {
      const page = await browser.newPage({ viewport: { width, height: 900 } });
      page.on('pageerror', (err) => pageErrors.push(err.message));
      page.on('dialog', (dialog) => {
        pageErrors.push(`unexpected dialog: ${dialog.message()}`);
        void dialog.dismiss();
      });
      await page.goto(`${api.base}${path}`);
      return page;
    },
    freshPrefix() {
      prefixes += 1;
      return `t${prefixes}-${Date.now().toString(36)}/`;
    },
    async upload(key, body) {
      const etag = await putObject(api.ts.s3, SOURCE, key, body);
      const size = Buffer.byteLength(body);
      await api.ts.service.recordVersions(
        [{ bucket: SOURCE, key, etag, size, eventTime: new Date() }],
        'event',
      );
      await waitForFile(api.ts.service, key);
    },
    async close() {
      await browser.close();
      await api.close();
      await s3.close();
    },
  };
}

/** The console's URL of a file's page. */
export function filePath(key: string): string {
  return `/files/${encodeURIComponent(key)}`;
}

/** expect.poll with room for the console's refresh interval (3-5 s) to pass at least twice. */
export function eventually<T>(read: () => Promise<T> | T) {
  return expect.poll(read, { timeout: 15_000, interval: 100 });
}
