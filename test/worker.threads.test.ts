/**
 * The conversion thread pool (src/worker/thread-pool.ts): real worker threads running the built
 * converter (`npm test` builds first), fed and read as the service and the CLI do.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertChunks } from '../src/convert/index.js';
import { ConversionError, TransientError } from '../src/errors.js';
import { ConvertThreadPool } from '../src/worker/thread-pool.js';
import { chunksOf, writeLargeCatalogue } from './support/catalogue.js';
import { smallCatalogue } from './support/small-catalogue.js';

const dir = mkdtempSync(join(tmpdir(), 'threads-'));
let large: Buffer;
beforeAll(async () => {
  const path = join(dir, 'large.xml');
  await writeLargeCatalogue(path, 16 * 1024 * 1024, 3);
  large = readFileSync(path);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Feeds `chunks` into a pool conversion and collects its output and report. */
async function convertOn(
  pool: ConvertThreadPool,
  chunks: Uint8Array[],
  source = 'test.xml',
): Promise<{ json: string | null; report: Awaited<ReturnType<typeof convertChunks>>['report'] }> {
  const { stream, report } = pool.createConverter({ source });
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      parts.push(chunk);
      cb();
    },
  });
  const ok = await pipeline(Readable.from(chunks.map((c) => Buffer.from(c))), stream, sink).then(
    () => true,
    () => false,
  );
  const r = await report;
  return { json: ok ? Buffer.concat(parts).toString('utf8') : null, report: r };
}

