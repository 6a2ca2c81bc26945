/**
 * Property tests of the converter on generated catalogues (test/support/catalogue.ts): whatever legal
 * spelling the XML uses and wherever the chunk boundaries fall, the output is exactly the JSON of the
 * valid items (compared parsed and byte for byte), and the report counts and lists what it must.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { convertChunks, createConverter } from '../src/convert/index.js';
import {
  catalogueArb,
  chunksOf,
  cutAt,
  type ExpectedOutcome,
  expectedOutcome,
  type GenItem,
  itemArb,
  type RenderedCatalogue,
  renderCatalogue,
  styleArb,
  textArb,
} from './support/catalogue.js';

/** Cut points as fractions of the input length, so they shrink independently of the catalogue. */
const cutFractions = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 });

function cutsFor(bytes: Uint8Array, fractions: number[]): Uint8Array[] {
  return cutAt(
    bytes,
    fractions.map((f) => Math.floor(f * bytes.length)),
  );
}

type Result = Awaited<ReturnType<typeof convertChunks>>;

/** Byte-for-byte comparison that reports where the texts part (outputs may be megabytes). */
function expectSameText(actual: string, expected: string): void {
  if (actual === expected) return;
  let at = 0;
  while (at < actual.length && actual[at] === expected[at]) at++;
  const around = (s: string) => JSON.stringify(s.slice(Math.max(0, at - 60), at + 60));
  throw new Error(
    `output differs at character ${at} (lengths ${actual.length} vs ${expected.length}):\n` +
      `  actual:   ${around(actual)}\n  expected: ${around(expected)}`,
  );
}

function expectConverted(result: Result, expected: ExpectedOutcome, rendered: RenderedCatalogue): void {
  const { json, report } = result;
  expect(report.error).toBeNull();
  expect(json).not.toBeNull();
  expectSameText(json!, expected.json);
  expect(JSON.parse(json!)).toEqual(expected.products);
  expect(report.itemsSeen).toBe(expected.itemsSeen);
  expect(report.itemsWritten).toBe(expected.itemsWritten);
  expect(report.itemsRejected).toBe(expected.itemsRejected);
  expect(report.rejections.map((r) => ({ line: r.line, id: r.id, field: r.field }))).toEqual(
    expected.rejected.map((r) => ({ line: rendered.itemLines[r.index], id: r.id, field: r.field })),
  );
  for (const w of expected.warnings) {
    expect(report.warnings).toContainEqual(expect.objectContaining({ id: w.id, field: w.field }));
  }
  expect(report.warnings).toHaveLength(expected.warnings.length);
  expect(report.warningsTotal).toBe(expected.warnings.length);
  expect(report.bytes).toBe(rendered.bytes.length);
}

