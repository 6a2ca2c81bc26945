/**
 * Chunks of many MiB (a library user handing over a whole file, a 4 MiB stream batch) are run in
 * 1 MiB pieces (src/convert/parser.ts runInPieces): the result must be exactly that of small chunks,
 * with items, multi-byte characters and an error straddling the pieces' edges.
 */
import { describe, expect, it } from 'vitest';
import { convertChunks } from '../src/convert/index.js';
import { type GenCatalogue, prng, renderCatalogue } from './support/catalogue.js';

const MiB = 1024 * 1024;

/** ~3.5 MiB of items with long multi-byte descriptions, so piece edges fall inside values. */
function bigCatalogue(): Uint8Array {
  const random = prng(3);
  const items: GenCatalogue['items'] = Array.from({ length: 1500 }, (_, i) => ({
    id: `${i}`,
    category: `Sko & Støvler ${i}`,
    description: `${'Blå æøå 中 '.repeat(100 + Math.floor(random() * 100))}&amp; ${i}`,
    images: [{ type: String(1 + (i % 4)), url: `https://x.dk/p/${i}?a=1&b=2` }],
    prices: [{ currency: 'DKK', value: `${i}.95` }],
    rejectAs: null,
  }));
  const style = {
    names: 'nsx-undeclared',
    declaration: 'encoding',
    bom: false,
    newline: '\n',
    seed: 5,
    noise: 0.2,
  } as const;
  return renderCatalogue({ maxImageType: 100, items }, style).bytes;
}

function inChunks(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; o += size) out.push(bytes.subarray(o, o + size));
  return out;
}

describe('big chunks', () => {
  const bytes = bigCatalogue();

  it('converts a catalogue handed over in one piece, or in 1.5 MiB chunks, as in 64 KiB chunks', async () => {
    expect(bytes.length).toBeGreaterThan(3 * MiB);
    const small = await convertChunks(inChunks(bytes, 64 * 1024));
    expect(small.report.error).toBeNull();
    expect(small.report.itemsWritten).toBe(1500);
    for (const size of [bytes.length, 1.5 * MiB, MiB + 1]) {
      const big = await convertChunks(inChunks(bytes, size));
      expect({ size, json: big.json }).toEqual({ size, json: small.json });
      expect(big.report).toEqual(small.report);
    }
  });

  it('reports invalid UTF-8 past the first piece at the same line as small chunks do', async () => {
    const broken = Buffer.from(bytes);
    const at = broken.indexOf('Blå', Math.floor(2.5 * MiB)) + 2; // the second byte of 'å'
    broken[at] = 0x41;
    const small = await convertChunks(inChunks(broken, 64 * 1024));
    const whole = await convertChunks([broken]);
    expect(small.report.error?.message).toMatch(/invalid UTF-8/);
    expect(small.report.error?.line).toBeGreaterThan(1000);
    // bytes: how much was read before the failure, which depends on the chunking
    expect({ ...whole.report, bytes: 0 }).toEqual({ ...small.report, bytes: 0 });
  });
});