describe('conversion thread pool', () => {
  it('gives byte for byte the output and report of the converter on the main thread, at any chunk size', async () => {
    const pool = new ConvertThreadPool({ threads: 2 });
    try {
      const expected = await convertChunks(chunksOf(large, 1 << 20), { source: 'test.xml' });
      expect(expected.report.itemsWritten).toBeGreaterThan(10_000);
      for (const size of [1, 7, 65_536, 4 << 20]) {
        // Tiny chunks on a prefix only: a cut-off document, so this also compares a failure verdict.
        const small = size < 100;
        const input = small ? chunksOf(large.subarray(0, 150_000), size) : chunksOf(large, size);
        const want = small ? await convertChunks(input, { source: 'test.xml' }) : expected;
        const got = await convertOn(pool, input);
        expect(got.report).toEqual(want.report);
        expect(got.json).toBe(want.json);
      }
      const zipped = await convertOn(pool, chunksOf(gzipSync(large), 100_000));
      expect(zipped.json).toBe(expected.json);
    } finally {
      await pool.close();
    }
    // Six conversions of 16 MB (~2 CPU s on a quiet machine) and a 1-byte-chunk one: room for a busy one.
  }, 180_000);

  it('fails a bad file with the converter verdict (ConversionError with its line) and keeps the thread', async () => {
    const pool = new ConvertThreadPool({ threads: 1 });
    try {
      const { stream, report } = pool.createConverter({ source: 'bad.xml' });
      const error = new Promise<Error>((resolve) => stream.on('error', resolve));
      stream.resume();
      stream.end('<items>\n<item id="1">\n</items>');
      const err = await error;
      expect(err).toBeInstanceOf(ConversionError);
      expect((err as ConversionError).line).toBe(3);
      expect((await report).error?.line).toBe(3);
      const next = await convertOn(pool, [Buffer.from(smallCatalogue(1, 2))]);
      expect(next.report.itemsWritten).toBe(2);
      expect(pool.stats()).toEqual({ threads: 1, busy: 0, queued: 0 });
    } finally {
      await pool.close();
    }
  });

  it('holds the writer back while nobody reads the output (bounded bytes in flight), then finishes', async () => {
    const pool = new ConvertThreadPool({ threads: 1 });
    try {
      const { stream, report } = pool.createConverter({ source: 'slow-reader.xml' });
      let pulled = 0;
      const source = Readable.from(
        (function* () {
          for (const chunk of chunksOf(large, 64 * 1024)) {
            pulled += chunk.length;
            yield Buffer.from(chunk);
          }
        })(),
      );
      source.pipe(stream);
      // Nobody reads: wait until the source stops being pulled.
      let last = -1;
      while (pulled !== last) {
        last = pulled;
        await sleep(300);
      }
      // Input and output batches in flight plus the streams' own buffers: a few MiB, not the file.
      expect(pulled).toBeLessThan(16 * 1024 * 1024);
      expect(pulled).toBeLessThan(large.length);
      let out = 0;
      stream.on('data', (d: Buffer) => {
        out += d.length;
      });
      await new Promise((resolve) => stream.on('end', resolve));
      expect(pulled).toBe(large.length);
      expect((await report).error).toBeNull();
      expect(out).toBeGreaterThan(large.length / 3);
    } finally {
      await pool.close();
    }
  });

  it('gathers a trickle of network-sized chunks into full batches while the thread is busy, reusing their buffers', async () => {
    const pool = new ConvertThreadPool({ threads: 1 });
    try {
      const input = large;
      const chunks = chunksOf(input, 16 * 1024);
      // One 16 KiB chunk per turn of the event loop, as a socket delivers them.
      let next = 0;
      const trickle = new Readable({
        read() {
          setImmediate(() => this.push(next < chunks.length ? Buffer.from(chunks[next++]!) : null));
        },
      });
      const { stream, report } = pool.createConverter({ source: 'trickle.xml' });
      stream.resume();
      trickle.pipe(stream);
      const r = await report;
      expect(r.error).toBeNull();
      expect(r.bytes).toBe(input.length);
      const { batchesIn, bytesIn, buffersIn, batchesOut, bytesOut } = pool.traffic();
      expect(bytesIn).toBe(input.length);
      // 1,024 chunks of 16 KiB: sent one by one they were ~750 batches (as many acknowledgements);
      // gathered, about one per MiB, plus the short ones sent while the thread had run dry.
      expect(batchesIn).toBeLessThan(64);
      // The thread hands each consumed batch's buffer back: a few buffers in all, not one per batch.
      expect(buffersIn).toBeLessThanOrEqual(6);
      expect(buffersIn).toBeLessThan(batchesIn);
      expect(batchesOut).toBeGreaterThan(0);
      expect(bytesOut).toBeGreaterThan(input.length / 3);
    } finally {
      await pool.close();
    }
  });

  it('aborts the conversion in its thread when the stream is destroyed, and the thread takes the next file', async () => {
    const pool = new ConvertThreadPool({ threads: 1 });
    try {
      const { stream, report } = pool.createConverter({ source: 'abandoned.xml' });
      stream.on('error', () => {});
      stream.resume();
      stream.write(large.subarray(0, 2 << 20));
      expect(pool.stats().busy).toBe(1);
      stream.destroy();
      const r = await report;
      expect(r.error?.message).toBe('conversion aborted before the end of the input');
      expect(pool.stats()).toEqual({ threads: 1, busy: 0, queued: 0 });
      const next = await convertOn(pool, [Buffer.from(smallCatalogue(1, 3))]);
      expect(next.report.itemsWritten).toBe(3);
      expect(pool.stats().threads).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('queues files beyond the thread count and runs them as threads free up', async () => {
    const pool = new ConvertThreadPool({ threads: 1 });
    try {
      const runs = [0, 1, 2].map((i) => convertOn(pool, chunksOf(large.subarray(0, 0), 1), `q${i}.xml`));
      expect(pool.stats()).toMatchObject({ threads: 1, busy: 1, queued: 2 });
      const done = await Promise.all(runs);
      // An empty input is not well-formed: each got its own verdict, one after the other.
      expect(done.map((d) => d.report.source)).toEqual(['q0.xml', 'q1.xml', 'q2.xml']);
      expect(done.every((d) => d.report.error !== null)).toBe(true);
      expect(pool.stats()).toEqual({ threads: 1, busy: 0, queued: 0 });
    } finally {
      await pool.close();
    }
  });

  it('a thread that dies fails only its own file, with a retryable error; the pool replaces it', async () => {
    const pool = new ConvertThreadPool({ threads: 2, crashOnSource: 'poison' });
    try {
      const good = convertOn(pool, chunksOf(large, 256 * 1024), 'good.xml');
      const { stream, report } = pool.createConverter({ source: 'poison.xml' });
      const streamError = new Promise<Error>((resolve) => stream.on('error', resolve));
      stream.resume();
      stream.end(Buffer.from(smallCatalogue(1, 3)));
      const err = await report.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TransientError);
      expect((err as TransientError).retryable).toBe(true);
      expect((err as Error).message).toMatch(/conversion thread died: test-only crash hook/);
      expect(await streamError).toBe(err);
      const g = await good;
      expect(g.report.error).toBeNull();
      expect(g.report.bytes).toBe(large.length);
      const after = await convertOn(pool, [Buffer.from(smallCatalogue(1, 2))], 'after.xml');
      expect(after.report.itemsWritten).toBe(2);
    } finally {
      await pool.close();
    }
  });
});
