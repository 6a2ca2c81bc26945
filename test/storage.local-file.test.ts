/**
 * src/storage/local-file.ts: local files read into two reused buffers with the next read in flight,
 * and written in order with blocking calls or on libuv's threads. A reader that read ahead into the
 * buffer its caller still holds, or a writer that reordered or dropped a chunk, gives other bytes
 * here. Real files in a temp directory; /dev/full for a disk that is full.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { FileChunks, OutputFile, READ_SIZE } from '../src/storage/local-file.js';

const dir = mkdtempSync(join(tmpdir(), 'local-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file of `size` random bytes (random, so a chunk read into the wrong buffer cannot match). */
function file(name: string, size: number): { path: string; bytes: Buffer } {
  const path = join(dir, name);
  const bytes = randomBytes(size);
  writeFileSync(path, bytes);
  return { path, bytes };
}

describe('FileChunks', () => {
  it('a chunk held while the next read completes keeps its bytes (read-ahead goes to the other buffer)', async () => {
    const { path, bytes } = file('ahead.bin', 3 * READ_SIZE + 12_345);
    const chunks = new FileChunks(path);
    expect(chunks.blocking).toBe(false);
    let at = 0;
    try {
      for (;;) {
        const chunk = await chunks.next();
        if (chunk === null) break;
        // Long enough for the read already in flight to land, as a slow converter would let it.
        await sleep(20);
        expect(chunk.equals(bytes.subarray(at, at + chunk.length))).toBe(true);
        at += chunk.length;
      }
    } finally {
      await chunks.close();
    }
    expect(at).toBe(bytes.length);
  });

  it('a small file is read with blocking calls into one buffer its own size, the same bytes', async () => {
    const { path, bytes } = file('small.bin', 100_000);
    const chunks = new FileChunks(path, { blockingUpTo: 4 * READ_SIZE });
    expect(chunks.blocking).toBe(true);
    const got: Buffer[] = [];
    for (let c = await chunks.next(); c !== null; c = await chunks.next()) got.push(Buffer.from(c));
    await chunks.close();
    expect(Buffer.concat(got).equals(bytes)).toBe(true);
  });

  it('a missing file throws the system error at once', () => {
    expect(() => new FileChunks(join(dir, 'missing.xml'))).toThrow(
      expect.objectContaining({ code: 'ENOENT' }),
    );
  });
});

describe('OutputFile', () => {
  for (const blocking of [true, false]) {
    it(`writes every chunk in order (${blocking ? 'blocking' : 'queued on libuv threads'})`, async () => {
      const path = join(dir, `out-${blocking}.bin`);
      const out = new OutputFile(path, blocking);
      const chunks = Array.from({ length: 40 }, (_, i) => randomBytes(1000 + i * 7919));
      let full = 0;
      for (const c of chunks) {
        if (!out.write(c)) {
          full++;
          await out.drained();
        }
      }
      await out.close();
      expect(readFileSync(path).equals(Buffer.concat(chunks))).toBe(true);
      // Never full when blocking; 40 chunks of ~160 KB are past the queue's bound when queued at once.
      if (blocking) expect(full).toBe(0);
    });
  }

  it('a queue of more than a few MiB asks the writer to wait, and drains', async () => {
    const out = new OutputFile(join(dir, 'bound.bin'), false);
    const chunk = randomBytes(READ_SIZE);
    const answers: boolean[] = [];
    for (let i = 0; i < 6; i++) answers.push(out.write(chunk));
    expect(answers.slice(0, 3)).toEqual([true, true, true]);
    expect(answers.at(-1)).toBe(false);
    await out.drained();
    await out.close();
    expect(readFileSync(join(dir, 'bound.bin')).length).toBe(6 * READ_SIZE);
  });

  it('a full disk: a blocking write throws ENOSPC; a queued one fails close() with it', async () => {
    const blocking = new OutputFile('/dev/full', true);
    expect(() => blocking.write(Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    await expect(blocking.close()).rejects.toMatchObject({ code: 'ENOSPC' });

    const queued = new OutputFile('/dev/full', false);
    expect(queued.write(Buffer.from('x'))).toBe(true);
    await expect(queued.close()).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(queued.error?.code).toBe('ENOSPC');
  });
});
