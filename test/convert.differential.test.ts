/**
 * Differential tests: the converter against the saxes reference (test/support/reference-converter.ts) on
 * generated catalogues, on mutated ones (bytes replaced, deleted, duplicated or inserted; XML tokens
 * inserted; truncation) and on hand-written traps, fed at every chunk size (small inputs) so that every
 * token, reference, terminator and multi-byte character is also split across chunk boundaries. Both
 * must agree on the verdict (converted or failed) and, when converted, on the output bytes and the
 * report's counts.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { convertChunks } from '../src/convert/index.js';
import type { ConvertOptions } from '../src/convert/types.js';
import {
  catalogueArb,
  chunksOf,
  cutAt,
  expectedOutcome,
  renderCatalogue,
  styleArb,
  writeLargeCatalogue,
} from './support/catalogue.js';
import { at, comparable, describeInput, mutate, mutationArb } from './support/mutations.js';
import { type ReferenceResult, referenceConvertChunks } from './support/reference-converter.js';

const encoder = new TextEncoder();

/** Whether the converter and the reference agree; the message names the chunking and both verdicts. */
async function agreement(
  chunks: Uint8Array[],
  reference: ReferenceResult,
  options: ConvertOptions,
): Promise<string | null> {
  const ours = await convertChunks(chunks, options);
  const a = comparable(ours);
  const b = comparable(reference);
  if (JSON.stringify(a) === JSON.stringify(b)) return null;
  return [
    `chunk sizes ${JSON.stringify(chunks.slice(0, 8).map((c) => c.length))}${chunks.length > 8 ? '…' : ''}`,
    `converter: ${JSON.stringify(a)} error=${JSON.stringify(ours.report.error)}`,
    `reference: ${JSON.stringify(b)} error=${JSON.stringify(reference.report.error)}`,
  ].join('\n');
}

/** Chunk sizes to try: all of them for small inputs, a spread for larger ones. */
function chunkSizes(length: number, all = 700): number[] {
  if (length <= all) return Array.from({ length: Math.max(1, length) }, (_, i) => i + 1);
  const sizes = new Set<number>([length]);
  for (let s = 1; s <= 64; s++) sizes.add(s);
  for (let s = 64; s < length; s = Math.ceil(s * 1.37)) sizes.add(s);
  return [...sizes];
}

/** Compares at every chunk size; throws (for fast-check) with the first disagreement. */
async function expectAgreementAtAllSizes(
  bytes: Uint8Array,
  options: ConvertOptions = {},
): Promise<ReferenceResult> {
  const reference = await referenceConvertChunks([bytes], options);
  // The oracle itself must not depend on chunking.
  expect(comparable(await referenceConvertChunks(chunksOf(bytes, 1), options))).toEqual(
    comparable(reference),
  );
  for (const size of chunkSizes(bytes.length)) {
    const problem = await agreement(chunksOf(bytes, size), reference, options);
    if (problem !== null) throw new Error(`disagreement on ${describeInput(bytes)}\n${problem}`);
  }
  return reference;
}

