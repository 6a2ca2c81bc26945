/**
 * The partner's own sample converts to the correct output, which differs from the predecessor's
 * (test/fixtures/seed-sample.reference-output.json) exactly in its two known bugs: image_1 was never
 * filled, and URLs kept the whitespace of their line breaks.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { convertChunks } from '../src/convert/index.js';

const sample = readFileSync(new URL('../samples/seed-sample.xml', import.meta.url));
const reference = JSON.parse(
  readFileSync(new URL('./fixtures/seed-sample.reference-output.json', import.meta.url), 'utf8'),
) as { product_images: Record<string, string | null> }[];

// The correct output, checked by hand against FORMAT.md (compact, keys in its order): one line, no newline.
const expectedJson = readFileSync(new URL('./fixtures/seed-sample.expected.json', import.meta.url), 'utf8');
const EXPECTED = JSON.parse(expectedJson) as { product_images: Record<string, string | null> }[];

describe('samples/seed-sample.xml', () => {
  it('converts to the correct products, with a clean report', async () => {
    const { json, report } = await convertChunks([sample], { source: 'seed-sample.xml' });
    expect(json).toBe(expectedJson);
    expect(EXPECTED[0]!.product_images).toEqual({
      image_1: 'https://sample.com/img/2445456_Image_1.jpg',
      image_2: null,
      image_3: 'https://sample.com/img/2445456_Image_3.jpg',
    });
    expect(report).toMatchObject({
      source: 'seed-sample.xml',
      bytes: sample.length,
      itemsSeen: 2,
      itemsWritten: 2,
      itemsRejected: 0,
      warningsTotal: 0,
      error: null,
    });
  });

  it('gives the same bytes whatever the chunking', async () => {
    const whole = (await convertChunks([sample])).json;
    for (const size of [1, 2, 3, 7, 64, 1000]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < sample.length; i += size) chunks.push(sample.subarray(i, i + size));
      expect((await convertChunks(chunks)).json).toBe(whole);
    }
  });

  it('differs from the predecessor output only in its two bugs (image_1, whitespace in URLs)', async () => {
    const ours = JSON.parse((await convertChunks([sample])).json!) as typeof EXPECTED;
    const repaired = reference.map((product, k) => {
      const images: Record<string, string | null> = {};
      for (const [key, url] of Object.entries(product.product_images))
        images[key] = url?.replace(/\s+/g, '') ?? null;
      images.image_1 = ours[k]!.product_images.image_1; // the predecessor never filled image_1
      return { ...product, product_images: images };
    });
    expect(ours).toEqual(repaired);
    expect(reference[0]!.product_images.image_1).toBeNull();
    expect(reference[0]!.product_images.image_3).toMatch(/\s/);
  });
});
