/**
 * One test (or small group) per rule of FORMAT.md / docs/format.md, against the real converter. Every
 * input is converted twice: in one chunk and one byte at a time, which must agree, so each rule is
 * also checked across every possible chunk boundary.
 */
import { once } from 'node:events';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  type ConversionReport,
  type ConvertOptions,
  convertChunks,
  createConverter,
} from '../src/convert/index.js';
import { ConversionError } from '../src/errors.js';

interface Product {
  product_id: string;
  product_category: string;
  product_description: string;
  product_images: Record<string, string | null>;
  prices: { currency: string; value: string }[];
}

function bytesOf(input: string | Uint8Array): Buffer {
  return typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
}

function pieces(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

async function convert(
  input: string | Uint8Array,
  options?: ConvertOptions,
): Promise<{ json: string | null; products: Product[]; report: ConversionReport }> {
  const bytes = bytesOf(input);
  const whole = await convertChunks([bytes], options);
  const bytewise = await convertChunks(pieces(bytes, 1), options);
  expect(bytewise.json).toBe(whole.json);
  // `bytes` is how far the converter read, which on failure depends on the chunking.
  expect({ ...bytewise.report, bytes: 0 }).toEqual({ ...whole.report, bytes: 0 });
  return {
    json: whole.json,
    products: whole.json === null ? [] : JSON.parse(whole.json),
    report: whole.report,
  };
}

/** Converts a catalogue holding one item with the given attributes and content. */
async function one(inner: string, attrs = ' id="1"', options?: ConvertOptions) {
  return convert(`<items><item${attrs}>${inner}</item></items>`, options);
}

async function failure(input: string | Uint8Array, options?: ConvertOptions) {
  const r = await convert(input, options);
  expect(r.json).toBeNull();
  expect(r.report.error).not.toBeNull();
  return r.report.error!;
}

const FULL = `<category>Jeans</category><description>Bootleg</description>
<images><image type="1" url="u1"/></images>
<prices><price><currency>EUR</currency><value>49.95</value></price></prices>`;

describe('input variants that must be accepted', () => {
  it('matches elements by local name: prefix without declaration, with one, or none', async () => {
    const undeclared = await convert(
      `<nsx:items><nsx:item id="1"><nsx:category>A</nsx:category></nsx:item></nsx:items>`,
    );
    const declared = await convert(
      `<p:items xmlns:p="http://example.com/any"><p:item id="1"><p:category>A</p:category></p:item></p:items>`,
    );
    const defaultNs = await convert(
      `<items xmlns="urn:x"><item id="1"><category>A</category></item></items>`,
    );
    const mixed = await convert(`<a:items><b:item id="1"><category>A</category></b:item></a:items>`);
    for (const r of [undeclared, declared, defaultNs, mixed]) {
      expect(r.report.error).toBeNull();
      expect(r.products.map((p) => [p.product_id, p.product_category])).toEqual([['1', 'A']]);
    }
  });

  it('accepts an XML declaration, a BOM, both, or neither', async () => {
    const body = '<items><item id="1"/></items>';
    for (const input of [
      body,
      `<?xml version="1.0" encoding="UTF-8"?>\n${body}`,
      `\uFEFF${body}`,
      `\uFEFF<?xml version='1.0' standalone='yes'?>${body}`,
    ]) {
      const r = await convert(input);
      expect(r.report.error).toBeNull();
      expect(r.products).toHaveLength(1);
    }
  });

  it('skips comments and processing instructions anywhere, including inside a value', async () => {
    const r = await convert(
      `<!-- head --><?pi x?><items><!-- c --><item id="1"><?pi?><category>Je<!-- x -->ans</category></item></items><!-- tail -->`,
    );
    expect(r.products[0]!.product_category).toBe('Jeans');
  });

  it('takes CDATA literally (no entity decoding) and joins it with the surrounding text', async () => {
    const r = await one(`<description>a <![CDATA[< & "b" &amp; ]]]]>c</description>`);
    expect(r.products[0]!.product_description).toBe('a < & "b" &amp; ]]c');
  });

  it('decodes the five predefined entities and character references in text and attributes', async () => {
    const r = await one(
      `<category>&lt;&gt;&amp;&quot;&apos; &#233;&#xE9;&#x1F600;</category>`,
      ' id="a&amp;b&#x41;"',
    );
    expect(r.products[0]!.product_category).toBe(`<>&"' éé😀`);
    expect(r.products[0]!.product_id).toBe('a&bA');
  });

  it('accepts an item with one image and one price, and items without images or prices', async () => {
    const r = await convert(
      `<items><item id="1">${FULL}</item><item id="2"><category>B</category></item></items>`,
    );
    expect(r.products[0]!.product_images).toEqual({ image_1: 'u1' });
    expect(r.products[0]!.prices).toEqual([{ currency: 'EUR', value: '49.95' }]);
    expect(r.products[1]!.product_images).toEqual({});
    expect(r.products[1]!.prices).toEqual([]);
  });

  it('accepts child elements in any order', async () => {
    const r = await one(
      `<prices><price><value>1.00</value><currency>EUR</currency></price></prices><images><image url="u" type="2"/></images><description>D</description><category>C</category>`,
    );
    expect(r.products[0]).toEqual({
      product_id: '1',
      product_category: 'C',
      product_description: 'D',
      product_images: { image_1: null, image_2: 'u' },
      prices: [{ currency: 'EUR', value: '1.00' }],
    });
  });

  it('ignores unknown elements and attributes, and known names in unknown places', async () => {
    const r = await convert(
      `<items version="2" a:b="c"><meta><item id="x"/></meta><item id="1" extra="y"><colour>red</colour><category lang="en">C</category><extra><category>not this</category><image type="1" url="no"/></extra><image type="1" url="not in images"/></item></items>`,
    );
    expect(r.report.error).toBeNull();
    expect(r.report.itemsSeen).toBe(1);
    expect(r.products).toEqual([
      {
        product_id: '1',
        product_category: 'C',
        product_description: '',
        product_images: {},
        prices: [],
      },
    ]);
  });

  it('reads only the first-level text of a field; child elements inside it are ignored', async () => {
    const r = await one(`<description>Boot<b>leg</b>cut</description>`);
    expect(r.products[0]!.product_description).toBe('Bootcut');
  });
});

describe('output', () => {
  it('writes keys in exactly the documented order, compact', async () => {
    const r = await one(FULL);
    expect(r.json).toBe(
      '[{"product_id":"1","product_category":"Jeans","product_description":"Bootleg","product_images":{"image_1":"u1"},"prices":[{"currency":"EUR","value":"49.95"}]}]',
    );
  });

  it('writes [] for an empty catalogue', async () => {
    expect((await convert('<items/>')).json).toBe('[]');
    expect((await convert('<items>\n</items>')).json).toBe('[]');
  });

  it('fills image slots image_1..image_<highest type> with nulls, whatever order types arrive in', async () => {
    const r = await one(`<images><image type="3" url="c"/><image type="1" url="a"/></images>`);
    expect(r.json).toContain('"product_images":{"image_1":"a","image_2":null,"image_3":"c"}');
  });

  it('removes all whitespace from URLs (line breaks, tabs, spaces, and ones from references)', async () => {
    const r = await one(`<images><image type="1" url="https://sample.com/img
    /a b\t.jpg&#10;&#32;"/></images>`);
    expect(r.products[0]!.product_images.image_1).toBe('https://sample.com/img/ab.jpg');
  });

  it('keeps price values exactly as written, as strings', async () => {
    const r = await one(
      `<prices><price><currency>DKK</currency><value> 445.60 </value></price><price><currency>NGN</currency><value>50000.00</value></price><price><currency>EUR</currency><value>0</value></price></prices>`,
    );
    expect(r.json).toContain(
      '"prices":[{"currency":"DKK","value":"445.60"},{"currency":"NGN","value":"50000.00"},{"currency":"EUR","value":"0"}]',
    );
  });

  it('trims XML whitespace around values and keeps it inside (line breaks as \\n, CR LF as one)', async () => {
    const r = await one(
      `<category> \t\r\n Blue  Jeans \r\n</category><description>a\r\nb\rc\nd</description>`,
      ' id=" 7 "',
    );
    expect(r.products[0]!.product_id).toBe('7');
    expect(r.products[0]!.product_category).toBe('Blue  Jeans');
    expect(r.products[0]!.product_description).toBe('a\nb\nc\nd');
  });

  it('escapes JSON correctly: quotes, backslashes, tabs; non-ASCII stays UTF-8', async () => {
    const r = await one(`<description>"q" \\ a\tb ø 中 \u2028 😀</description>`);
    expect(r.products[0]!.product_description).toBe('"q" \\ a\tb ø 中 \u2028 😀');
    expect(r.json).toContain('\\"q\\" \\\\ a\\tb ø 中');
  });

  it('normalises tabs and line breaks in attribute values to spaces (XML rule)', async () => {
    const r = await one('', ' id="a\tb\nc"');
    expect(r.products[0]!.product_id).toBe('a b c');
  });

  it('keeps document order of items and prices', async () => {
    const items = Array.from({ length: 50 }, (_, k) => `<item id="${k}"/>`).join('');
    const r = await convert(`<items>${items}</items>`);
    expect(r.products.map((p) => p.product_id)).toEqual(Array.from({ length: 50 }, (_, k) => `${k}`));
  });
});

describe('rejected items (left out, listed in the report with line, id, field, reason)', () => {
  async function rejection(inner: string, attrs = ' id="9"', options?: ConvertOptions) {
    const r = await convert(`<items>\n<item id="ok"/>\n<item${attrs}>${inner}</item>\n</items>`, options);
    expect(r.report.error).toBeNull();
    expect(r.products.map((p) => p.product_id)).toEqual(['ok']);
    expect(r.report.itemsRejected).toBe(1);
    expect(r.report.rejections).toHaveLength(1);
    const entry = r.report.rejections[0]!;
    expect(entry.line).toBe(3);
    return entry;
  }

  it('rejects an item without id, or with an empty one', async () => {
    expect(await rejection('', '')).toEqual({
      line: 3,
      id: null,
      field: 'id',
      reason: 'item has no id attribute',
    });
    expect(await rejection('', ' id=" \n "')).toMatchObject({
      id: null,
      field: 'id',
      reason: 'item id is empty',
    });
  });

  it('rejects image types that are not whole numbers from 1 to the maximum (default 100)', async () => {
    for (const type of ['abc', '1.5', '-1', '0', '101', '999999999', '', '1e2', '+1']) {
      const entry = await rejection(`<images><image type="${type}" url="u"/></images>`);
      expect(entry).toEqual({
        line: 3,
        id: '9',
        field: 'images.type',
        reason: `image type "${type}" is not a whole number from 1 to 100`,
      });
    }
    expect(
      (await one(`<images><image type="007" url="u"/></images>`)).products[0]!.product_images,
    ).toHaveProperty('image_7', 'u');
  });

  it('uses the configured maximum image type', async () => {
    const ok = await one(`<images><image type="150" url="u"/></images>`, ' id="1"', { maxImageType: 150 });
    expect(Object.keys(ok.products[0]!.product_images)).toHaveLength(150);
    const entry = await rejection(`<images><image type="3" url="u"/></images>`, ' id="9"', {
      maxImageType: 2,
    });
    expect(entry.reason).toBe('image type "3" is not a whole number from 1 to 2');
  });

  it('rejects two images with the same type', async () => {
    const entry = await rejection(`<images><image type="2" url="a"/><image type="2" url="b"/></images>`);
    expect(entry).toMatchObject({ field: 'images.type', reason: 'two images have type 2' });
  });

  it('rejects an image without url (or an empty one) or without type', async () => {
    expect(await rejection(`<images><image type="1"/></images>`)).toMatchObject({
      field: 'images.url',
      reason: 'image of type 1 has no url',
    });
    expect((await rejection(`<images><image type="1" url=" \n "/></images>`)).field).toBe('images.url');
    expect(await rejection(`<images><image url="u"/></images>`)).toMatchObject({
      field: 'images.type',
      reason: 'image has no type attribute',
    });
  });

  it('rejects a price without currency or without value', async () => {
    expect(await rejection(`<prices><price><value>1</value></price></prices>`)).toMatchObject({
      field: 'prices.currency',
      reason: 'price has no currency',
    });
    expect(await rejection(`<prices><price><currency>EUR</currency></price></prices>`)).toMatchObject({
      field: 'prices.value',
      reason: 'price has no value',
    });
  });

  it('rejects a currency that is not three capital letters', async () => {
    for (const cur of ['EURO', 'EU', 'eur', 'E1R', '']) {
      const entry = await rejection(
        `<prices><price><currency>${cur}</currency><value>1</value></price></prices>`,
      );
      expect(entry).toMatchObject({
        field: 'prices.currency',
        reason: `currency "${cur}" is not three capital letters (ISO 4217)`,
      });
    }
  });

  it('rejects a value that is not a plain decimal number', async () => {
    for (const value of ['49,95', '-1', '1e3', '', '1.', '.5', '1.2.3', '0x10', 'NaN']) {
      const entry = await rejection(
        `<prices><price><currency>EUR</currency><value>${value}</value></price></prices>`,
      );
      expect(entry).toMatchObject({
        field: 'prices.value',
        reason: `price value "${value}" is not a plain decimal number`,
      });
    }
  });

  it('rejects an item with two category or two description elements (no guessing which is right)', async () => {
    expect(await rejection(`<category>A</category><category>B</category>`)).toMatchObject({
      field: 'category',
      reason: 'item has more than one category element',
    });
    expect((await rejection(`<description>A</description><description/>`)).field).toBe('description');
  });

  it('rejects a price with two currencies or two values', async () => {
    const entry = await rejection(
      `<prices><price><currency>EUR</currency><currency>USD</currency><value>1</value></price></prices>`,
    );
    expect(entry.reason).toBe('price has more than one currency');
  });

  it('gives the line of the item start tag, even when its attributes span lines', async () => {
    const r = await convert(`<items>\n\n\n  <item\n   type="x">\n<category/></item>\n</items>`);
    expect(r.report.rejections[0]!.line).toBe(4);
  });

  it('fails the whole file at the first rejected item in strict mode', async () => {
    const error = await failure(`<items>\n<item id="1"/>\n<item/>\n</items>`, { strict: true });
    expect(error).toEqual({
      message: 'item rejected in strict mode: item has no id attribute (id none)',
      line: 3,
    });
  });
});

describe('the item size limit (maxItemBytes: bytes of XML from <item to </item>)', () => {
  const ITEM = '<item id="7"><category>C</category><description>D</description></item>';

  it('accepts an item of exactly maxItemBytes and rejects one byte more, with its line and id', async () => {
    const size = Buffer.byteLength(ITEM);
    const exact = await convert(`<items>\n${ITEM}\n</items>`, { maxItemBytes: size });
    expect(exact.products.map((p) => p.product_id)).toEqual(['7']);
    const over = await convert(`<items>\n<item id="1"/>\n${ITEM}\n<item id="2"/></items>`, {
      maxItemBytes: size - 1,
    });
    expect(over.report.error).toBeNull();
    expect(over.products.map((p) => p.product_id)).toEqual(['1', '2']);
    expect(over.report.itemsSeen).toBe(3);
    expect(over.report.rejections).toEqual([
      { line: 3, id: '7', field: 'item', reason: `item is larger than the limit of ${size - 1} bytes` },
    ]);
  });

  it('counts multi-byte characters, namespace prefixes and whitespace in tags as the bytes they are', async () => {
    const item = '<nsx:item id="ø" >\n<nsx:description>æøå</nsx:description>\n</nsx:item >';
    const size = Buffer.byteLength(item);
    const at = await convert(`<nsx:items>${item}</nsx:items>`, { maxItemBytes: size });
    expect(at.products[0]!.product_description).toBe('æøå');
    const over = await convert(`<nsx:items>${item}</nsx:items>`, { maxItemBytes: size - 1 });
    expect(over.report.rejections[0]).toMatchObject({ line: 1, id: 'ø', field: 'item' });
  });

  it('stops wherever the limit falls (text, CDATA, a reference, an attribute, a child tag) and goes on', async () => {
    const item =
      '<item id="5"><description>ab&amp;cd<![CDATA[ef]]></description>' +
      '<images><image type="1" url="http://x/&#97;b"/></images>' +
      '<prices><price><currency>EUR</currency><value>1.00</value></price></prices></item>';
    const size = Buffer.byteLength(item);
    const after = '<item id="after"><category>Z</category></item>';
    for (let limit = 1; limit < size; limit++) {
      const r = await convert(`<items>${item}${after}</items>`, { maxItemBytes: limit });
      expect(r.report.error).toBeNull();
      if (limit >= after.length) {
        expect(r.products).toEqual([expect.objectContaining({ product_id: 'after', product_category: 'Z' })]);
      } else expect(r.report.itemsRejected).toBe(2);
      const entry = r.report.rejections[0]!;
      expect(entry.field).toBe('item');
      // The id is known once its attribute was read whole within the limit, and never cut.
      expect(entry.id).toBe(limit >= '<item id="5"'.length ? '5' : null);
    }
  });

  it('outranks any other reason, and still checks the rest of the item for well-formedness', async () => {
    const noId = await convert('<items><item><description>long text</description></item></items>', {
      maxItemBytes: 10,
    });
    expect(noId.report.rejections[0]).toMatchObject({ id: null, field: 'item' });
    const broken = await failure('<items><item id="1"><description>long</descriptio></item></items>', {
      maxItemBytes: 10,
    });
    expect(broken.message).toMatch(/end tag does not match/);
    const truncated = await failure('<items><item id="1"><description>long text', { maxItemBytes: 10 });
    expect(truncated.message).toMatch(/not closed/);
  });

  it('fails the whole file in strict mode, at the end of the item', async () => {
    const error = await failure(`<items>\n<item id="1">${'x'.repeat(100)}</item>\n</items>`, {
      strict: true,
      maxItemBytes: 50,
    });
    expect(error).toEqual({
      message: 'item rejected in strict mode: item is larger than the limit of 50 bytes (id 1)',
      line: 2,
    });
  });

  it('applies to items only: the root element and content outside items are bounded by maxBytes', async () => {
    const r = await convert(
      `<items a="${'v'.repeat(100)}"><note>${'t'.repeat(100)}</note><item id="1"/></items>`,
      {
        maxItemBytes: 20,
      },
    );
    expect(r.products.map((p) => p.product_id)).toEqual(['1']);
  });

  it('defaults to 16 MiB', async () => {
    const head = '<item id="1"><description>';
    const tail = '</description></item>';
    const fits = 'd'.repeat(16 * 1024 * 1024 - head.length - tail.length);
    const catalogue = (text: string) => Buffer.from(`<items>${head}${text}${tail}</items>`);
    const at = await convertChunks(pieces(catalogue(fits), 1 << 20));
    expect(at.report.itemsWritten).toBe(1);
    const over = await convertChunks(pieces(catalogue(`${fits}d`), 1 << 20));
    expect(over.report.rejections[0]).toMatchObject({ field: 'item', reason: /16777216 bytes/ });
  });
});

describe('warnings', () => {
  it('warns about a missing category, description or prices, and still writes the item', async () => {
    const r = await convert(`<items>\n  <item id="5"><images/></item>\n</items>`);
    expect(r.products).toEqual([
      { product_id: '5', product_category: '', product_description: '', product_images: {}, prices: [] },
    ]);
    expect(r.report.warnings).toEqual([
      { line: 2, id: '5', field: 'category', reason: 'no category' },
      { line: 2, id: '5', field: 'description', reason: 'no description' },
      { line: 2, id: '5', field: 'prices', reason: 'no prices' },
    ]);
    expect(r.report.warningsTotal).toBe(3);
  });
});

describe('the report', () => {
  it('has the documented shape', async () => {
    const r = await convert(
      `<items>\n<item id="1">${FULL}</item>\n<item id="2"><images><image type="0" url="u"/></images></item>\n</items>`,
      {
        source: 'in/a.xml',
      },
    );
    expect(r.report).toEqual({
      source: 'in/a.xml',
      bytes: expect.any(Number),
      itemsSeen: 2,
      itemsWritten: 1,
      itemsRejected: 1,
      rejections: [
        {
          line: 5,
          id: '2',
          field: 'images.type',
          reason: 'image type "0" is not a whole number from 1 to 100',
        },
      ],
      warnings: [],
      warningsTotal: 0,
      error: null,
    });
  });

  it('caps the lists at maxReportEntries but keeps exact counts', async () => {
    const items = Array.from({ length: 5 }, (_, k) => `<item id="${k}"/><item/>`).join('');
    const r = await convert(`<items>${items}</items>`, { maxReportEntries: 2 });
    expect(r.report.rejections).toHaveLength(2);
    expect(r.report.itemsRejected).toBe(5);
    expect(r.report.warnings).toHaveLength(2);
    expect(r.report.warningsTotal).toBe(15);
  });

  it('quotes long ids and values shortened (a report is for people), never splitting a character', async () => {
    const id = `${'i'.repeat(255)}"${'é'.repeat(300)}`;
    const type = `9${'x'.repeat(1000)}`;
    const xml = `<items><item id="${id.replace('"', '&quot;')}"><images><image type="${type}" url="u"/></images></item></items>`;
    const r = await convert(xml);
    const entry = r.report.rejections[0]!;
    expect(entry.id).toBe(`${'i'.repeat(255)}…`);
    expect(entry.reason).toBe(`image type "9${'x'.repeat(63)}…" is not a whole number from 1 to 100`);
    const accented = await convert(`<items><item id="a${'é'.repeat(300)}"/></items>`);
    expect(accented.report.warnings[0]!.id).toBe(`a${'é'.repeat(127)}…`);
  });

  it('counts the decompressed bytes read', async () => {
    const xml = '<items><item id="1"/></items>';
    expect((await convert(gzipSync(xml))).report.bytes).toBe(xml.length);
  });
});

describe('files that fail as a whole', () => {
  it.each([
    ['mismatched end tag', '<items><item id="1"></items>', 'end tag does not match the start tag <item>'],
    ['truncated file', '<items><item id="1">', 'unexpected end of input: <item> from line 1 is not closed'],
    ['truncated inside a tag', '<items><item id="1', 'unexpected end of input inside an attribute value'],
    ['attribute without quotes', '<items a=1/>', 'attribute value must be in quotes'],
    ['attribute without value', '<items a/>', "attribute without '=' and a value"],
    ['attributes without space', '<items a="1"b="2"/>', 'attributes must be separated by whitespace'],
    [
      'duplicate attribute',
      '<items><item id="1" id="2"/></items>',
      "attribute 'id' appears twice in one tag",
    ],
    ['< in attribute value', '<items a="<"/>', "'<' is not allowed in an attribute value"],
    ['bare &', '<items><item id="1"><category>A & B</category></item></items>', "'&' must start a reference"],
    ['& in an unknown element', '<items><x>&</x></items>', "'&' must start a reference"],
    ['undefined entity', '<items><x>&nbsp;</x></items>', "undefined entity '&nbsp;'"],
    ['unterminated reference', '<items a="&amp"/>', "reference '&amp' is not terminated"],
    ['reference to a forbidden character', '<items><x>&#0;</x></items>', 'is not an allowed XML character'],
    ['reference to a surrogate', '<items><x>&#xD800;</x></items>', 'is not an allowed XML character'],
    ['control character', '<items>\u0001</items>', 'character 0x01 is not allowed'],
    ['text after the root', '<items/>x', 'text outside the root element'],
    ['element after the root', '<items/><items/>', 'content after the root element'],
    ['no root at all', '<!-- nothing -->', 'no root element'],
    ['empty input', '', 'no root element'],
    [']]> in text', '<items>]]></items>', "']]>' is not allowed in text"],
    ['-- in a comment', '<items><!-- a -- b --></items>', "'--' is not allowed inside a comment"],
    ['XML declaration not at the start', ' <?xml version="1.0"?><items/>', 'only allowed at the very start'],
    ['malformed XML declaration', '<?xml version="2.0"?><items/>', 'malformed XML declaration'],
    ['invalid name', '<items><1a/></items>', "'<' must start a tag"],
  ])('%s', async (_name, xml, message) => {
    const error = await failure(xml);
    expect(error.message).toContain('not well-formed XML');
    expect(error.message).toContain(message);
  });

  it('checks non-ASCII names against the XML name rules', async () => {
    expect((await convert('<items><café größe="1"><中号/></café></items>')).json).toBe('[]');
    expect((await failure('<items><a×b/></items>')).message).toContain('<a×b> is not a valid element name');
    expect((await failure('<items><x ·a="1"/></items>')).message).toContain(
      "'·a' is not a valid attribute name",
    );
    expect((await failure('<items><?×?></items>')).message).toContain(
      'not a valid processing instruction target',
    );
  });

  it('fails on invalid UTF-8 (also split across chunks), with the line', async () => {
    const bad = Buffer.concat([
      Buffer.from('<items>\n<x>'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('</x></items>'),
    ]);
    expect(await failure(bad)).toEqual({ message: 'not well-formed XML: invalid UTF-8', line: 2 });
    const truncated = Buffer.concat([Buffer.from('<items><x>'), Buffer.from([0xe2, 0x82])]);
    expect((await failure(truncated)).message).toContain('invalid UTF-8');
  });

  it('reports the line where the document broke', async () => {
    expect((await failure('<items>\n<item id="1">\n</itm>\n</items>')).line).toBe(3);
  });

  it('fails when the root element is not items', async () => {
    expect(await failure('\n<nsx:products><item id="1"/></nsx:products>')).toEqual({
      message: 'the root element is <nsx:products>, expected <items>',
      line: 2,
    });
  });

  it('refuses any DOCTYPE or ENTITY declaration (billion laughs, XXE)', async () => {
    const laughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><items>&lol2;</items>`;
    expect((await failure(laughs)).message).toContain('DOCTYPE declarations are not allowed');
    const xxe = `<!DOCTYPE items SYSTEM "file:///etc/passwd"><items/>`;
    expect((await failure(xxe)).message).toContain('DOCTYPE declarations are not allowed');
    expect((await failure('<items><!ENTITY x "y"></items>')).message).toContain(
      'ENTITY declarations are not allowed',
    );
  });

  it('fails an input larger than maxBytes, counting decompressed bytes (a gzip bomb stops early)', async () => {
    const xml = `<items>${' '.repeat(2000)}</items>`;
    expect((await failure(xml, { maxBytes: 1000 })).message).toBe(
      'input is larger than the limit of 1000 bytes',
    );
    const bomb = gzipSync(`<items>${' '.repeat(20 * 1024 * 1024)}</items>`);
    expect(bomb.length).toBeLessThan(100_000);
    const r = await convertChunks([bomb], { maxBytes: 1024 * 1024 });
    expect(r.json).toBeNull();
    expect(r.report.error?.message).toContain('larger than the limit');
    expect(r.report.bytes).toBeLessThan(4 * 1024 * 1024);
  });

  it('fails cleanly on very deep nesting', async () => {
    const depth = 100_000;
    const xml = `<items>${'<a>'.repeat(depth)}${'</a>'.repeat(depth)}</items>`;
    const r = await convertChunks(pieces(Buffer.from(xml), 65536));
    expect(r.report.error?.message).toBe('not well-formed XML: nesting too deep (more than 10000 levels)');
    const ok = await convertChunks([
      Buffer.from(`<items>${'<a>'.repeat(5000)}${'</a>'.repeat(5000)}</items>`),
    ]);
    expect(ok.json).toBe('[]');
  });
});

describe('gzip', () => {
  const xml = `<items><item id="1">${FULL}</item></items>`;

  it('detects gzip by its magic bytes, also when they arrive one byte at a time', async () => {
    const plain = await convert(xml);
    const zipped = await convert(gzipSync(xml));
    expect(zipped.json).toBe(plain.json);
  });

  it('honours gzip: true and gzip: false', async () => {
    expect((await convertChunks([gzipSync(xml)], { gzip: true })).json).toBe((await convert(xml)).json);
    expect((await convertChunks([Buffer.from(xml)], { gzip: true })).report.error?.message).toContain(
      'not valid gzip data',
    );
    expect((await convertChunks([gzipSync(xml)], { gzip: false })).report.error?.message).toContain(
      'not well-formed XML',
    );
  });

  it('fails a truncated gzip stream', async () => {
    const z = gzipSync(xml);
    const r = await convertChunks([z.subarray(0, z.length - 10)]);
    expect(r.json).toBeNull();
    expect(r.report.error?.message).toContain('gzip');
  });
});

describe('streaming', () => {
  it('destroys the stream with a ConversionError carrying the line, and the report still resolves', async () => {
    const { stream, report } = createConverter();
    const failed = once(stream, 'error');
    stream.resume();
    stream.end(Buffer.from('<items>\n<a></b></items>'));
    const [err] = await failed;
    expect(err).toBeInstanceOf(ConversionError);
    expect((err as ConversionError).line).toBe(2);
    expect((await report).error?.line).toBe(2);
  });

  it('resolves the report when the stream is destroyed from outside', async () => {
    const { stream, report } = createConverter();
    stream.write(Buffer.from('<items><item id="1"/>'));
    stream.destroy();
    expect((await report).error?.message).toBe('conversion aborted before the end of the input');
  });

  it('emits output before the input ends (memory bounded by items, not the file)', async () => {
    const { stream, report } = createConverter();
    let received = 0;
    stream.on('data', (d: Buffer) => {
      received += d.length;
    });
    stream.write(Buffer.from('<items>'));
    const item = `<item id="1">${FULL}</item>`;
    for (let k = 0; k < 5000; k++) stream.write(Buffer.from(item));
    await new Promise((r) => setImmediate(r));
    expect(received).toBeGreaterThan(0);
    stream.end(Buffer.from('</items>'));
    await once(stream, 'end');
    expect((await report).itemsWritten).toBe(5000);
  });

  it('handles a value far larger than any chunk', async () => {
    const long = 'x'.repeat(3_000_000);
    const xml = Buffer.from(`<items><item id="1"><description> ${long} </description></item></items>`);
    const r = await convertChunks(pieces(xml, 1000));
    expect(JSON.parse(r.json!)[0].product_description).toBe(long);
  });

  it('rejects invalid options at once', () => {
    expect(() => createConverter({ maxImageType: 0 })).toThrow(RangeError);
    expect(() => createConverter({ maxBytes: -1 })).toThrow(RangeError);
    expect(() => createConverter({ maxItemBytes: 0 })).toThrow(RangeError);
    expect(() => createConverter({ maxItemBytes: 1.5 })).toThrow(RangeError);
  });
});
