/**
 * The converter keeps no reference to a written chunk once the write's callback ran: the CLI reads a
 * file into two buffers used in turn (src/storage/local-file.ts) and overwrites each as soon as its chunk
 * was converted. Here every chunk comes from one buffer that is scribbled over right after its
 * callback; the result must be exactly that of the whole input in one piece.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { type ConversionReport, convertChunks, createConverter } from '../src/convert/index.js';
import { PRIMER } from '../src/convert/prime.js';
import { type GenCatalogue, prng, renderCatalogue } from './support/catalogue.js';

/** Feeds `bytes` through one reused buffer of `size` bytes, ruined after each chunk's callback. */
async function convertReusing(
  bytes: Uint8Array,
  size: number,
): Promise<{ json: string | null; report: ConversionReport }> {
  const { stream, report } = createConverter();
  const out: Buffer[] = [];
  stream.on('data', (d: Buffer) => out.push(d));
  stream.on('error', () => {
    // The report carries it.
  });
  const ended = new Promise<void>((resolve) => stream.once('close', resolve));
  const buffer = Buffer.alloc(size);
  for (let i = 0; i < bytes.length && !stream.destroyed; i += size) {
    const n = Math.min(size, bytes.length - i);
    buffer.set(bytes.subarray(i, i + n));
    const failed = await new Promise<boolean>((resolve) => {
      stream.write(buffer.subarray(0, n), (err) => resolve(err != null));
    });
    buffer.fill(0xff); // what a retained reference would see instead of the input
    if (failed) break;
  }
  if (!stream.destroyed) stream.end();
  await ended;
  const r = await report;
  return { json: r.error ? null : Buffer.concat(out).toString('utf8'), report: r };
}

/** A catalogue with multi-byte text, references, CDATA, comments and CR LF: much state across chunks. */
function catalogue(count = 40): Uint8Array {
  const random = prng(12);
  const items: GenCatalogue['items'] = Array.from({ length: count }, (_, i) => ({
    id: `${1000 + i}`,
    category: i % 7 === 0 ? null : `Sko & Støvler <${i}>`,
    description: `Blå "${'æøå '.repeat(1 + (i % 5))}" \\ ${random() < 0.5 ? 'é' : '中'}`,
    images: [{ type: String(1 + (i % 4)), url: `https://x.dk/p/${i}?a=1&b=2` }],
    prices: [{ currency: 'DKK', value: `${i}.95` }],
    rejectAs: null,
  }));
  const style = {
    names: 'nsx-undeclared',
    declaration: 'encoding',
    bom: true,
    newline: '\r\n',
    seed: 7,
    noise: 0.5,
  } as const;
  return renderCatalogue({ maxImageType: 100, items }, style).bytes;
}

describe('chunks are not kept past their write callback', () => {
  const inputs: [string, Uint8Array][] = [
    ['the primer (every tokenizer path)', PRIMER],
    ['a generated catalogue', catalogue()],
    ['a gzip-compressed catalogue', gzipSync(catalogue())],
  ];
  for (const [name, bytes] of inputs) {
    it(`converts ${name} from one reused buffer as it converts the whole input`, async () => {
      const whole = await convertChunks([bytes]);
      expect(whole.report.error).toBeNull();
      expect(whole.report.itemsWritten).toBeGreaterThan(0);
      for (const size of [1, 2, 3, 5, 7, 64, 1000, 4096]) {
        const reused = await convertReusing(bytes, size);
        expect({ size, json: reused.json }).toEqual({ size, json: whole.json });
        expect({ ...reused.report, bytes: 0 }).toEqual({ ...whole.report, bytes: 0 });
      }
    }, 60_000);
  }
});

describe('output chunks handed back for reuse', () => {
  it('gives the same output when each output chunk is held until the next comes, then copied and recycled', async () => {
    // Many flushes (each ~256 KiB): the spares are taken again and again.
    const bytes = catalogue(8_000);
    const expected = await convertChunks([bytes]);
    expect(expected.report.error).toBeNull();
    const { stream, report, recycle } = createConverter();
    const copies: Buffer[] = [];
    let recycled = 0;
    // Copied only when handed back: output written into memory not yet handed back would show here.
    let held: Buffer | null = null;
    stream.on('data', (d: Buffer) => {
      if (held) {
        copies.push(Buffer.from(held));
        recycle(held);
        recycled++;
      }
      held = d;
    });
    const ended = new Promise<void>((resolve) => stream.once('end', resolve));
    for (let i = 0; i < bytes.length; i += 65_536) stream.write(bytes.subarray(i, i + 65_536));
    stream.end();
    await ended;
    if (held) copies.push(held);
    expect((await report).error).toBeNull();
    expect(recycled).toBeGreaterThan(4);
    expect(Buffer.concat(copies).toString('utf8')).toBe(expected.json);
  });
});
