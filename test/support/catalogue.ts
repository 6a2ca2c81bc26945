/**
 * Generated catalogues for the converter's tests and benchmark.
 *
 * - A model of a catalogue (`GenCatalogue`) whose expected JSON is known by construction: every item is
 *   either valid or carries exactly one unambiguous defect (`rejectAs`), so the expectation does not
 *   re-implement the converter's rules.
 * - fast-check arbitraries for that model, and an XML writer that spells the same catalogue in many legal
 *   ways (namespace prefixes, declaration, BOM, quotes, attribute order, unknown attributes/elements,
 *   shuffled children, whitespace and line breaks, entities, char refs, CDATA, comments, PIs).
 * - Feeding helpers that cut a byte array into chunks.
 * - A seeded, fast-check-free generator that streams a large catalogue to a file for the benchmark.
 *
 * Generated text never starts or ends with whitespace of any kind (XML or Unicode), so the expectation does
 * not depend on which definition of "trimmed" the converter uses; the writer adds only XML whitespace
 * around values, which every definition removes.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename } from 'node:fs/promises';
import fc from 'fast-check';

// ---------------------------------------------------------------------------------------------------
// Model and expected output

export interface GenImage {
  /** The `type` attribute as written (a canonical whole number unless the item is rejected for it). */
  type: string | null;
  /** The URL without whitespace; the writer may break it with whitespace. null = no `url` attribute. */
  url: string | null;
}

export interface GenPrice {
  currency: string | null;
  value: string | null;
}

export interface GenItem {
  /** null = no `id` attribute. */
  id: string | null;
  /** null = element absent. */
  category: string | null;
  description: string | null;
  /** null = no `images` element; [] = an empty one. */
  images: GenImage[] | null;
  prices: GenPrice[] | null;
  /** The report field the item must be rejected for, or null when it must be written. */
  rejectAs: string | null;
}

export interface GenCatalogue {
  items: GenItem[];
  maxImageType: number;
}

export interface ProductJson {
  product_id: string;
  product_category: string;
  product_description: string;
  product_images: Record<string, string | null>;
  prices: { currency: string; value: string }[];
}

export interface ExpectedOutcome {
  products: ProductJson[];
  /** JSON.stringify(products): the canonical compact encoding the converter must produce byte for byte. */
  json: string;
  itemsSeen: number;
  itemsWritten: number;
  itemsRejected: number;
  /** Index into `items` and the report field of every rejected item, in document order. */
  rejected: { index: number; id: string | null; field: string }[];
  /** Warnings every converter must give: absent category or description, no price at all. */
  warnings: { id: string; field: string }[];
}

/** The JSON object of a valid item, keys in the order FORMAT.md prescribes. */
function productOf(item: GenItem): ProductJson {
  const images: Record<string, string | null> = {};
  const byType = new Map((item.images ?? []).map((img) => [Number(img.type), img.url]));
  const highest = Math.max(0, ...byType.keys());
  for (let t = 1; t <= highest; t++) images[`image_${t}`] = byType.get(t) ?? null;
  return {
    product_id: item.id ?? '',
    product_category: item.category ?? '',
    product_description: item.description ?? '',
    product_images: images,
    prices: (item.prices ?? []).map((p) => ({ currency: p.currency ?? '', value: p.value ?? '' })),
  };
}

export function expectedOutcome(catalogue: GenCatalogue): ExpectedOutcome {
  const products: ProductJson[] = [];
  const rejected: ExpectedOutcome['rejected'] = [];
  const warnings: ExpectedOutcome['warnings'] = [];
  catalogue.items.forEach((item, index) => {
    if (item.rejectAs !== null) {
      const id = item.id === null || item.id.trim() === '' ? null : item.id;
      rejected.push({ index, id, field: item.rejectAs });
      return;
    }
    products.push(productOf(item));
    const id = item.id ?? '';
    if (item.category === null) warnings.push({ id, field: 'category' });
    if (item.description === null) warnings.push({ id, field: 'description' });
    if ((item.prices ?? []).length === 0) warnings.push({ id, field: 'prices' });
  });
  return {
    products,
    json: JSON.stringify(products),
    itemsSeen: catalogue.items.length,
    itemsWritten: products.length,
    itemsRejected: rejected.length,
    rejected,
    warnings,
  };
}

