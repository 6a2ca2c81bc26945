/**
 * The meaning of a catalogue (FORMAT.md) on top of the tokenizer: collects one item's fields as
 * JSON-escaped bytes in a scratch buffer, validates them when the item ends, and writes the item's
 * JSON object to the output buffer, or a rejection to the report. The tokenizer (./parser.ts) extends
 * this class and appends captured values to `scratch` directly.
 */
import { ConversionError } from '../errors.js';
import { ascii, copyBytes, grow, viewOf } from './bytes.js';
import type { ReportBuilder } from './report.js';

/** Longest id (in bytes) quoted in a report entry. */
const REPORT_ID_MAX = 256;
/** Longest value (in bytes) quoted in a rejection reason. */
const REPORT_VALUE_MAX = 64;
/** Output is handed on in pieces of about this size (few, big pushes; memory stays small). */
const OUT_FLUSH = 256 * 1024;
/** An output buffer: a flush's worth and room for the item that crosses it. */
const OUT_BYTES = OUT_FLUSH + 64 * 1024;
/** Output buffers handed back (`recycleOut`) kept for the next flushes; more are left to the GC. */
const MAX_SPARE_OUT = 4;

/** A piece of constant output with a DataView on it, for word-at-a-time copies (see `put`). */
interface Bytes {
  bytes: Uint8Array;
  view: DataView;
}

const piece = (s: string): Bytes => {
  const bytes = ascii(s);
  return { bytes, view: viewOf(bytes) };
};

const P_ID = piece('{"product_id":"');
const P_CAT = piece('","product_category":"');
const P_DESC = piece('","product_description":"');
const P_IMAGES = piece('","product_images":{');
const P_PRICES = piece('},"prices":[');
const P_END = piece(']}');
// Prices: the punctuation between two values is one piece each (fewer, longer copies).
const P_FIRST_CUR = piece('{"currency":"');
const P_VAL = piece('","value":"');
const P_NEXT_CUR = piece('"},{"currency":"');
const P_PRICES_END = piece('"}]}');

export interface ItemRules {
  strict: boolean;
  maxImageType: number;
  /** Longest item in bytes of XML (`<item` to `</item>`); see ./parser.ts for how it is enforced. */
  maxItemBytes: number;
  /**
   * Output is handed on once this many bytes are written (default 256 KiB). The primer (./prime.ts) sets
   * a tiny one, so the hand-on path has type feedback before the first real flush: otherwise that flush
   * throws writeItem's optimised code away and V8 compiles it again.
   */
  flushBytes?: number;
}

/** A scratch buffer grown past this by one big item is given back when the next item starts. */
const SCRATCH_KEEP = 4 * 1024 * 1024;

export class ItemWriter {
  // --- scratch: the current item's values, JSON-escaped, without quotes ---
  protected scratch: Uint8Array = Buffer.alloc(64 * 1024);
  protected scratchView = viewOf(this.scratch);
  protected sLen = 0;
  /** Where the value being captured starts, and where its last non-whitespace byte ends (for trimming). */
  protected capStart = 0;
  protected capEnd = 0;

  // --- the current item ---
  protected itemLine = 0;
  /** The item went over maxItemBytes: its rest is only checked, nothing more of it is captured. */
  protected itemTooLarge = false;
  private rejectField: string | null = null;
  private rejectReason = '';
  protected idS = -1;
  protected idE = -1;
  private idText: string | null | undefined = undefined;
  protected catCount = 0;
  private catS = 0;
  private catE = 0;
  protected descCount = 0;
  private descS = 0;
  private descE = 0;
  // images, by type: the URL's range in scratch (-1 = no image of that type)
  private readonly imgUrlS: Int32Array;
  private readonly imgUrlE: Int32Array;
  private readonly imgTypes: number[] = [];
  private imgCount = 0;
  private imgMax = 0;
  // the image tag being read
  protected typeS = -1;
  protected typeE = -1;
  protected urlS = -1;
  protected urlE = -1;
  // prices: ranges of currency and value in scratch
  private priceCount = 0;
  private readonly priceRanges: number[] = [];
  // the price being read
  protected curCount = 0;
  private curS = 0;
  private curE = 0;
  protected valCount = 0;
  private valS = 0;
  private valE = 0;

  // --- output ---
  private out: Buffer = Buffer.allocUnsafe(OUT_BYTES);
  /** Output buffers the consumer is done with (`recycleOut`), written into before fresh ones. */
  private readonly spareOut: Buffer[] = [];
  private outView = viewOf(this.out);
  private outLen = 0;
  /** Per image type: the slot's key with what follows it, `"image_N":"` (a URL) and `"image_N":null`. */
  private readonly imageKeys: Bytes[] = [];
  private readonly imageNulls: Bytes[] = [];

