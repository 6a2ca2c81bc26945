/**
 * A plainly written, conformant converter: saxes (a conformant streaming XML parser) plus the mapping of
 * FORMAT.md. It is the oracle of the differential tests and the "saxes + mapping" baseline of the
 * benchmark; it favours being obviously right over being fast.
 *
 * Choices where FORMAT.md is silent (the converter under test must agree, see test/convert.differential):
 * - elements match by local name (after the last ':'), attributes by their exact name (`id`, `type`, `url`);
 * - `id` and `type` are trimmed of XML whitespace (after XML's attribute-value normalisation);
 * - `item` counts only as a child of the root; `category`/`description`/`images`/`prices` only as children
 *   of an item; `image` only in `images`; `price` only in `prices`; `currency`/`value` only in `price`;
 * - a text field is the concatenated text and CDATA directly in its element (not in child elements),
 *   trimmed of XML whitespace;
 * - a repeated `category`, `description`, `currency` or `value` rejects the item (never guess which one
 *   is meant); repeated `images`/`prices` elements add up;
 * - an image whose `url` is empty once whitespace is removed counts as having no url;
 * - the `prices` warning is given when the item has no price at all (no or an empty `prices` element);
 * - an item with several defects is rejected for its missing id first, otherwise for one of the others.
 */
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { type SaxesOptions, SaxesParser, type SaxesTagPlain } from 'saxes';
import { emptyReport } from '../../src/convert/report.js';
import type { ConversionReport, ConvertOptions } from '../../src/convert/types.js';

export interface ReferenceResult {
  json: string | null;
  report: ConversionReport;
}

const XML_WS = /[ \t\n\r]+/g;
const TRIM = /^[ \t\n\r]+|[ \t\n\r]+$/g;
const WHOLE_NUMBER = /^[0-9]+$/;
const CURRENCY = /^[A-Z]{3}$/;
const DECIMAL = /^[0-9]+(\.[0-9]+)?$/;

interface ItemState {
  line: number;
  id: string | null;
  category: string | null;
  description: string | null;
  categories: number;
  descriptions: number;
  images: { type: string | null; url: string | null }[] | null;
  prices: { currency: string | null; value: string | null; currencies: number; values: number }[] | null;
}

type TextField = 'category' | 'description' | 'currency' | 'value';

interface Rejection {
  field: string;
  reason: string;
}

function localName(name: string): string {
  return name.slice(name.lastIndexOf(':') + 1);
}

function validate(item: ItemState, maxImageType: number): Rejection | null {
  if (item.id === null || item.id.replace(TRIM, '') === '') return { field: 'id', reason: 'item has no id' };
  if (item.categories > 1) return { field: 'category', reason: 'more than one category' };
  if (item.descriptions > 1) return { field: 'description', reason: 'more than one description' };
  const seen = new Set<number>();
  for (const img of item.images ?? []) {
    const t = img.type === null ? null : img.type.replace(TRIM, '');
    if (t === null || !WHOLE_NUMBER.test(t) || Number(t) < 1 || Number(t) > maxImageType) {
      return {
        field: 'images.type',
        reason: `image type ${JSON.stringify(t)} is not a whole number from 1 to ${maxImageType}`,
      };
    }
    if (seen.has(Number(t))) return { field: 'images.type', reason: `two images of type ${Number(t)}` };
    seen.add(Number(t));
    if (img.url === null || img.url.replace(XML_WS, '') === '')
      return { field: 'images.url', reason: `image of type ${Number(t)} has no url` };
  }
  for (const price of item.prices ?? []) {
    if (price.currencies > 1) return { field: 'prices.currency', reason: 'more than one currency' };
    if (price.values > 1) return { field: 'prices.value', reason: 'more than one value' };
    if (price.currency === null || !CURRENCY.test(price.currency)) {
      return {
        field: 'prices.currency',
        reason: `currency ${JSON.stringify(price.currency)} is not three letters`,
      };
    }
    if (price.value === null || !DECIMAL.test(price.value)) {
      return {
        field: 'prices.value',
        reason: `value ${JSON.stringify(price.value)} is not a plain decimal number`,
      };
    }
  }
  return null;
}

function productJson(item: ItemState): string {
  const images: Record<string, string | null> = {};
  const byType = new Map(
    (item.images ?? []).map((img) => [Number(img.type), (img.url ?? '').replace(XML_WS, '')]),
  );
  const highest = Math.max(0, ...byType.keys());
  for (let t = 1; t <= highest; t++) images[`image_${t}`] = byType.get(t) ?? null;
  return JSON.stringify({
    product_id: (item.id ?? '').replace(TRIM, ''),
    product_category: item.category ?? '',
    product_description: item.description ?? '',
    product_images: images,
    prices: (item.prices ?? []).map((p) => ({ currency: p.currency ?? '', value: p.value ?? '' })),
  });
}