// ---------------------------------------------------------------------------------------------------
// Arbitraries

/** Pieces of text: XML specials, CDATA/comment terminators, multi-byte and astral characters. */
// biome-ignore format: a few lines of pieces read better than forty
const TEXT_PIECES = [
  'a', 'b', 'Z', '7', ' ', 'Jeans', 'Bootleg', '<', '>', '&', '"', "'", '<&>"\'', ']]>', ']]', '-->', '--',
  '?>', '&amp;', '&#38;', 'é', 'ß', 'Ω', '中文', '😀', '𝄞', '\u00a0', '\u2028', '\t', '\n', '/', '=', ';',
  '\\', '\u007f', '\u0085',
];

/** Removes leading and trailing whitespace by any definition (JS \s covers XML whitespace too). */
function trimAll(s: string): string {
  return s.replace(/^[\s\uFEFF]+|[\s\uFEFF]+$/gu, '');
}

export const textArb: fc.Arbitrary<string> = fc
  .array(fc.constantFrom(...TEXT_PIECES), { maxLength: 8 })
  .map((pieces) => trimAll(pieces.join('')));

const ID_CHARS = 'ABCXYZabcxyz0123456789-_.<&>"\'é中😀';
const idArb = fc
  .array(fc.constantFrom(...Array.from(ID_CHARS)), { minLength: 1, maxLength: 10 })
  .map((cs) => cs.join(''));

const URL_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789/_.-?=&%~é\'"';
const urlArb = fc
  .tuple(
    fc.constantFrom('https://sample.com/img/', 'http://cdn.example.org/a/', 'https://x.test/?q=1&r=2/'),
    fc.array(fc.constantFrom(...Array.from(URL_CHARS)), { maxLength: 24 }),
  )
  .map(([base, cs]) => base + cs.join(''));

const CURRENCIES = ['EUR', 'DKK', 'NGN', 'USD', 'GBP', 'SEK', 'JPY', 'CHF'];
const valueArb = fc.oneof(
  fc.constantFrom('0', '49.95', '445.60', '50000.00', '0.5', '1'),
  fc
    .tuple(fc.nat(999999), fc.option(fc.stringMatching(/^[0-9]{1,3}$/), { nil: null }))
    .map(([i, f]) => (f === null ? String(i) : `${i}.${f}`)),
);
const priceArb: fc.Arbitrary<GenPrice> = fc.record({
  currency: fc.constantFrom(...CURRENCIES),
  value: valueArb,
});

function imagesArb(maxType: number): fc.Arbitrary<GenImage[]> {
  return fc
    .uniqueArray(fc.integer({ min: 1, max: maxType }), { maxLength: Math.min(maxType, 6) })
    .chain((types) =>
      fc
        .tuple(...types.map(() => urlArb))
        .map((urls) => types.map((t, i) => ({ type: String(t), url: urls[i]! }))),
    );
}

function validItemArb(maxType: number): fc.Arbitrary<GenItem> {
  return fc.record({
    id: idArb,
    category: fc.option(textArb, { nil: null, freq: 5 }),
    description: fc.option(textArb, { nil: null, freq: 5 }),
    images: fc.option(imagesArb(maxType), { nil: null, freq: 5 }),
    prices: fc.option(fc.array(priceArb, { maxLength: 4 }), { nil: null, freq: 5 }),
    rejectAs: fc.constant(null),
  });
}

