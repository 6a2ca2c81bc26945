/**
 * Local files on the conversion thread pool (`ConvertThreadPool.convertFile`, what the batch CLI uses):
 * the thread opens, reads (gunzips) and writes the files itself, so no bytes cross threads. Real
 * threads running the built converter (`npm test` builds first), real files in a temp directory.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertChunks } from '../src/convert/index.js';
import { TransientError } from '../src/errors.js';
import { convertFile } from '../src/worker/convert-file.js';
import { loadConverter } from '../src/worker/converter.js';
import { ConvertThreadPool } from '../src/worker/thread-pool.js';
import { chunksOf, writeLargeCatalogue } from './support/catalogue.js';
import { smallCatalogue } from './support/small-catalogue.js';

const dir = mkdtempSync(join(tmpdir(), 'thread-files-'));
const path = (name: string): string => join(dir, name);
let large: Buffer;
beforeAll(async () => {
  // Larger than the thread's progress step (4 MiB) and its read buffer (1 MiB): several of each.
  await writeLargeCatalogue(path('large.xml'), 12 * 1024 * 1024, 5);
  large = readFileSync(path('large.xml'));
  writeFileSync(path('large.xml.gz'), gzipSync(large));
  // Stored, not compressed: a gzip file past the 4 MiB a thread reads with blocking calls, so its
  // reads are in flight in reused buffers while the gunzip stage still holds the chunk before.
  writeFileSync(path('stored.xml.gz'), gzipSync(large, { level: 0 }));
  writeFileSync(path('small.xml'), smallCatalogue(10, 3));
  writeFileSync(path('broken.xml'), '<items>\n<item id="1">\n</items>');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('local files on the conversion thread pool', () => {
  it('a thread reads and writes the file itself: the output and report of the converter on the main thread, plain or gzip', async () => {
    const pool = new ConvertThreadPool({ threads: 2 });
    try {
      const expected = await convertChunks(chunksOf(large, 1 << 20), { source: 'large.xml' });
      expect(expected.report.itemsWritten).toBeGreaterThan(10_000);
      for (const name of ['large.xml', 'large.xml.gz', 'stored.xml.gz']) {
        const steps: number[] = [];
        const result = await pool.convertFile(
          { input: path(name), output: path(`${name}.json`), options: { source: 'large.xml' } },
          { onBytes: (n) => steps.push(n) },
        );
        expect(result.ioError).toBeNull();
        expect(result.report).toEqual(expected.report);
        expect(readFileSync(path(`${name}.json`), 'utf8')).toBe(expected.json);
        // Progress counts the bytes read from disk (compressed for .gz), in a few steps, not per chunk.
        const onDisk = readFileSync(path(name)).length;
        expect(steps.reduce((a, b) => a + b, 0)).toBe(onDisk);
        expect(steps.length).toBe(Math.floor(onDisk / (4 * 1024 * 1024)) + 1);
      }
      // The main-thread fallback (no threads) gives the same.
      const main = await convertFile(
        await loadConverter(),
        { input: path('large.xml.gz'), output: path('main.json'), options: { source: 'large.xml' } },
        () => {},
      );
      expect(main.report).toEqual(expected.report);
      expect(readFileSync(path('main.json'), 'utf8')).toBe(expected.json);
    } finally {
      await pool.close();
    }
  });

  it('a bad file gets its verdict, a missing input or output folder an I/O error, and the thread stays', async () => {
    const pool = new ConvertThreadPool({ threads: 1 });
    try {
      const broken = await pool.convertFile({
        input: path('broken.xml'),
        output: path('broken.json'),
        options: { source: 'broken.xml' },
      });
      expect(broken.ioError).toBeNull();
      expect(broken.report.error).toMatchObject({ line: 3 });
      expect(broken.report.error?.message).toMatch(/not well-formed XML/);

      const missing = await pool.convertFile({
        input: path('nope.xml'),
        output: path('nope.json'),
        options: {},
      });
      expect(missing.ioError?.code).toBe('ENOENT');
      expect(missing.report.error?.message).toBe('conversion aborted before the end of the input');

      const unwritable = await pool.convertFile({
        input: path('small.xml'),
        output: path('no-such-folder/small.json'),
        options: {},
      });
      expect(unwritable.ioError?.code).toBe('ENOENT');
      expect(unwritable.ioError?.message).toContain('no-such-folder');

      await expect(
        pool.convertFile({ input: path('small.xml'), output: path('x.json'), options: { maxImageType: 0 } }),
      ).rejects.toBeInstanceOf(RangeError);

      const after = await pool.convertFile({
        input: path('small.xml'),
        output: path('small.json'),
        options: {},
      });
      expect(after.report.itemsWritten).toBe(3);
      expect(pool.stats()).toEqual({ threads: 1, busy: 0, queued: 0 });
    } finally {
      await pool.close();
    }
  });

  it('an abort stops the file in its thread within a chunk, also while queued; the thread takes the next file', async () => {
    const pool = new ConvertThreadPool({ threads: 1 });
    try {
      const running = new AbortController();
      let read = 0;
      const first = pool.convertFile(
        { input: path('large.xml'), output: path('aborted.json'), options: { source: 'large.xml' } },
        {
          signal: running.signal,
          onBytes: (n) => {
            read += n;
            running.abort();
          },
        },
      );
      const queued = new AbortController();
      const second = pool.convertFile(
        { input: path('small.xml'), output: path('never.json'), options: {} },
        { signal: queued.signal },
      );
      expect(pool.stats()).toMatchObject({ busy: 1, queued: 1 });
      queued.abort();
      expect(pool.stats()).toMatchObject({ queued: 0 });

      const aborted = await first;
      expect(aborted.ioError).toBeNull();
      expect(aborted.report.error?.message).toBe('conversion aborted before the end of the input');
      // Heard after the first progress step (4 MiB) and before the end of the 12 MiB file.
      expect(aborted.report.bytes).toBeLessThan(large.length);
      expect(read).toBeLessThan(large.length);
      expect((await second).report.error?.message).toBe('conversion aborted before the end of the input');

      const next = await pool.convertFile({
        input: path('small.xml'),
        output: path('next.json'),
        options: {},
      });
      expect(next.report.itemsWritten).toBe(3);
      expect(pool.stats().threads).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('a thread that dies fails only its own file, with a retryable error; the pool replaces it', async () => {
    const pool = new ConvertThreadPool({ threads: 2, crashOnSource: 'poison' });
    try {
      const good = pool.convertFile({
        input: path('large.xml'),
        output: path('good.json'),
        options: { source: 'good.xml' },
      });
      const err = await pool
        .convertFile({
          input: path('small.xml'),
          output: path('poison.json'),
          options: { source: 'poison.xml' },
        })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(TransientError);
      expect((err as TransientError).retryable).toBe(true);
      expect((err as Error).message).toMatch(/conversion thread died: test-only crash hook/);
      expect((await good).report.bytes).toBe(large.length);
      const after = await pool.convertFile({
        input: path('small.xml'),
        output: path('after.json'),
        options: {},
      });
      expect(after.report.itemsWritten).toBe(3);
    } finally {
      await pool.close();
    }
  });
});