/**
 * Push bytes in with `write` (it returns false once the file has failed), then call `end` for the report.
 * Product JSON is handed to `sink` piece by piece (`[`, products separated by `,`, `]`); when the report
 * has an error the caller must discard what the sink received.
 */
export class ReferenceConverter {
  private readonly parser: SaxesParser<{ xmlns: false; position: true }>;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  private readonly maxImageType: number;
  private readonly maxBytes: number;
  private readonly strict: boolean;
  private readonly maxReportEntries: number;
  private readonly report: ConversionReport;
  private readonly stack: string[] = [];
  private tagLine = 1;
  private item: ItemState | null = null;
  private capture: { field: TextField; depth: number; text: string } | null = null;
  private wroteAny = false;

  constructor(
    options: ConvertOptions,
    private readonly sink: (json: string) => void,
  ) {
    this.maxImageType = options.maxImageType ?? 100;
    this.maxBytes = options.maxBytes ?? 2 * 1024 ** 3;
    this.strict = options.strict ?? false;
    this.maxReportEntries = options.maxReportEntries ?? 10_000;
    this.report = emptyReport(options.source ?? null);
    const saxesOptions: SaxesOptions & { xmlns: false; position: true } = { xmlns: false, position: true };
    this.parser = new SaxesParser(saxesOptions);
    const p = this.parser;
    p.on('error', (err) => this.fail(err.message.replace(/^\d+:\d+: /, ''), p.line));
    // The input is read as UTF-8 (FORMAT.md); a file that says otherwise would be misread, so it fails.
    p.on('xmldecl', (decl) => {
      if (decl.encoding !== undefined && !/^(utf-?8|us-ascii|ascii)$/i.test(decl.encoding)) {
        this.fail(`unsupported encoding "${decl.encoding}": only UTF-8 is accepted`, p.line);
      }
    });
    p.on('doctype', () =>
      this.fail('a DOCTYPE is not allowed (no entities, no external references)', p.line),
    );
    // saxes reports a start tag once the character after its name is read: when that was a newline,
    // the `<` is on the line before.
    p.on('opentagstart', () => {
      this.tagLine = p.column === 0 ? p.line - 1 : p.line;
    });
    p.on('opentag', (tag) => this.open(tag));
    p.on('closetag', () => this.close());
    p.on('text', (text) => this.text(text));
    p.on('cdata', (text) => this.text(text));
  }

  get failed(): boolean {
    return this.report.error !== null;
  }

  write(bytes: Uint8Array): boolean {
    if (this.failed) return false;
    this.report.bytes += bytes.length;
    if (this.report.bytes > this.maxBytes) {
      this.fail(`input exceeds the size limit of ${this.maxBytes} bytes`, null);
      return false;
    }
    let text: string;
    try {
      text = this.decoder.decode(bytes, { stream: true });
    } catch {
      this.fail('input is not valid UTF-8', this.parser.line);
      return false;
    }
    this.parser.write(text);
    return !this.failed;
  }

  fail(message: string, line: number | null): void {
    if (this.report.error === null) this.report.error = { message, line };
  }

  end(): ConversionReport {
    if (!this.failed) {
      try {
        this.parser.write(this.decoder.decode());
      } catch {
        this.fail('input is not valid UTF-8 (truncated character at the end)', this.parser.line);
      }
    }
    if (!this.failed) this.parser.close();
    if (!this.failed) this.sink(this.wroteAny ? ']' : '[]');
    return this.report;
  }

