/**
 * Hostile inputs: entity expansion (billion laughs), external and parameter entities (XXE), absurd
 * nesting, huge attribute values, truncation, a gzip bomb, invalid UTF-8. Each must end cleanly: a
 * failed file has `report.error` set and `json` null, nothing is expanded or fetched, and memory stays
 * bounded (peak RSS growth sampled during the run, against a generous bound; no timings are asserted).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { convertChunks } from '../src/convert/index.js';
import { MAX_DEPTH } from '../src/convert/parser.js';
import type { ConvertOptions } from '../src/convert/types.js';
import { chunksOf, renderCatalogue } from './support/catalogue.js';
import { referenceConvertChunks } from './support/reference-converter.js';

const MB = 1024 * 1024;
/** Generous: the converter's buffers are a few MB; an expansion or a whole-file buffer would exceed it. */
const MEMORY_BOUND = 300 * MB;
const encoder = new TextEncoder();

type Result = Awaited<ReturnType<typeof convertChunks>>;

/** Runs a conversion while sampling RSS; returns the result and the peak growth over the start. */
async function measured(
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  options: ConvertOptions = {},
): Promise<Result & { growth: number }> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  const timer = setInterval(sample, 5);
  try {
    const result = await convertChunks(chunks, options);
    sample();
    return { ...result, growth: peak - base };
  } finally {
    clearInterval(timer);
  }
}

function expectCleanFailure(result: Result & { growth: number }, message?: RegExp): void {
  expect(result.json).toBeNull();
  expect(result.report.error).not.toBeNull();
  if (message) expect(result.report.error!.message).toMatch(message);
  expect(result.growth).toBeLessThan(MEMORY_BOUND);
}

/** `count` chunks of `size` bytes of `fill`, made lazily (the input never exists whole in memory). */
function* repeated(
  head: string,
  fill: string,
  size: number,
  count: number,
  tail = '',
): Generator<Uint8Array> {
  yield encoder.encode(head);
  const block = Buffer.alloc(size, fill);
  for (let i = 0; i < count; i++) yield block;
  if (tail) yield encoder.encode(tail);
}

const BILLION_LAUGHS = `<?xml version="1.0"?>
<!DOCTYPE items [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<items><item id="1"><description>&lol9;</description></item></items>`;