/** One unambiguous defect applied to a valid item (FORMAT.md, "An item is rejected"). */
function defectArb(maxType: number): fc.Arbitrary<(item: GenItem) => GenItem> {
  const setImages = (extra: GenImage, field: string) => (item: GenItem) => ({
    ...item,
    images: [...(item.images ?? []), extra],
    rejectAs: field,
  });
  const setPrice = (price: GenPrice, field: string) => (item: GenItem) => ({
    ...item,
    prices: [...(item.prices ?? []), price],
    rejectAs: field,
  });
  return fc.oneof(
    fc.constantFrom(null, '', '   ').map((id) => (item: GenItem) => ({ ...item, id, rejectAs: 'id' })),
    fc
      .tuple(
        fc.constantFrom('0', String(maxType + 1), String(maxType + 1000), 'abc', '1.5', '-2', ''),
        urlArb,
      )
      .map(([type, url]) => setImages({ type, url }, 'images.type')),
    fc.constant(null).map(() => (item: GenItem): GenItem => {
      // An image without `url`: drop the url of an existing image, or add a type-1 image without one.
      const images = item.images && item.images.length > 0 ? item.images : [{ type: '1', url: null }];
      return {
        ...item,
        images: images.map((img, i) => (i === 0 ? { ...img, url: null } : img)),
        rejectAs: 'images.url',
      };
    }),
    fc.constant(null).map(() => (item: GenItem): GenItem => {
      // A second image of a type the item already has (or two of type 1).
      const images =
        item.images && item.images.length > 0 ? item.images : [{ type: '1', url: 'https://a/1' }];
      return {
        ...item,
        images: [...images, { type: images[0]!.type, url: 'https://dup/x' }],
        rejectAs: 'images.type',
      };
    }),
    fc
      .constantFrom(null, 'EURO', 'E1', 'EU', '')
      .map((currency) => setPrice({ currency, value: '1.00' }, 'prices.currency')),
    fc
      .constantFrom(null, '49,95', '-1', '1e3', '', 'abc', '1.2.3')
      .map((value) => setPrice({ currency: 'EUR', value }, 'prices.value')),
  );
}

export function itemArb(maxType: number, defectFreq = 1): fc.Arbitrary<GenItem> {
  const valid = validItemArb(maxType);
  if (defectFreq === 0) return valid;
  return fc.oneof(
    { arbitrary: valid, weight: 6 },
    {
      arbitrary: fc.tuple(valid, defectArb(maxType)).map(([item, defect]) => defect(item)),
      weight: defectFreq,
    },
  );
}

/** A catalogue of 1..maxItems items with unique ids (so report entries can be matched by id). */
export function catalogueArb(
  options: { maxItems?: number; defects?: boolean } = {},
): fc.Arbitrary<GenCatalogue> {
  const maxItems = options.maxItems ?? 8;
  return fc.oneof(fc.constant(100), fc.integer({ min: 1, max: 12 })).chain((maxImageType) =>
    fc
      .array(itemArb(maxImageType, options.defects === false ? 0 : 1), { minLength: 1, maxLength: maxItems })
      .map((items) => ({
        maxImageType,
        items: items.map((item, i) =>
          item.id !== null && item.id.trim() !== '' ? { ...item, id: `${item.id}#${i}` } : item,
        ),
      })),
  );
}

// ---------------------------------------------------------------------------------------------------
// XML writer

/** mulberry32: a tiny seeded PRNG, so a spelling is reproducible from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface XmlStyle {
  /** How element names are spelled: `nsx:` undeclared/declared, another declared prefix, none, default ns. */
  names: 'nsx-undeclared' | 'nsx-declared' | 'other-prefix' | 'none' | 'default-ns';
  declaration: 'none' | 'plain' | 'encoding' | 'standalone';
  bom: boolean;
  newline: '\n' | '\r\n';
  /** Seeds every small choice: quotes, attribute order, escapes, whitespace, comments. */
  seed: number;
  /** How often (0..1) the writer adds optional noise: unknown elements/attributes, comments, PIs. */
  noise: number;
}

export const styleArb: fc.Arbitrary<XmlStyle> = fc.record({
  names: fc.constantFrom('nsx-undeclared', 'nsx-declared', 'other-prefix', 'none', 'default-ns'),
  declaration: fc.constantFrom('none', 'plain', 'encoding', 'standalone'),
  bom: fc.boolean(),
  newline: fc.constantFrom('\n', '\r\n'),
  seed: fc.integer(),
  noise: fc.constantFrom(0, 0.2, 0.5),
});

export interface RenderedCatalogue {
  bytes: Uint8Array;
  text: string;
  /** 1-based line of each item's start tag, by item index. */
  itemLines: number[];
}