describe('converter vs saxes reference', () => {
  it('the reference itself agrees with the generated expectation', async () => {
    await fc.assert(
      fc.asyncProperty(catalogueArb(), styleArb, async (catalogue, style) => {
        const rendered = renderCatalogue(catalogue, style);
        const expected = expectedOutcome(catalogue);
        const { json, report } = await referenceConvertChunks([rendered.bytes], {
          maxImageType: catalogue.maxImageType,
        });
        expect(report.error).toBeNull();
        expect(json).toBe(expected.json);
        expect(report.rejections.map((r) => [r.line, r.id, r.field])).toEqual(
          expected.rejected.map((r) => [rendered.itemLines[r.index], r.id, r.field]),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('agrees on generated catalogues at every chunk size', async () => {
    await fc.assert(
      fc.asyncProperty(catalogueArb({ maxItems: 2 }), styleArb, async (catalogue, style) => {
        const { bytes } = renderCatalogue(catalogue, style);
        await expectAgreementAtAllSizes(bytes, { maxImageType: catalogue.maxImageType });
      }),
      { numRuns: 40 },
    );
  });

  it('agrees on mutated catalogues (verdict, output, counts) at every chunk size', async () => {
    await fc.assert(
      fc.asyncProperty(
        catalogueArb({ maxItems: 2 }),
        styleArb,
        fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
        async (catalogue, style, mutations) => {
          const { bytes } = renderCatalogue(catalogue, style);
          const mutated = mutations.reduce(mutate, bytes);
          await expectAgreementAtAllSizes(mutated, { maxImageType: catalogue.maxImageType });
        },
      ),
      { numRuns: 250 },
    );
    // ~250 x every chunk size: CPU-bound work that slows down a lot on a busy 2-core machine.
  }, 240_000);

  it('agrees on the benchmark catalogue, which is the same for the same seed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-catalogue-'));
    try {
      const [a, b] = [join(dir, 'a.xml'), join(dir, 'b.xml')];
      const written = await writeLargeCatalogue(a, 300_000, 7);
      await writeLargeCatalogue(b, 300_000, 7);
      const bytes = await readFile(a);
      expect(bytes.equals(await readFile(b))).toBe(true);
      expect(bytes.length).toBe(written.bytes);
      const reference = await referenceConvertChunks([bytes]);
      expect(reference.report.itemsWritten).toBe(written.items);
      const problem = await agreement(chunksOf(bytes, 65536), reference, {});
      expect(problem).toBeNull();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('agrees on gzip-compressed catalogues, intact or with a damaged byte, at every chunk size', async () => {
    await fc.assert(
      fc.asyncProperty(
        catalogueArb({ maxItems: 2 }),
        styleArb,
        fc.option(fc.tuple(at, fc.integer({ min: 1, max: 255 })), { nil: null }),
        async (catalogue, style, damage) => {
          const gz = Buffer.from(gzipSync(renderCatalogue(catalogue, style).bytes));
          if (damage !== null) gz[Math.floor(damage[0] * gz.length)]! ^= damage[1];
          await expectAgreementAtAllSizes(gz, { maxImageType: catalogue.maxImageType });
        },
      ),
      { numRuns: 15 },
    );
  });

  it('agrees on larger mutated catalogues at random chunk boundaries', async () => {
    await fc.assert(
      fc.asyncProperty(
        catalogueArb({ maxItems: 12 }),
        styleArb,
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }),
        async (catalogue, style, mutations, cuts) => {
          const { bytes } = renderCatalogue(catalogue, style);
          const mutated = mutations.reduce(mutate, bytes);
          const options = { maxImageType: catalogue.maxImageType };
          const reference = await referenceConvertChunks([mutated], options);
          const chunks = cutAt(
            mutated,
            cuts.map((c) => Math.floor(c * mutated.length)),
          );
          const problem = await agreement(chunks, reference, options);
          if (problem !== null) throw new Error(`disagreement on ${describeInput(mutated)}\n${problem}`);
        },
      ),
      { numRuns: 500 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Traps: hand-written inputs with a stated outcome, checked against both converters at every chunk size
// (which also puts every chunk boundary inside every token).

interface Trap {
  name: string;
  xml: string | Uint8Array;
  /** null = the file must fail; otherwise fields the single product must have. */
  product: Record<string, unknown> | null;
}

const item = (inner: string, attrs = 'id="1"') => `<items><item ${attrs}>${inner}</item></items>`;
const desc = (d: string) => item(`<description>${d}</description>`);
const ignored = (x: string) => item(`<note>${x}</note>`);
const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? encoder.encode(p) : Uint8Array.from(p))));

const TRAPS: Trap[] = [
  // Comments
  {
    name: 'a comment inside text splits nothing',
    xml: desc('a<!-- x -->b'),
    product: { product_description: 'ab' },
  },
  {
    name: 'a comment may hold < & ]]> and -',
    xml: desc('<!-- <&]]> - -->x'),
    product: { product_description: 'x' },
  },
  { name: '-- inside a comment', xml: ignored('<!-- a -- b -->'), product: null },
  { name: 'a comment ending in --->', xml: ignored('<!-- a --->'), product: null },
  { name: 'an unterminated comment', xml: '<items><!-- x --</items>', product: null },
  // CDATA
  {
    name: 'CDATA is not entity-decoded',
    xml: desc('<![CDATA[&amp; <b> ]] ]> ]]]>'),
    product: { product_description: '&amp; <b> ]] ]> ]' },
  },
  {
    name: 'CDATA split into two sections',
    xml: desc('<![CDATA[a]]]]><![CDATA[>b]]>'),
    product: { product_description: 'a]]>b' },
  },
  { name: ']]> in text', xml: desc('a]]>b'), product: null },
  { name: ']]> in ignored text', xml: ignored(']]>'), product: null },
  {
    name: ']] and ] and ]]&gt; in text',
    xml: desc('a]]b]c]]&gt;'),
    product: { product_description: 'a]]b]c]]>' },
  },
  { name: 'an unterminated CDATA', xml: desc('<![CDATA[x]]'), product: null },
  { name: 'a misspelt CDATA', xml: desc('<![CDAT[x]]>'), product: null },
  // Processing instructions
  { name: 'a PI with ? and > inside', xml: desc('a<?pi a?b > ??>b'), product: { product_description: 'ab' } },
  { name: 'a PI named xml inside the document', xml: ignored('<?xml version="1.0"?>'), product: null },
  { name: 'an unterminated PI', xml: ignored('<?pi x'), product: null },
  // References
  { name: 'raw & in an ignored element', xml: ignored('a & b'), product: null },
  { name: 'raw & in an ignored attribute', xml: item('<note a="&"/>'), product: null },
  { name: 'an undefined entity in an ignored element', xml: ignored('&nbsp;'), product: null },
  { name: 'a reference without ;', xml: desc('&amp x'), product: null },
  { name: 'an empty char ref', xml: desc('&#;'), product: null },
  { name: 'a bad hex char ref', xml: desc('&#xZZ;'), product: null },
  { name: 'char ref to NUL', xml: desc('&#0;'), product: null },
  { name: 'char ref to a surrogate', xml: desc('&#xD800;'), product: null },
  { name: 'char ref beyond Unicode', xml: desc('&#x110000;'), product: null },
  { name: 'char ref to U+FFFE', xml: desc('&#xFFFE;'), product: null },
  { name: 'a huge decimal char ref', xml: desc('&#99999999999999999999;'), product: null },
  { name: 'astral char refs', xml: desc('&#x1F600;&#128512;'), product: { product_description: '😀😀' } },
  { name: 'char refs for markup', xml: desc('&#60;b&#x3E;&#38;'), product: { product_description: '<b>&' } },
  {
    name: 'predefined entities',
    xml: desc('&lt;&gt;&amp;&quot;&apos;'),
    product: { product_description: '<>&"\'' },
  },
  {
    name: 'tab and newline by char ref',
    xml: desc('a&#9;b&#10;c'),
    product: { product_description: 'a\tb\nc' },
  },
  { name: 'entities in an ignored attribute', xml: item('<note a="&amp;&#60;&#x1F600;"/>'), product: {} },
  // Line ends and whitespace
  { name: 'CRLF in text becomes LF', xml: desc('a\r\nb'), product: { product_description: 'a\nb' } },
  { name: 'a lone CR in text becomes LF', xml: desc('a\rb'), product: { product_description: 'a\nb' } },
  { name: 'a char ref CR stays CR', xml: desc('a&#13;b'), product: { product_description: 'a\rb' } },
  {
    name: 'a tab in an attribute becomes a space; a tab char ref stays',
    xml: item('', 'id="a\tb&#9;c"'),
    product: { product_id: 'a b\tc' },
  },
  {
    name: 'whitespace and char-ref whitespace leave URLs',
    xml: item('<images><image type="1" url=" https://a\r\n  /b&#10;/c&#x9;d "/></images>'),
    product: { product_images: { image_1: 'https://a/b/cd' } },
  },
  {
    name: 'JSON escapes',
    xml: desc('q"b\\s/\u0001'.replace('\u0001', '&#x7F;')),
    product: { product_description: 'q"b\\s/\u007f' },
  },
  // Tags and names
  { name: 'mismatched end tag in ignored content', xml: ignored('<x></y>'), product: null },
  { name: 'the root closed inside an item', xml: '<items><item id="1"></items>', product: null },
  { name: 'an end tag with trailing space', xml: '<items ><item id="1" ></item ></items\n>', product: {} },
  { name: 'a space after </', xml: '<items></ items>', product: null },
  { name: 'a space after <', xml: '<items>< item id="1"/></items>', product: null },
  { name: 'a name starting with a digit', xml: ignored('<1x/>'), product: null },
  // Names: non-ASCII characters must be in the XML 1.0 NameStartChar/NameChar ranges (§2.3)
  ...[
    ['a×b', '× is in no name range'],
    ['×', '× cannot start a name'],
    ['·a', '· is a name character but cannot start a name'],
    ['‿', '‿ cannot start a name'],
    ['\u0300a', 'a combining mark cannot start a name'],
    ['a\u00A0b', 'NBSP is not a name character'],
    ['\u3000', 'an ideographic space is not a name character'],
    ['\u037E', 'the Greek question mark is excluded'],
    ['\u{F0000}', 'plane 15 is outside the name ranges'],
  ].map(([name, why]) => ({ name: `non-ASCII name: ${why}`, xml: ignored(`<${name}/>`), product: null })),
  { name: 'non-ASCII name: × in an attribute name', xml: item('<note a×="1"/>'), product: null },
  { name: 'non-ASCII name: × as a PI target', xml: ignored('<?×?>'), product: null },
  {
    name: 'non-ASCII names that are legal',
    xml: item('<é a\u0300="1" \u{10000}="2"/><a·‿/><中文/><?é x?>'),
    product: {},
  },
  { name: 'a duplicate attribute on an ignored element', xml: item('<note a="1" a="2"/>'), product: null },
  { name: 'a duplicate id', xml: item('', 'id="1" id="2"'), product: null },
  { name: 'an attribute without a value', xml: item('<note a/>'), product: null },
  { name: 'an unquoted attribute', xml: item('<note a=b/>'), product: null },
  { name: 'attributes without whitespace between', xml: item('<note a="1"b="2"/>'), product: null },
  { name: '< in an attribute value', xml: item('<note a="<"/>'), product: null },
  {
    name: 'an item nested in an unknown element is not an item',
    xml: item('<x><item id="2"/></x>'),
    product: {},
  },
  {
    name: 'a category inside an unknown element is ignored',
    xml: item('<x><category>c</category></x>'),
    product: { product_category: '' },
  },
  {
    name: 'text of a child element is not the description',
    xml: desc('a<b>x</b>c'),
    product: { product_description: 'ac' },
  },
  // Document level
  { name: 'an empty input', xml: '', product: null },
  { name: 'only whitespace', xml: ' \n ', product: null },
  { name: 'only a comment', xml: '<!-- x -->', product: null },
  { name: 'text before the root', xml: `x${item('')}`, product: null },
  { name: 'text after the root', xml: `${item('')}x`, product: null },
  { name: 'a second root', xml: `${item('')}<items/>`, product: null },
  { name: 'a wrong root', xml: '<products><item id="1"/></products>', product: null },
  { name: 'a prefixed root', xml: '<nsx:items><nsx:item id="1"/></nsx:items>', product: {} },
  { name: 'a harmless DOCTYPE is refused too', xml: `<!DOCTYPE items>${item('')}`, product: null },
  // The XML declaration's own grammar (XML 1.0 §2.8)
  { name: 'a declaration without version', xml: `<?xml?>${item('')}`, product: null },
  { name: 'a declaration with only an encoding', xml: `<?xml encoding="UTF-8"?>${item('')}`, product: null },
  { name: 'a declaration of version 2.0', xml: `<?xml version="2.0"?>${item('')}`, product: null },
  { name: 'an unknown pseudo-attribute', xml: `<?xml version="1.0" foo="bar"?>${item('')}`, product: null },
  { name: 'mismatched quotes in the declaration', xml: `<?xml version='1.0"?>${item('')}`, product: null },
  { name: 'standalone="maybe"', xml: `<?xml version="1.0" standalone="maybe"?>${item('')}`, product: null },
  {
    name: 'no space between pseudo-attributes',
    xml: `<?xml version="1.0"encoding="UTF-8"?>${item('')}`,
    product: null,
  },
  {
    name: 'pseudo-attributes out of order',
    xml: `<?xml version="1.0" standalone="yes" encoding="UTF-8"?>${item('')}`,
    product: null,
  },
  {
    name: 'a declaration inside a declaration',
    xml: `<?xml <?xml version="1.0"?>${item('')}`,
    product: null,
  },
  {
    name: 'a declared non-UTF-8 encoding',
    xml: `<?xml version="1.0" encoding="ISO-8859-1"?>${item('')}`,
    product: null,
  },
  {
    name: 'a declaration with everything',
    xml: `<?xml version = '1.0' encoding="utf-8"  standalone='no' ?>${item('')}`,
    product: {},
  },
  { name: 'whitespace before the XML declaration', xml: ` <?xml version="1.0"?>${item('')}`, product: null },
  {
    name: 'an XML declaration after a comment',
    xml: `<!-- c --><?xml version="1.0"?>${item('')}`,
    product: null,
  },
  {
    name: 'BOM then declaration',
    xml: bytes([0xef, 0xbb, 0xbf], `<?xml version="1.0" encoding="UTF-8"?>${item('')}`),
    product: {},
  },
  { name: 'two BOMs', xml: bytes([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf], item('')), product: null },
  {
    name: 'comments and PIs around the root',
    xml: `<!--a--><?p q?>\n${item('')}\n<!--b--><?p?>\n`,
    product: {},
  },
  { name: 'a truncated root', xml: '<items><item id="1"></item>', product: null },
  // Values
  {
    name: 'an image type with leading zeros is still a whole number',
    xml: item('<images><image type="00000000001" url="u"/><image type="02" url="v"/></images>'),
    product: { product_images: { image_1: 'u', image_2: 'v' } },
  },
  // Characters and UTF-8
  { name: 'multi-byte characters', xml: desc('é中😀𝄞'), product: { product_description: 'é中😀𝄞' } },
  { name: 'a raw control character in ignored text', xml: ignored('\u0001'), product: null },
  { name: 'raw U+FFFE', xml: ignored('\uFFFE'), product: null },
  {
    name: 'DEL and NEL are characters',
    xml: desc('a\u007f\u0085b'),
    product: { product_description: 'a\u007f\u0085b' },
  },
  {
    name: 'invalid UTF-8 in text',
    xml: bytes('<items><item id="1"><description>a', [0xc3, 0x28], '</description></item></items>'),
    product: null,
  },
  { name: 'invalid UTF-8 in a comment', xml: bytes('<items><!-- ', [0xff], ' --></items>'), product: null },
  { name: 'invalid UTF-8 in an ignored attribute', xml: bytes('<items a="', [0x80], '"/>'), product: null },
  { name: 'an overlong encoding', xml: bytes('<items>', [0xc0, 0xaf], '</items>'), product: null },
  { name: 'an encoded surrogate', xml: bytes('<items>', [0xed, 0xa0, 0x80], '</items>'), product: null },
  { name: 'a UTF-16 file', xml: Buffer.from('\uFEFF<items/>', 'utf16le'), product: null },
  { name: 'a sequence cut by the end', xml: bytes('<items/>', [0xe4, 0xb8]), product: null },
];

describe('traps, at every chunk size', () => {
  it('counts lines as XML does: CRLF once, a lone CR as a line break', async () => {
    for (const [nl, lines] of [
      ['\n', [2, 3]],
      ['\r\n', [2, 3]],
      ['\r', [2, 3]],
    ] as const) {
      const xml = `<items>${nl}<item>${nl}</item><item${nl}${nl}id="">${nl}</item>${nl}</items>`;
      const reference = await expectAgreementAtAllSizes(encoder.encode(xml));
      expect(reference.report.rejections.map((r) => r.line)).toEqual(lines);
    }
  });

  it.each(TRAPS.map((t) => [t.name, t] as const))('%s', async (_name, trap) => {
    const input = typeof trap.xml === 'string' ? encoder.encode(trap.xml) : trap.xml;
    const reference = await expectAgreementAtAllSizes(input);
    if (trap.product === null) {
      expect(reference.report.error).not.toBeNull();
      return;
    }
    expect(reference.report.error).toBeNull();
    const products = JSON.parse(reference.json!) as Record<string, unknown>[];
    expect(products).toHaveLength(1);
    expect(products[0]).toMatchObject(trap.product);
  });
});
