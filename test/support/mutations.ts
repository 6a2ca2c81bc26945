/**
 * Mutations of catalogue bytes, and what a converter's result must agree on with the reference's: shared
 * by the differential tests (test/convert.differential.test.ts) and the fuzzing campaign (fuzz/).
 */
import fc from 'fast-check';
import type { ConversionReport } from '../../src/convert/types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// biome-ignore format: a table of tokens
export const TOKENS = [
  '<', '>', '&', ';', '"', "'", '=', '/', '!', '?', ']]>', '-->', '--', '<!--', '<![CDATA[', '?>', '<?',
  '<?x ', '&amp;', '&#x1F600;', '&#0;', '&#xD800;', '&lt', '&bogus;', '<!DOCTYPE items>', '</nsx:item>',
  '<nsx:item id="9">', '<x>', '</x>', '<x/>', ' ', '\n', '\r', '\t', '\u0000', 'é', '😀', '中', '\uFFFE',
];

export type Mutation =
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'duplicate'; at: number; length: number }
  | { kind: 'insert-byte'; at: number; byte: number }
  | { kind: 'replace-byte'; at: number; byte: number }
  | { kind: 'insert-token'; at: number; token: string }
  | { kind: 'truncate'; at: number };

/** A position as a fraction of the input's length, so one mutation applies to inputs of any size. */
export const at = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at, length: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at, length: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ kind: fc.constant('insert-byte' as const), at, byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('replace-byte' as const), at, byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert-token' as const), at, token: fc.constantFrom(...TOKENS) }),
  fc.record({ kind: fc.constant('truncate' as const), at }),
);

export function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const i = Math.floor(m.at * bytes.length);
  const join = (...parts: Uint8Array[]) => Buffer.concat(parts);
  switch (m.kind) {
    case 'delete':
      return join(bytes.subarray(0, i), bytes.subarray(i + m.length));
    case 'duplicate':
      return join(bytes.subarray(0, i + m.length), bytes.subarray(i));
    case 'insert-byte':
      return join(bytes.subarray(0, i), Uint8Array.of(m.byte), bytes.subarray(i));
    case 'replace-byte':
      return join(bytes.subarray(0, i), Uint8Array.of(m.byte), bytes.subarray(i + 1));
    case 'insert-token':
      return join(bytes.subarray(0, i), encoder.encode(m.token), bytes.subarray(i));
    case 'truncate':
      return bytes.subarray(0, i);
  }
}

/** What the converter and the reference must agree on: the verdict, and for a converted file the output and the report's counts. */
export function comparable(r: { json: string | null; report: ConversionReport }): unknown {
  if (r.report.error !== null) return { ok: false };
  return {
    ok: r.report.error === null,
    json: r.json,
    itemsSeen: r.report.itemsSeen,
    itemsWritten: r.report.itemsWritten,
    itemsRejected: r.report.itemsRejected,
    rejections: r.report.rejections.map((x) => [x.line, x.id]),
    warningsTotal: r.report.warningsTotal,
    bytes: r.report.bytes,
  };
}

/** The input for a failure message, cut to a readable length. */
export function describeInput(bytes: Uint8Array): string {
  const text = decoder.decode(bytes);
  return JSON.stringify(text.length > 600 ? `${text.slice(0, 600)}…` : text);
}