const XML_WS = [' ', '  ', '\t', '\n', '\r\n'];

class Writer {
  private readonly out: string[] = [];
  private line = 1;
  private readonly rnd: () => number;
  private readonly prefix: string;

  constructor(private readonly style: XmlStyle) {
    this.rnd = prng(style.seed);
    this.prefix = {
      'nsx-undeclared': 'nsx:',
      'nsx-declared': 'nsx:',
      'other-prefix': 'p7:',
      none: '',
      'default-ns': '',
    }[style.names];
  }

  get currentLine(): number {
    return this.line;
  }

  get noiseLevel(): number {
    return this.style.noise;
  }

  lastWasSelfClosing(): boolean {
    return this.out[this.out.length - 1]!.endsWith('/>');
  }

  emit(s: string): void {
    this.out.push(s);
    for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) this.line++;
  }

  text(): string {
    return this.out.join('');
  }

  chance(p: number): boolean {
    return this.rnd() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)]!;
  }

  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(this.rnd() * (i + 1));
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  }

  name(local: string): string {
    return this.prefix + local;
  }

  /** Whitespace between markup, in the catalogue's newline style. */
  gap(depth: number): void {
    const r = this.rnd();
    if (r < 0.2) return;
    if (r < 0.3) this.emit(this.pick([' ', '\t', '  ']));
    else this.emit(this.style.newline + ' '.repeat(depth));
    this.noiseMarkup(depth);
  }

  noiseMarkup(depth: number): void {
    if (!this.chance(this.style.noise)) return;
    const r = this.rnd();
    if (r < 0.4)
      this.emit(`<!--${this.pick([' c ', '', 'a - b', '<item id="fake">', '&amp; ]]>', ' é😀 '])}-->`);
    else if (r < 0.7)
      this.emit(`<?${this.pick(['pi', 'xml-stylesheet', 'x.y'])} ${this.pick(['', 'a="b"', '<&> ??'])}?>`);
    else this.emit(this.style.newline + ' '.repeat(depth));
  }

  /** Padding around a trimmed value: XML whitespace only, literal or as a char ref. */
  pad(inAttribute: boolean): string {
    if (!this.chance(0.3)) return '';
    return this.pick(
      inAttribute ? [' ', '  ', '\n  ', '\t', '&#32;', '&#x20;'] : [...XML_WS, '&#10;', '&#x9;'],
    );
  }

  charRef(ch: string): string {
    const cp = ch.codePointAt(0)!;
    return this.chance(0.5) ? `&#${cp};` : `&#x${cp.toString(16)};`;
  }

  /**
   * Element content: escaped with entities, char refs or CDATA, in one or two segments split by a
   * comment or PI.
   */
  content(value: string): string {
    const chars = Array.from(value);
    const cuts = chars.length > 1 && this.chance(0.3) ? [Math.floor(this.rnd() * chars.length)] : [];
    const segments: string[] = [];
    let from = 0;
    for (const cut of [...cuts, chars.length]) {
      segments.push(chars.slice(from, cut).join(''));
      from = cut;
    }
    const parts = segments.map((seg) => this.segment(seg));
    const sep = () => (this.chance(0.5) ? '<!--split-->' : '<?split here?>');
    return this.pad(false) + parts.join(sep()) + this.pad(false);
  }

  private segment(seg: string): string {
    const r = this.rnd();
    if (r < 0.2 && seg.length > 0) {
      return `<![CDATA[${seg.replaceAll(']]>', ']]]]><![CDATA[>').replaceAll('\n', this.style.newline)}]]>`;
    }
    const useRefs = r < 0.4;
    let out = '';
    const chars = Array.from(seg);
    chars.forEach((ch, i) => {
      if (useRefs && !/[A-Za-z0-9]/.test(ch)) out += this.charRef(ch);
      else if (ch === '&') out += this.chance(0.7) ? '&amp;' : this.charRef(ch);
      else if (ch === '<') out += this.chance(0.7) ? '&lt;' : this.charRef(ch);
      // `>` must be escaped after `]]`; elsewhere it may stay raw.
      else if (ch === '>') out += chars[i - 1] === ']' || this.chance(0.5) ? '&gt;' : '>';
      else if (ch === '"') out += this.chance(0.5) ? '&quot;' : '"';
      else if (ch === "'") out += this.chance(0.5) ? '&apos;' : "'";
      else if (ch === '\n') out += this.style.newline;
      else out += ch;
    });
    return out;
  }

  /** Attribute value (no quotes), for the given quote character. Whitespace inside is kept as char refs. */
  attrValue(value: string, quote: string, breakWithWhitespace = false): string {
    let out = '';
    for (const ch of Array.from(value)) {
      if (breakWithWhitespace && this.chance(0.15)) {
        out += this.pick([`${this.style.newline}    `, ' ', '\t', '&#10;', '&#x9;', '&#13;', '&#32;']);
      }
      if (ch === '&') out += this.chance(0.7) ? '&amp;' : this.charRef(ch);
      else if (ch === '<') out += this.chance(0.7) ? '&lt;' : this.charRef(ch);
      else if (ch === quote)
        out += quote === '"' ? this.pick(['&quot;', '&#34;']) : this.pick(['&apos;', '&#39;']);
      else if (ch === '\t' || ch === '\n' || ch === '\r') out += this.charRef(ch);
      else if (!/[A-Za-z0-9]/.test(ch) && this.chance(0.1)) out += this.charRef(ch);
      else out += ch;
    }
    return out;
  }

  attr(name: string, value: string, options: { padded?: boolean; broken?: boolean } = {}): string {
    const q = this.chance(0.5) ? '"' : "'";
    const eq = this.pick(['=', '=', ' = ', '=\n']);
    const body = this.attrValue(value, q, options.broken);
    const padded = options.padded ? this.pad(true) + body + this.pad(true) : body;
    return `${name}${eq}${q}${padded}${q}`;
  }

  /** Unknown attributes that must be ignored. */
  extraAttrs(): string[] {
    const out: string[] = [];
    if (this.chance(this.style.noise)) out.push(this.attr('lang', 'en'));
    if (this.chance(this.style.noise)) out.push(this.attr(`${this.prefix || 'q:'}extra`, '<&>"\''));
    if (this.chance(this.style.noise)) out.push(this.attr('data-item', 'id="1"'));
    if (this.chance(this.style.noise / 2)) out.push(this.attr('größe·x', 'L'));
    return out;
  }

  startTag(local: string, attrs: string[], selfClose: boolean, extra: string[] = []): void {
    const all = this.shuffle([...attrs, ...this.extraAttrs(), ...extra]);
    const sep = () => this.pick([' ', ' ', '\n    ', '\t']);
    const tail = this.pick(['', '', ' ', '\n']);
    this.emit(`<${this.name(local)}${all.map((a) => sep() + a).join('')}${tail}${selfClose ? '/>' : '>'}`);
  }

  endTag(local: string): void {
    this.emit(`</${this.name(local)}${this.pick(['', '', ' ', '\n'])}>`);
  }

  /** An element to ignore, with content that still has to be well-formed (entities, nesting, CDATA). */
  unknownElement(depth: number): void {
    const local = this.pick([
      'note',
      'itemx',
      'categoryX',
      'extra',
      'image-set',
      'meta',
      'é_info',
      '中文',
      'x.y-z',
    ]);
    const body = this.pick([
      '',
      'plain &amp; simple &lt;b&gt;',
      '<![CDATA[ <item id="cdata"/> & ]]>',
      `<${this.name('sub')} a="&quot;"/>text`,
      '&#x1F600; &#233;',
    ]);
    if (body === '' && this.chance(0.5)) this.startTag(local, [], true);
    else {
      this.startTag(local, [], false);
      this.emit(body);
      this.endTag(local);
    }
    this.gap(depth);
  }

  textElement(local: string, value: string, depth: number): void {
    this.gap(depth);
    if (value === '' && this.chance(0.5)) {
      this.startTag(local, [], true);
      return;
    }
    this.startTag(local, [], false);
    this.emit(this.content(value));
    this.endTag(local);
  }
}