  protected line = 1;
  private readonly flushAt: number;

  constructor(
    protected readonly rules: ItemRules,
    protected readonly report: ReportBuilder,
    private readonly emit: (chunk: Buffer) => void,
  ) {
    this.flushAt = Math.min(rules.flushBytes ?? OUT_FLUSH, OUT_FLUSH);
    this.imgUrlS = new Int32Array(rules.maxImageType + 1).fill(-1);
    this.imgUrlE = new Int32Array(rules.maxImageType + 1);
  }

  protected fail(message: string, line: number = this.line): never {
    throw new ConversionError(message, line);
  }

  protected ensureScratch(extra: number): void {
    if (this.sLen + extra > this.scratch.length) {
      this.scratch = grow(this.scratch, this.sLen, this.sLen + extra);
      this.scratchView = viewOf(this.scratch);
    }
  }

  /** The JS string for a captured, JSON-escaped range (only for reports, never on the hot path). */
  protected scratchString(s: number, e: number): string {
    return JSON.parse(
      `"${Buffer.from(this.scratch.buffer, this.scratch.byteOffset + s, e - s).toString('utf8')}"`,
    );
  }

  /**
   * Like scratchString, cut to at most `max` bytes (ending with "…" when cut): report entries quote
   * values for people, and a hostile multi-megabyte value must not be copied into them. The cut never
   * splits a UTF-8 character or a backslash escape.
   */
  protected scratchPreview(s: number, e: number, max: number): string {
    if (e - s <= max) return this.scratchString(s, e);
    const b = this.scratch;
    let end = s + max;
    while (end > s && (b[end]! & 0xc0) === 0x80) end--;
    let slashes = 0;
    while (end - slashes - 1 >= s && b[end - slashes - 1] === 0x5c) slashes++;
    if (slashes % 2 === 1) end--;
    return `${this.scratchString(s, end)}…`;
  }

  /** Marks the item rejected (the first reason wins). Returns false, for `return this.reject(...)`. */
  private reject(field: string, reason: string): false {
    if (this.rejectField === null) {
      this.rejectField = field;
      this.rejectReason = reason;
    }
    return false;
  }

  // ---------------------------------------------------------------- item lifecycle (called by the tokenizer)

  protected startItem(line: number): void {
    this.report.report.itemsSeen++;
    this.itemLine = line;
    this.itemTooLarge = false;
    this.sLen = 0;
    if (this.scratch.length > SCRATCH_KEEP) {
      this.scratch = Buffer.alloc(64 * 1024);
      this.scratchView = viewOf(this.scratch);
    }
    this.rejectField = null;
    this.idS = -1;
    this.idE = -1;
    this.idText = undefined;
    this.catCount = 0;
    this.descCount = 0;
    for (let k = 0; k < this.imgCount; k++) this.imgUrlS[this.imgTypes[k]!] = -1;
    this.imgCount = 0;
    this.imgMax = 0;
    this.priceCount = 0;
  }

  protected startCategory(): void {
    if (++this.catCount === 2) this.reject('category', 'item has more than one category element');
  }

  protected endCategory(): void {
    if (this.catCount === 1) {
      this.catS = this.capStart;
      this.catE = this.capEnd;
    }
    this.sLen = this.capEnd;
  }

  protected startDescription(): void {
    if (++this.descCount === 2) this.reject('description', 'item has more than one description element');
  }

  protected endDescription(): void {
    if (this.descCount === 1) {
      this.descS = this.capStart;
      this.descE = this.capEnd;
    }
    this.sLen = this.capEnd;
  }

  protected startImage(): void {
    this.typeS = -1;
    this.urlS = -1;
  }

  /** At the end of an image's start tag: all its attributes are known. */
  protected endImageTag(): boolean {
    const max = this.rules.maxImageType;
    if (this.typeS < 0) return this.reject('images.type', 'image has no type attribute');
    let type = 0;
    // Leading zeros are harmless ("007" is 7); at most 10 significant digits keep the number exact.
    let first = this.typeS;
    while (first < this.typeE - 1 && this.scratch[first] === 0x30) first++;
    let ok = this.typeE > this.typeS && this.typeE - first <= 10;
    for (let k = first; ok && k < this.typeE; k++) {
      const d = this.scratch[k]! - 0x30;
      if (d < 0 || d > 9) ok = false;
      else type = type * 10 + d;
    }
    if (!ok || type < 1 || type > max) {
      const shown = this.scratchPreview(this.typeS, this.typeE, REPORT_VALUE_MAX);
      return this.reject('images.type', `image type "${shown}" is not a whole number from 1 to ${max}`);
    }
    if (this.urlS < 0 || this.urlE === this.urlS) {
      return this.reject('images.url', `image of type ${type} has no url`);
    }
    if (this.imgUrlS[type]! >= 0) return this.reject('images.type', `two images have type ${type}`);
    this.imgUrlS[type] = this.urlS;
    this.imgUrlE[type] = this.urlE;
    this.imgTypes[this.imgCount++] = type;
    if (type > this.imgMax) this.imgMax = type;
    return true;
  }

