/**
 * The converter's primer (src/convert/prime.ts) runs once per process before the first real input and
 * swallows its own errors, so a primer broken by a parser change would fail silently and only cost
 * speed. Here it must still be a catalogue the converter accepts, with the output worked out by hand
 * from docs/format.md, whole and in the 1- and 7-byte pieces primeParser feeds it in.
 */
import { describe, expect, it } from 'vitest';
import { convertChunks } from '../src/convert/index.js';
import { PRIMER } from '../src/convert/prime.js';

const EXPECTED_PRODUCTS = [
  {
    // ` 1 &amp; &#65;&#x42;`: entity and character references, trimmed.
    product_id: '1 & AB',
    // A reference, CDATA holding `]]` and `]`, `&quot;`, and a trailing `&#x9;` trimmed away.
    product_category: 'A < B c]]d] "',
    // CR LF and a lone CR both become LF (XML end-of-line handling); tabs, quotes, backslash, UTF-8 kept.
    product_description: 'li\tne\nline\nline "q" \\ é 中',
    // Types out of order; the line-broken URL and its `&#32;` lose their whitespace.
    product_images: { image_1: 'w"', image_2: null, image_3: 'u/v' },
    // Children in either order, values trimmed and kept as written.
    prices: [
      { currency: 'EUR', value: '1.50' },
      { currency: 'DKK', value: '2' },
    ],
  },
  { product_id: '2', product_category: '', product_description: '', product_images: {}, prices: [] },
];

const EXPECTED_REPORT = {
  source: null,
  bytes: PRIMER.length,
  itemsSeen: 3,
  itemsWritten: 2,
  itemsRejected: 1,
  rejections: [{ line: 15, id: null, field: 'id', reason: 'item has no id attribute' }],
  warnings: [
    { line: 16, id: '2', field: 'category', reason: 'no category' },
    { line: 16, id: '2', field: 'description', reason: 'no description' },
    { line: 16, id: '2', field: 'prices', reason: 'no prices' },
  ],
  warningsTotal: 3,
  error: null,
};

function pieces(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

describe('the parser primer', () => {
  it.each([
    ['whole', PRIMER.length],
    ['byte by byte', 1],
    ['in 7-byte pieces', 7],
  ])('converts %s to the products and report worked out by hand', async (_how, size) => {
    const { json, report } = await convertChunks(pieces(PRIMER, size));
    expect(report).toEqual(EXPECTED_REPORT);
    expect(json).toBe(JSON.stringify(EXPECTED_PRODUCTS));
  });

  it('still holds the constructs it exists to walk the tokenizer through', () => {
    const text = PRIMER.toString('utf8');
    expect(text.startsWith('\uFEFF<?xml ')).toBe(true);
    for (const construct of [
      '<!--',
      '<?pi ',
      '<![CDATA[',
      '&amp;',
      '&#x42;',
      "='",
      '\r\n',
      '\r ',
      '</extra >',
    ]) {
      expect(text).toContain(construct);
    }
  });
});