function writeItem(w: Writer, item: GenItem, depth: number): number {
  w.gap(depth);
  const line = w.currentLine;
  const attrs = item.id === null ? [] : [w.attr('id', item.id, { padded: true })];
  w.startTag('item', attrs, false);
  const parts: (() => void)[] = [];
  if (item.category !== null) parts.push(() => w.textElement('category', item.category!, depth + 1));
  if (item.description !== null) parts.push(() => w.textElement('description', item.description!, depth + 1));
  if (item.images !== null) parts.push(() => writeImages(w, item.images!, depth + 1));
  if (item.prices !== null) parts.push(() => writePrices(w, item.prices!, depth + 1));
  if (w.chance(w.noiseLevel)) parts.push(() => w.unknownElement(depth + 1));
  for (const part of w.shuffle(parts)) part();
  w.gap(depth);
  w.endTag('item');
  return line;
}

function writeImages(w: Writer, images: GenImage[], depth: number): void {
  w.gap(depth);
  if (images.length === 0 && w.chance(0.5)) {
    w.startTag('images', [], true);
    return;
  }
  w.startTag('images', [], false);
  for (const img of images) {
    w.gap(depth + 1);
    const attrs: string[] = [];
    if (img.type !== null) attrs.push(w.attr('type', img.type));
    if (img.url !== null) attrs.push(w.attr('url', img.url, { broken: true, padded: true }));
    w.startTag('image', attrs, w.chance(0.8));
    if (!w.lastWasSelfClosing()) w.endTag('image');
    if (w.chance(w.noiseLevel)) w.unknownElement(depth + 1);
  }
  w.gap(depth);
  w.endTag('images');
}