  protected startPrice(): void {
    this.curCount = 0;
    this.valCount = 0;
  }

  protected endCurrency(): void {
    if (this.curCount === 1) {
      this.curS = this.capStart;
      this.curE = this.capEnd;
    }
    this.sLen = this.capEnd;
  }

  protected endValue(): void {
    if (this.valCount === 1) {
      this.valS = this.capStart;
      this.valE = this.capEnd;
    }
    this.sLen = this.capEnd;
  }

  protected endPrice(): boolean {
    if (this.curCount === 0) return this.reject('prices.currency', 'price has no currency');
    if (this.valCount === 0) return this.reject('prices.value', 'price has no value');
    if (this.curCount > 1) return this.reject('prices.currency', 'price has more than one currency');
    if (this.valCount > 1) return this.reject('prices.value', 'price has more than one value');
    const s = this.scratch;
    const { curS, curE, valS, valE } = this;
    let ok = curE - curS === 3;
    for (let k = curS; ok && k < curE; k++) ok = s[k]! >= 0x41 && s[k]! <= 0x5a;
    if (!ok) {
      const shown = this.scratchPreview(curS, curE, REPORT_VALUE_MAX);
      return this.reject('prices.currency', `currency "${shown}" is not three capital letters (ISO 4217)`);
    }
    if (!isPlainDecimal(s, valS, valE)) {
      const shown = this.scratchPreview(valS, valE, REPORT_VALUE_MAX);
      return this.reject('prices.value', `price value "${shown}" is not a plain decimal number`);
    }
    const r = this.priceRanges;
    const base = this.priceCount++ * 4;
    r[base] = curS;
    r[base + 1] = curE;
    r[base + 2] = valS;
    r[base + 3] = valE;
    return true;
  }

  /**
   * The item's id as a string, made once per item and only when a report entry needs it. Ids longer
   * than REPORT_ID_MAX bytes are cut (with "…"): a report is for people, and a hostile 50 MB id must not
   * be copied into every entry.
   */
  private itemId(): string | null {
    if (this.idText === undefined) {
      this.idText = this.idE > this.idS ? this.scratchPreview(this.idS, this.idE, REPORT_ID_MAX) : null;
    }
    return this.idText;
  }

  private warn(field: string, reason: string): void {
    this.report.warn(() => ({ line: this.itemLine, id: this.itemId(), field, reason }));
  }

  protected endItem(): void {
    const report = this.report;
    if (this.itemTooLarge) {
      // Outranks every other reason: the rest of the item was not looked at, so no other verdict is whole.
      this.rejectField = 'item';
      this.rejectReason = `item is larger than the limit of ${this.rules.maxItemBytes} bytes`;
    } else if (this.idS < 0 || this.idE === this.idS) {
      // A missing id outranks the other reasons: without it the partner cannot find the item.
      this.rejectField = 'id';
      this.rejectReason = this.idS < 0 ? 'item has no id attribute' : 'item id is empty';
    }
    if (this.rejectField !== null) {
      const field = this.rejectField;
      const reason = this.rejectReason;
      report.reject(() => ({ line: this.itemLine, id: this.itemId(), field, reason }));
      if (this.rules.strict) {
        this.fail(`item rejected in strict mode: ${reason} (id ${this.itemId() ?? 'none'})`, this.itemLine);
      }
      return;
    }
    if (this.catCount === 0) this.warn('category', 'no category');
    if (this.descCount === 0) this.warn('description', 'no description');
    if (this.priceCount === 0) this.warn('prices', 'no prices');
    this.writeItem();
    report.report.itemsWritten++;
  }

  // ---------------------------------------------------------------- output

  protected openArray(): void {
    this.ensureOut(1);
    this.out[this.outLen++] = 0x5b;
  }

  protected closeArray(): void {
    this.ensureOut(1);
    this.out[this.outLen++] = 0x5d;
  }