describe('convertChunks on generated catalogues', () => {
  it('writes exactly the valid items and reports the rejected ones, at any chunk boundaries', async () => {
    await fc.assert(
      fc.asyncProperty(catalogueArb(), styleArb, cutFractions, async (catalogue, style, fractions) => {
        const rendered = renderCatalogue(catalogue, style);
        const result = await convertChunks(cutsFor(rendered.bytes, fractions), {
          maxImageType: catalogue.maxImageType,
        });
        expectConverted(result, expectedOutcome(catalogue), rendered);
      }),
      { numRuns: 1000 },
    );
  });

  it('gives the same result one byte at a time', async () => {
    await fc.assert(
      fc.asyncProperty(catalogueArb({ maxItems: 3 }), styleArb, async (catalogue, style) => {
        const rendered = renderCatalogue(catalogue, style);
        const result = await convertChunks(chunksOf(rendered.bytes, 1), {
          maxImageType: catalogue.maxImageType,
        });
        expectConverted(result, expectedOutcome(catalogue), rendered);
      }),
      { numRuns: 100 },
    );
  });

  it('ignores empty chunks wherever they come', async () => {
    await fc.assert(
      fc.asyncProperty(
        catalogueArb({ maxItems: 4 }),
        styleArb,
        cutFractions,
        async (catalogue, style, fractions) => {
          const rendered = renderCatalogue(catalogue, style);
          const empty = new Uint8Array(0);
          const chunks = [empty, ...cutsFor(rendered.bytes, fractions).flatMap((c) => [c, empty, empty])];
          const result = await convertChunks(chunks, { maxImageType: catalogue.maxImageType });
          expectConverted(result, expectedOutcome(catalogue), rendered);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('streams the same bytes through createConverter in a pipeline with a slow consumer', async () => {
    await fc.assert(
      fc.asyncProperty(catalogueArb(), styleArb, cutFractions, async (catalogue, style, fractions) => {
        const rendered = renderCatalogue(catalogue, style);
        const { stream, report } = createConverter({ maxImageType: catalogue.maxImageType });
        const out: Buffer[] = [];
        const sink = new Writable({
          highWaterMark: 1,
          write(chunk: Buffer, _encoding, callback) {
            out.push(chunk);
            setImmediate(callback);
          },
        });
        await pipeline(Readable.from(cutsFor(rendered.bytes, fractions)), stream, sink);
        const json = Buffer.concat(out).toString('utf8');
        expectConverted({ json, report: await report }, expectedOutcome(catalogue), rendered);
      }),
      { numRuns: 150 },
    );
  });

  it('reads gzip-compressed catalogues (sniffed) the same way', async () => {
    await fc.assert(
      fc.asyncProperty(catalogueArb(), styleArb, cutFractions, async (catalogue, style, fractions) => {
        const rendered = renderCatalogue(catalogue, style);
        const result = await convertChunks(cutsFor(gzipSync(rendered.bytes), fractions), {
          maxImageType: catalogue.maxImageType,
        });
        expectConverted(result, expectedOutcome(catalogue), rendered);
      }),
      { numRuns: 150 },
    );
  });

  it('in strict mode fails the file at the first rejected item, and otherwise changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(catalogueArb(), styleArb, cutFractions, async (catalogue, style, fractions) => {
        const rendered = renderCatalogue(catalogue, style);
        const expected = expectedOutcome(catalogue);
        const result = await convertChunks(cutsFor(rendered.bytes, fractions), {
          maxImageType: catalogue.maxImageType,
          strict: true,
        });
        const first = expected.rejected[0];
        if (first === undefined) {
          expectConverted(result, expected, rendered);
        } else {
          expect(result.json).toBeNull();
          expect(result.report.error).not.toBeNull();
          expect(result.report.error!.line).toBe(rendered.itemLines[first.index]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('handles values, items and outputs larger than its internal buffers', async () => {
    // Descriptions up to ~100 KB, image types up to 100,000 (a long run of null slots), 1 KB URLs: values
    // cross the converter's scratch growth and the output crosses its flush size many times.
    const bigText = fc
      .tuple(textArb, fc.integer({ min: 1, max: 20_000 }))
      .map(([t, n]) => (t === '' ? 'x' : t).repeat(n).slice(0, 100_000))
      // Never cut a surrogate pair; never start or end with whitespace (see catalogue.ts).
      .map((t) => t.replace(/[\uD800-\uDBFF]$/, '').replace(/^[\s\uFEFF]+|[\s\uFEFF]+$/gu, ''));
    const bigCatalogue = fc.integer({ min: 1, max: 100_000 }).chain((maxImageType) =>
      fc
        .array(fc.tuple(itemArb(maxImageType), bigText, fc.integer({ min: 1, max: maxImageType })), {
          minLength: 1,
          maxLength: 5,
        })
        .map((raw) => ({
          maxImageType,
          items: raw.map(([item, text, highType], i): GenItem => {
            const id = item.id !== null && item.id.trim() !== '' ? `${item.id}#${i}` : item.id;
            const images = item.images ?? [];
            const addHigh = item.rejectAs === null && !images.some((img) => Number(img.type) === highType);
            return {
              ...item,
              id,
              description: item.description === null ? null : text,
              images: addHigh
                ? [...images, { type: String(highType), url: `https://big/${'u'.repeat(1000)}` }]
                : item.images,
            };
          }),
        })),
    );
    await fc.assert(
      fc.asyncProperty(bigCatalogue, styleArb, cutFractions, async (catalogue, style, fractions) => {
        const rendered = renderCatalogue(catalogue, style);
        const result = await convertChunks(cutsFor(rendered.bytes, fractions), {
          maxImageType: catalogue.maxImageType,
        });
        expectConverted(result, expectedOutcome(catalogue), rendered);
      }),
      { numRuns: 8 },
    );
  });

  it('keeps at most maxReportEntries entries while the counts stay exact', async () => {
    await fc.assert(
      fc.asyncProperty(
        catalogueArb({ maxItems: 12 }),
        styleArb,
        fc.integer({ min: 0, max: 3 }),
        async (catalogue, style, maxReportEntries) => {
          const rendered = renderCatalogue(catalogue, style);
          const expected = expectedOutcome(catalogue);
          const { json, report } = await convertChunks([rendered.bytes], {
            maxImageType: catalogue.maxImageType,
            maxReportEntries,
          });
          expect(json).toBe(expected.json);
          expect(report.itemsRejected).toBe(expected.itemsRejected);
          expect(report.rejections).toHaveLength(Math.min(maxReportEntries, expected.itemsRejected));
          expect(report.warningsTotal).toBe(expected.warnings.length);
          expect(report.warnings).toHaveLength(Math.min(maxReportEntries, expected.warnings.length));
        },
      ),
      { numRuns: 100 },
    );
  });
});