function writePrices(w: Writer, prices: GenPrice[], depth: number): void {
  w.gap(depth);
  if (prices.length === 0 && w.chance(0.5)) {
    w.startTag('prices', [], true);
    return;
  }
  w.startTag('prices', [], false);
  for (const price of prices) {
    w.gap(depth + 1);
    w.startTag('price', [], false);
    const parts: (() => void)[] = [];
    if (price.currency !== null) parts.push(() => w.textElement('currency', price.currency!, depth + 2));
    if (price.value !== null) parts.push(() => w.textElement('value', price.value!, depth + 2));
    if (w.chance(w.noiseLevel)) parts.push(() => w.unknownElement(depth + 2));
    for (const part of w.shuffle(parts)) part();
    w.gap(depth + 1);
    w.endTag('price');
  }
  w.gap(depth);
  w.endTag('prices');
}

function xmlDeclaration(style: XmlStyle, w: Writer): string {
  const q = w.chance(0.5) ? '"' : "'";
  switch (style.declaration) {
    case 'none':
      return '';
    case 'plain':
      return `<?xml version=${q}1.0${q}?>`;
    case 'encoding':
      return `<?xml version=${q}1.0${q} encoding=${q}${w.pick(['UTF-8', 'utf-8'])}${q}?>`;
    case 'standalone':
      return `<?xml version=${q}1.0${q} encoding=${q}UTF-8${q} standalone=${q}yes${q}?>`;
  }
}

export function renderCatalogue(catalogue: GenCatalogue, style: XmlStyle): RenderedCatalogue {
  const w = new Writer(style);
  const decl = xmlDeclaration(style, w);
  if (decl) {
    w.emit(decl);
    w.emit(style.newline);
  }
  w.noiseMarkup(0);
  const rootAttrs: string[] = [];
  if (style.names === 'nsx-declared')
    rootAttrs.push(w.attr('xmlns:nsx', w.pick(['urn:x', 'http://example.com/ns', ''])));
  if (style.names === 'other-prefix') rootAttrs.push(w.attr('xmlns:p7', 'urn:partner'));
  if (style.names === 'default-ns') rootAttrs.push(w.attr('xmlns', 'http://example.com/catalogue'));
  w.startTag('items', rootAttrs, false);
  const itemLines: number[] = [];
  for (const item of catalogue.items) {
    if (w.chance(style.noise / 2)) w.unknownElement(1);
    itemLines.push(writeItem(w, item, 1));
  }
  w.gap(0);
  w.endTag('items');
  w.noiseMarkup(0);
  if (w.chance(0.5)) w.emit(style.newline);
  const text = w.text();
  const bytes = new TextEncoder().encode((style.bom ? '\uFEFF' : '') + text);
  return { bytes, text, itemLines };
}