  private open(tag: SaxesTagPlain): void {
    if (this.failed) return;
    const local = localName(tag.name);
    this.stack.push(local);
    const depth = this.stack.length;
    if (depth === 1 && local !== 'items') {
      this.fail(`the root element is <${tag.name}>, not <items>`, this.tagLine);
      return;
    }
    if (depth === 2 && local === 'item') {
      this.report.itemsSeen++;
      const id = tag.attributes.id;
      this.item = {
        line: this.tagLine,
        id: id ?? null,
        category: null,
        description: null,
        categories: 0,
        descriptions: 0,
        images: null,
        prices: null,
      };
      return;
    }
    const item = this.item;
    if (item === null || this.capture !== null) return;
    const s = this.stack;
    if (depth === 3 && (local === 'category' || local === 'description')) {
      if (local === 'category') item.categories++;
      else item.descriptions++;
      this.capture = { field: local, depth, text: '' };
    } else if (depth === 3 && local === 'images') {
      item.images ??= [];
    } else if (depth === 3 && local === 'prices') {
      item.prices ??= [];
    } else if (depth === 4 && s[2] === 'images' && local === 'image') {
      item.images!.push({ type: tag.attributes.type ?? null, url: tag.attributes.url ?? null });
    } else if (depth === 4 && s[2] === 'prices' && local === 'price') {
      item.prices!.push({ currency: null, value: null, currencies: 0, values: 0 });
    } else if (
      depth === 5 &&
      s[2] === 'prices' &&
      s[3] === 'price' &&
      (local === 'currency' || local === 'value')
    ) {
      const price = item.prices![item.prices!.length - 1]!;
      if (local === 'currency') price.currencies++;
      else price.values++;
      this.capture = { field: local, depth, text: '' };
    }
  }

  private text(text: string): void {
    // Only the element's own text: text inside a child element (unknown there, so ignored) is not part of it.
    if (this.capture !== null && this.capture.depth === this.stack.length && !this.failed)
      this.capture.text += text;
  }

  private close(): void {
    if (this.failed) return;
    const depth = this.stack.length;
    this.stack.pop();
    const capture = this.capture;
    if (capture !== null && capture.depth === depth) {
      this.capture = null;
      const value = capture.text.replace(TRIM, '');
      const item = this.item!;
      if (capture.field === 'category') item.category = value;
      else if (capture.field === 'description') item.description = value;
      else item.prices![item.prices!.length - 1]![capture.field] = value;
    }
    if (depth === 2 && this.item !== null) {
      this.finishItem(this.item);
      this.item = null;
    }
  }

  private finishItem(item: ItemState): void {
    const id = item.id === null || item.id.replace(TRIM, '') === '' ? null : item.id.replace(TRIM, '');
    const rejection = validate(item, this.maxImageType);
    if (rejection !== null) {
      this.report.itemsRejected++;
      if (this.report.rejections.length < this.maxReportEntries) {
        this.report.rejections.push({ line: item.line, id, ...rejection });
      }
      if (this.strict) this.fail(`item rejected in strict mode: ${rejection.reason}`, item.line);
      return;
    }
    const warn = (field: string) => {
      this.report.warningsTotal++;
      if (this.report.warnings.length < this.maxReportEntries) {
        this.report.warnings.push({ line: item.line, id, field, reason: `no ${field}` });
      }
    };
    if (item.category === null) warn('category');
    if (item.description === null) warn('description');
    if ((item.prices ?? []).length === 0) warn('prices');
    this.sink((this.wroteAny ? ',' : '[') + productJson(item));
    this.wroteAny = true;
    this.report.itemsWritten++;
  }
}

async function* decompressed(
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  gzip: boolean | 'auto',
): AsyncGenerator<Uint8Array> {
  const head: Uint8Array[] = [];
  let headBytes = 0;
  const it = (chunks as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]
    ? (chunks as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
    : (chunks as Iterable<Uint8Array>)[Symbol.iterator]();
  // Peek at least two bytes to sniff the gzip magic number.
  while (headBytes < 2) {
    const r = await it.next();
    if (r.done) break;
    head.push(r.value);
    headBytes += r.value.length;
  }
  const all = Buffer.concat(head);
  const isGzip = gzip === true || (gzip === 'auto' && all[0] === 0x1f && all[1] === 0x8b);
  async function* rest(): AsyncGenerator<Uint8Array> {
    if (all.length > 0) yield all;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  if (!isGzip) {
    yield* rest();
    return;
  }
  const gunzip = Readable.from(rest()).pipe(createGunzip());
  try {
    yield* gunzip;
  } finally {
    gunzip.destroy();
  }
}

/** The reference's equivalent of `convertChunks`. */
export async function referenceConvertChunks(
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  options: ConvertOptions = {},
): Promise<ReferenceResult> {
  const parts: string[] = [];
  const converter = new ReferenceConverter(options, (s) => parts.push(s));
  try {
    for await (const bytes of decompressed(chunks, options.gzip ?? 'auto')) {
      if (!converter.write(bytes)) break;
    }
  } catch (err) {
    converter.fail(`cannot decompress: ${err instanceof Error ? err.message : String(err)}`, null);
  }
  const report = converter.end();
  return { json: report.error === null ? parts.join('') : null, report };
}