describe('entities and DOCTYPEs', () => {
  it('refuses the billion laughs without expanding anything', async () => {
    const result = await measured([encoder.encode(BILLION_LAUGHS)]);
    expectCleanFailure(result, /DOCTYPE/i);
    expect(result.report.itemsWritten).toBe(0);
    expect(JSON.stringify(result.report)).not.toContain('lollol');
    expect((await referenceConvertChunks([encoder.encode(BILLION_LAUGHS)])).report.error).not.toBeNull();
  });

  it('refuses an external entity (XXE to file:///etc/passwd) without reading the file', async () => {
    const xml = `<?xml version="1.0"?>
<!DOCTYPE items [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<items><item id="&xxe;"><description>&xxe;</description></item></items>`;
    const result = await measured(chunksOf(encoder.encode(xml), 7));
    expectCleanFailure(result, /DOCTYPE/i);
    expect(JSON.stringify(result.report)).not.toMatch(/root:|nologin/);
  });

  it('fetches nothing for external DTDs and parameter entities', async () => {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.end('<!ENTITY % all "<!ENTITY send SYSTEM \'http://127.0.0.1/leak\'>"> %all;');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const inputs = [
        `<!DOCTYPE items SYSTEM "${url}/items.dtd"><items/>`,
        `<!DOCTYPE items PUBLIC "-//X//DTD X//EN" "${url}/public.dtd"><items/>`,
        `<!DOCTYPE items [<!ENTITY % remote SYSTEM "${url}/evil.dtd"> %remote; %all;]><items>&send;</items>`,
        `<!DOCTYPE items [<!ENTITY % p "<!ENTITY e 'x'>"> %p;]><items>&e;</items>`,
      ];
      for (const xml of inputs) {
        const result = await measured([encoder.encode(xml)]);
        expectCleanFailure(result, /DOCTYPE/i);
      }
      expect(requests).toBe(0);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('fails on an entity reference that no DOCTYPE declares', async () => {
    const result = await measured([
      encoder.encode('<items><item id="1"><description>&xxe;</description></item></items>'),
    ]);
    expectCleanFailure(result);
  });

  it('refuses a DOCTYPE after a BOM, the XML declaration and comments, in 1-byte chunks', async () => {
    const xml = '\uFEFF<?xml version="1.0"?><!-- c --><!DOCTYPE items [<!ENTITY a "b">]><items>&a;</items>';
    const result = await measured(chunksOf(encoder.encode(xml), 1));
    expectCleanFailure(result, /DOCTYPE/i);
  });
});

describe('resource exhaustion', () => {
  it('fails 100,000-deep nesting cleanly, without overflowing the stack', async () => {
    const depth = 100_000;
    const result = await measured(repeated('<items>', '<a>', 3, depth, `${'</a>'.repeat(depth)}</items>`));
    expectCleanFailure(result, /deep|nesting/i);
  });

  it('allows exactly MAX_DEPTH levels of nesting and fails the next one, naming the limit', async () => {
    // <items> is level 1, so MAX_DEPTH - 1 <a> inside it reach the limit exactly.
    const nest = (inner: number) =>
      repeated('<items>', '<a>', 3, inner, `${'</a>'.repeat(inner)}<item id="1"/></items>`);
    const atLimit = await convertChunks(nest(MAX_DEPTH - 1));
    expect(atLimit.report.error).toBeNull();
    expect(JSON.parse(atLimit.json!)).toMatchObject([{ product_id: '1' }]);
    const over = await measured(nest(MAX_DEPTH));
    expectCleanFailure(over, new RegExp(`nesting too deep \\(more than ${MAX_DEPTH} levels\\)`));
  });

  it('fails a 50 MB attribute value that never ends, in bounded memory', async () => {
    const result = await measured(repeated('<items><item id="', 'a', MB, 50));
    expectCleanFailure(result);
    expect(result.report.bytes).toBeGreaterThan(50 * MB);
  });

  it('skips a 50 MB attribute value of an unknown element without keeping it', async () => {
    const result = await measured(
      repeated('<items><note blob="', 'x', MB, 50, '"/><item id="1"><category>c</category></item></items>'),
    );
    expect(result.report.error).toBeNull();
    expect(JSON.parse(result.json!)).toMatchObject([{ product_id: '1', product_category: 'c' }]);
    // Less than the value itself: it was checked and dropped, never collected.
    expect(result.growth).toBeLessThan(40 * MB);
  });

  it('converts nesting that is deep but legal (5,000 levels in an unknown element)', async () => {
    const depth = 5_000;
    const result = await measured(
      repeated('<items><item id="1"><x>', '<a>', 3, depth, `${'</a>'.repeat(depth)}</x></item></items>`),
    );
    expect(result.report.error).toBeNull();
    expect(JSON.parse(result.json!)).toMatchObject([{ product_id: '1' }]);
  });

  it('passes over 50 MB comments, CDATA sections and PIs in bounded memory', async () => {
    for (const [open, close] of [
      ['<!--', '-->'],
      ['<note><![CDATA[', ']]></note>'],
      ['<?pi ', '?>'],
    ]) {
      const result = await measured(
        repeated(`<items>${open}`, 'z', MB, 50, `${close}<item id="1"><category>c</category></item></items>`),
      );
      expect(result.report.error).toBeNull();
      expect(JSON.parse(result.json!)).toMatchObject([{ product_id: '1', product_category: 'c' }]);
      expect(result.growth).toBeLessThan(40 * MB);
    }
    // 150 MB of input in all: CPU-bound, and slow on a busy 2-core machine (a hang would still stop it).
  }, 240_000);

  it('rejects an item with a 200 MB description (from a ~200 KB gzip) and converts the rest, in bounded memory', async () => {
    // Concatenated gzip members decompress as one stream: 200 members of 1 MiB of text each. (The
    // 600 MB case of the issue runs in `npm run bench:convert`, which reports the CLI's peak RSS.)
    const member = gzipSync(Buffer.alloc(MB, 'd'), { level: 9 });
    const parts = [
      gzipSync('<items>\n<item id="big"><category>c</category><description>'),
      ...Array.from({ length: 200 }, () => member),
      gzipSync('</description></item>\n<item id="next"><category>n</category></item>\n</items>'),
    ];
    const compressed = parts.reduce((sum, p) => sum + p.length, 0);
    expect(compressed).toBeLessThan(MB);
    const result = await measured(parts);
    expect(result.report.error).toBeNull();
    expect(result.report.bytes).toBeGreaterThan(200 * MB);
    expect(JSON.parse(result.json!)).toEqual([expect.objectContaining({ product_id: 'next' })]);
    expect(result.report.rejections).toEqual([
      { line: 2, id: 'big', field: 'item', reason: `item is larger than the limit of ${16 * MB} bytes` },
    ]);
    // The item's first 16 MiB are held (as they would be for a valid item), never the other 184 MiB.
    expect(result.growth).toBeLessThan(100 * MB);
  }, 240_000);

  it('holds nothing of an item past its limit, also in elements whose names it has read before', async () => {
    // The tokenizer recognises element names it classified before without reading them again (the
    // first item teaches it <description>); past the limit, the big item's description must still be
    // only checked, not captured.
    function* input(): Generator<Uint8Array> {
      yield encoder.encode(
        '<items><item id="1"><description>d</description></item>\n<item id="big"><category>',
      );
      yield Buffer.alloc(2 * MB, 'c');
      yield encoder.encode('</category><description>');
      const block = Buffer.alloc(MB, 'd');
      for (let i = 0; i < 100; i++) yield block;
      yield encoder.encode('</description></item><item id="2"><description>e</description></item></items>');
    }
    const result = await measured(input(), { maxItemBytes: MB });
    expect(result.report.error).toBeNull();
    expect(JSON.parse(result.json!).map((p: { product_id: string }) => p.product_id)).toEqual(['1', '2']);
    expect(result.report.rejections).toEqual([
      { line: 2, id: 'big', field: 'item', reason: `item is larger than the limit of ${MB} bytes` },
    ]);
    expect(result.growth).toBeLessThan(40 * MB);
  }, 240_000);

  it('checks 200,000 distinct attributes on one tag, and finds a duplicate among them', async () => {
    const attrs = Array.from({ length: 200_000 }, (_, i) => ` a${i}="${i}"`);
    const distinct = await measured(
      chunksOf(encoder.encode(`<items><note${attrs.join('')}/></items>`), 65536),
    );
    expect(distinct.report.error).toBeNull();
    expect(distinct.json).toBe('[]');
    attrs.push(' a123456="again"');
    const duplicate = await measured(
      chunksOf(encoder.encode(`<items><note${attrs.join('')}/></items>`), 65536),
    );
    expectCleanFailure(duplicate, /twice|duplicate/i);
  });

  it('keeps the report bounded when every one of 200,000 items draws warnings', async () => {
    const count = 200_000;
    const xml = `<items>${'<item id="x"/>'.repeat(count)}</items>`;
    const result = await measured(chunksOf(encoder.encode(xml), 65536));
    expect(result.report.error).toBeNull();
    expect(result.report.itemsWritten).toBe(count);
    expect(result.report.warningsTotal).toBe(3 * count); // no category, description or prices
    expect(result.report.warnings).toHaveLength(10_000);
    expect(result.growth).toBeLessThan(MEMORY_BOUND);
  });

  it('fails a file over maxBytes, and accepts one of exactly maxBytes', async () => {
    const xml = encoder.encode('<items><item id="1"/></items>');
    const exact = await measured(chunksOf(xml, 5), { maxBytes: xml.length });
    expect(exact.report.error).toBeNull();
    const over = await measured(chunksOf(xml, 5), { maxBytes: xml.length - 1 });
    expectCleanFailure(over, /limit|large|size/i);
  });

  it('stops a gzip bomb at maxBytes: 1 GiB of decompressed whitespace from ~1 MB', async () => {
    // Concatenated gzip members decompress as one stream; each member is 1 MiB of spaces.
    const member = gzipSync(Buffer.alloc(MB, ' '), { level: 9 });
    let compressedRead = 0;
    const maxBytes = 64 * MB;
    async function* bomb(): AsyncGenerator<Uint8Array> {
      for (const part of [
        gzipSync('<items>'),
        ...Array.from({ length: 1024 }, () => member),
        gzipSync('</items>'),
      ]) {
        compressedRead += part.length;
        yield part;
      }
    }
    const result = await measured(bomb(), { maxBytes });
    expectCleanFailure(result, /limit|large|size/i);
    expect(result.report.bytes).toBeLessThanOrEqual(maxBytes + 2 * MB);
    // It stopped reading long before the end of the compressed input.
    expect(compressedRead).toBeLessThan(member.length * 200);
  });
});

describe('broken input', () => {
  it('fails every truncation of a catalogue before its root element ends', async () => {
    const { bytes, text } = renderCatalogue(
      {
        maxImageType: 100,
        items: [
          {
            id: '1',
            category: 'Jeans',
            description: 'Bootleg é😀 <&>',
            images: [{ type: '2', url: 'https://a/b' }],
            prices: [{ currency: 'EUR', value: '49.95' }],
            rejectAs: null,
          },
        ],
      },
      { names: 'nsx-undeclared', declaration: 'encoding', bom: true, newline: '\n', seed: 3, noise: 0.5 },
    );
    const rootEndChar = text.indexOf('>', text.lastIndexOf('</nsx:items')) + 1;
    const rootEnd = Buffer.byteLength(text.slice(0, rootEndChar)) + 3; // + BOM
    expect((await convertChunks([bytes])).report.error).toBeNull();
    for (let cut = 0; cut < rootEnd; cut++) {
      const result = await measured(chunksOf(bytes.subarray(0, cut), 64));
      expect(result.json, `cut at ${cut}`).toBeNull();
      expect(result.report.error, `cut at ${cut}`).not.toBeNull();
    }
  });

  it('fails invalid UTF-8 anywhere, also after megabytes of good output', async () => {
    const bad: number[][] = [
      [0xff],
      [0xc3, 0x28],
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0x80],
    ];
    const item = '<item id="1"><category>c</category></item>';
    for (const seq of bad) {
      async function* input(): AsyncGenerator<Uint8Array> {
        yield encoder.encode('<items>');
        const block = encoder.encode(item.repeat(4096));
        for (let i = 0; i < 40; i++) yield block; // ~7 MB of good items first
        yield Buffer.concat([encoder.encode('<item id="2"><description>x'), Uint8Array.from(seq)]);
        yield encoder.encode('</description></item></items>');
      }
      const result = await measured(input());
      expectCleanFailure(result, /UTF-8/i);
      expect(result.report.itemsWritten).toBe(40 * 4096);
    }
  });

  it('follows the gzip option: true demands gzip, false reads the bytes as XML', async () => {
    const xml = encoder.encode('<items><item id="1"/></items>');
    expect((await convertChunks([gzipSync(xml)], { gzip: true })).report.error).toBeNull();
    expect((await convertChunks([gzipSync(xml)], { gzip: 'auto' })).report.error).toBeNull();
    expectCleanFailure(await measured([xml], { gzip: true }));
    expectCleanFailure(await measured([gzipSync(xml)], { gzip: false }));
  });

  it('fails corrupt gzip data and an empty gzip stream', async () => {
    const gz = gzipSync('<items><item id="1"/></items>');
    const corrupt = Buffer.from(gz);
    corrupt[corrupt.length - 6]! ^= 0xff; // the CRC
    expectCleanFailure(await measured([corrupt]));
    expectCleanFailure(await measured([gz.subarray(0, gz.length - 4)]));
    expectCleanFailure(await measured([gz.subarray(0, 2)]));
  });
});