// ---------------------------------------------------------------------------------------------------
// Feeding

/** Cuts `bytes` at the given offsets (any order, out-of-range ignored). */
export function cutAt(bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  const sorted = [...new Set(offsets.filter((o) => o > 0 && o < bytes.length))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const o of [...sorted, bytes.length]) {
    chunks.push(bytes.subarray(from, o));
    from = o;
  }
  return chunks;
}

/** Cuts `bytes` into chunks of `size` bytes (the last one shorter). */
export function chunksOf(bytes: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks.length > 0 ? chunks : [bytes];
}

// ---------------------------------------------------------------------------------------------------
// Large deterministic catalogues (benchmark)

/**
 * Streams a catalogue of at least `targetBytes` to `path` (via a temporary file renamed at the end, so a
 * present file is always complete). Deterministic for a seed. Looks like the partner's files: `nsx:`
 * prefix without declaration, line-broken URLs, 1-4 images in any order, 1-3 prices, some entities.
 * Returns the number of items and bytes written.
 */
export async function writeLargeCatalogue(
  path: string,
  targetBytes: number,
  seed = 1,
): Promise<{ items: number; bytes: number }> {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const tmp = `${path}.${process.pid}.tmp`; // two benches generating at once must not share it
  const out = createWriteStream(tmp, { highWaterMark: 1 << 20 });
  const words = [
    'Jeans',
    'Bootleg',
    'Front',
    'Washed',
    'Slim',
    'Fit',
    'Boot',
    'Café',
    'Ärmel',
    'Größe',
    '中号',
    'T&amp;C',
  ];
  let bytes = 0;
  let items = 0;
  let batch: string[] = [];
  let batchBytes = 0;
  const flush = async () => {
    const s = batch.join('');
    batch = [];
    batchBytes = 0;
    if (!out.write(s)) await once(out, 'drain');
  };
  const push = (s: string) => {
    batch.push(s);
    const n = Buffer.byteLength(s);
    batchBytes += n;
    bytes += n;
  };
  push('<?xml version="1.0" encoding="UTF-8"?>\n<nsx:items>\n');
  while (bytes < targetBytes) {
    const id = 1_000_000 + items;
    const desc = Array.from({ length: 2 + Math.floor(rnd() * 6) }, () => pick(words)).join(' ');
    const types = [1, 2, 3, 4, 5, 6].filter(() => rnd() < 0.5);
    if (types.length === 0) types.push(1);
    if (rnd() < 0.5) types.reverse();
    let s = ` <nsx:item id="${id}">\n  <nsx:category>${pick(words)}</nsx:category>\n`;
    s += `  <nsx:description>${desc}</nsx:description>\n  <nsx:images>\n`;
    for (const t of types) {
      s += `    <nsx:image type="${t}" url="https://sample.com/img\n    /${id}_Image_${t}.jpg"/>\n`;
    }
    s += '  </nsx:images>\n  <nsx:prices>\n';
    const nPrices = 1 + Math.floor(rnd() * 3);
    for (let p = 0; p < nPrices; p++) {
      const value = `${Math.floor(rnd() * 100000)}.${String(Math.floor(rnd() * 100)).padStart(2, '0')}`;
      s += `    <nsx:price>\n      <nsx:currency>${pick(['EUR', 'DKK', 'NGN', 'USD'])}</nsx:currency>\n`;
      s += `      <nsx:value>${value}</nsx:value>\n    </nsx:price>\n`;
    }
    s += '  </nsx:prices>\n </nsx:item>\n';
    push(s);
    items++;
    if (batchBytes >= 1 << 20) await flush();
  }
  push('</nsx:items>\n');
  await flush();
  out.end();
  await once(out, 'finish');
  await rename(tmp, path);
  return { items, bytes };
}