  /** Hands on everything written so far. */
  protected flushOut(): void {
    if (this.outLen === 0) return;
    this.emit(this.out.subarray(0, this.outLen));
    this.out = this.spareOut.pop() ?? Buffer.allocUnsafe(OUT_BYTES);
    this.outView = viewOf(this.out);
    this.outLen = 0;
  }

  /**
   * Takes back the memory of an output chunk its consumer is done with, for a later flush: a fresh
   * buffer per flush is memory the kernel faults in and clears and the cache has never seen (a file
   * writer recycles each chunk once it is written). Anything smaller than an output buffer is ignored.
   */
  recycleOut(chunk: Uint8Array): void {
    const memory = chunk.buffer;
    if (!(memory instanceof ArrayBuffer) || memory.byteLength < OUT_BYTES) return;
    if (this.spareOut.length < MAX_SPARE_OUT) this.spareOut.push(Buffer.from(memory, 0, memory.byteLength));
  }

  private ensureOut(extra: number): void {
    if (this.outLen + extra > this.out.length) {
      const next = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.outLen + extra));
      this.out.copy(next, 0, 0, this.outLen);
      this.out = next;
      this.outView = viewOf(next);
    }
  }

  private imageKey(type: number, isNull: boolean): Bytes {
    let key = this.imageKeys[type];
    if (key === undefined) {
      const name = `${type > 1 ? ',' : ''}"image_${type}":`;
      key = piece(`${name}"`);
      this.imageKeys[type] = key;
      this.imageNulls[type] = piece(`${name}null`);
    }
    return isNull ? this.imageNulls[type]! : key;
  }

  private writeItem(): void {
    // Upper bound of the bytes this item needs: its values plus the fixed keys and punctuation.
    // (Each value is copied once; the fixed pieces are at most ~150 bytes, 24 per image slot, 40 per price.)
    this.ensureOut(this.sLen + 256 + this.imgMax * 24 + this.priceCount * 40);
    const out = this.out;
    const ov = this.outView;
    const s = this.scratch;
    const sv = this.scratchView;
    let o = this.outLen;
    if (this.report.report.itemsWritten > 0) out[o++] = 0x2c;
    o = putPiece(ov, out, o, P_ID);
    o = copyBytes(ov, out, o, sv, s, this.idS, this.idE);
    o = putPiece(ov, out, o, P_CAT);
    if (this.catCount > 0) o = copyBytes(ov, out, o, sv, s, this.catS, this.catE);
    o = putPiece(ov, out, o, P_DESC);
    if (this.descCount > 0) o = copyBytes(ov, out, o, sv, s, this.descS, this.descE);
    o = putPiece(ov, out, o, P_IMAGES);
    for (let t = 1; t <= this.imgMax; t++) {
      const us = this.imgUrlS[t]!;
      o = putPiece(ov, out, o, this.imageKey(t, us < 0));
      if (us >= 0) {
        o = copyBytes(ov, out, o, sv, s, us, this.imgUrlE[t]!);
        out[o++] = 0x22;
      }
    }
    o = putPiece(ov, out, o, P_PRICES);
    const r = this.priceRanges;
    for (let p = 0; p < this.priceCount; p++) {
      o = putPiece(ov, out, o, p === 0 ? P_FIRST_CUR : P_NEXT_CUR);
      o = copyBytes(ov, out, o, sv, s, r[p * 4]!, r[p * 4 + 1]!);
      o = putPiece(ov, out, o, P_VAL);
      o = copyBytes(ov, out, o, sv, s, r[p * 4 + 2]!, r[p * 4 + 3]!);
    }
    o = putPiece(ov, out, o, this.priceCount > 0 ? P_PRICES_END : P_END);
    this.outLen = o;
    if (o >= this.flushAt) this.flushOut();
  }
}

function putPiece(ov: DataView, out: Uint8Array, o: number, p: Bytes): number {
  return copyBytes(ov, out, o, p.view, p.bytes, 0, p.bytes.length);
}

/** /^\d+(\.\d+)?$/ over bytes. */
function isPlainDecimal(s: Uint8Array, start: number, end: number): boolean {
  let k = digitsEnd(s, start, end);
  if (k === start) return false;
  if (k === end) return true;
  if (s[k] !== 0x2e) return false;
  const fraction = k + 1;
  k = digitsEnd(s, fraction, end);
  return k > fraction && k === end;
}

/** Where the run of ASCII digits from `k` ends (`k` itself when there is none). */
function digitsEnd(s: Uint8Array, k: number, end: number): number {
  while (k < end && s[k]! >= 0x30 && s[k]! <= 0x39) k++;
  return k;
}
