/**
 * Property tests of the converter on generated catalogues (test/support/catalogue.ts): whatever legal
 * spelling the XML uses and wherever the chunk boundaries fall, the output is exactly the JSON of the
 * valid items (compared parsed and byte for byte), and the report counts and lists what it must.
 */
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { convertChunks } from '../src/convert/index.js';
import {
  catalogueArb,
  chunksOf,
  cutAt,
  type ExpectedOutcome,
  expectedOutcome,
  type RenderedCatalogue,
  renderCatalogue,
  styleArb,
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

function expectConverted(result: Result, expected: ExpectedOutcome, rendered: RenderedCatalogue): void {
  const { json, report } = result;
  expect(report.error).toBeNull();
  expect(json).not.toBeNull();
  expect(JSON.parse(json!)).toEqual(expected.products);
  expect(json).toBe(expected.json);
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
      { numRuns: 400 },
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
      { numRuns: 60 },
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
      { numRuns: 100 },
    );
  });

  it('in strict mode fails the whole file at the first rejected item, and otherwise changes nothing', async () => {
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
      { numRuns: 200 },
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
