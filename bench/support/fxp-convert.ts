/**
 * The "whole document" baseline: fast-xml-parser builds the entire catalogue as one object tree, then the
 * FORMAT.md mapping walks it. It needs the whole file as one string (V8 caps strings at ~512 MiB), which is
 * the point of comparing it with streaming converters. Only the benchmark uses it; its validation is the
 * same rules in short form, enough for the generated benchmark catalogues (which are all valid).
 */
import { XMLParser } from 'fast-xml-parser';

type Node = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: true,
  htmlEntities: false,
  isArray: (name) => name === 'item' || name === 'image' || name === 'price',
});

function text(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'object') return String((v as Node)['#text'] ?? '').trim();
  return String(v).trim();
}

function asNode(v: unknown): Node {
  return typeof v === 'object' && v !== null ? (v as Node) : {};
}

/** Converts one whole document; returns the product JSON and the counts. */
export function convertWholeDocument(
  xml: string,
  maxImageType = 100,
): { json: string; written: number; rejected: number } {
  const doc = asNode(parser.parse(xml));
  const items = (asNode(doc.items).item ?? []) as unknown[];
  const products: string[] = [];
  let rejected = 0;
  for (const raw of items) {
    const item = asNode(raw);
    const id = text(item['@_id']);
    const images: Record<string, string | null> = {};
    const byType = new Map<number, string>();
    let ok = id !== null && id !== '';
    for (const img of (asNode(item.images).image ?? []) as Node[]) {
      const type = Number(img['@_type']);
      const url = img['@_url'];
      if (
        !Number.isInteger(type) ||
        type < 1 ||
        type > maxImageType ||
        byType.has(type) ||
        typeof url !== 'string'
      )
        ok = false;
      else byType.set(type, url.replace(/[ \t\n\r]+/g, ''));
    }
    const prices: { currency: string; value: string }[] = [];
    for (const price of (asNode(item.prices).price ?? []) as Node[]) {
      const currency = text(price.currency);
      const value = text(price.value);
      if (
        currency === null ||
        !/^[A-Z]{3}$/.test(currency) ||
        value === null ||
        !/^[0-9]+(\.[0-9]+)?$/.test(value)
      ) {
        ok = false;
      } else prices.push({ currency, value });
    }
    if (!ok) {
      rejected++;
      continue;
    }
    const highest = Math.max(0, ...byType.keys());
    for (let t = 1; t <= highest; t++) images[`image_${t}`] = byType.get(t) ?? null;
    products.push(
      JSON.stringify({
        product_id: id,
        product_category: text(item.category) ?? '',
        product_description: text(item.description) ?? '',
        product_images: images,
        prices,
      }),
    );
  }
  return { json: `[${products.join(',')}]`, written: products.length, rejected };
}
