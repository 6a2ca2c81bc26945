/**
 * UTF-8 validation of a byte stream that arrives in arbitrary chunks. The bulk of each chunk is checked
 * by Node's native `isUtf8` (simdutf, many GB/s), so the tokenizer never has to decode text; only a
 * code point split across a chunk boundary (at most 3 carried bytes) is stitched together here.
 * Also rejects U+FFFE and U+FFFF, which are valid UTF-8 but not XML characters.
 */
import { isUtf8 } from 'node:buffer';

const NONCHAR_FFFE = Buffer.from([0xef, 0xbf, 0xbe]);
const NONCHAR_FFFF = Buffer.from([0xef, 0xbf, 0xbf]);

/** Length of the sequence a lead byte announces; 1 for bytes that cannot lead (left to isUtf8 to reject). */
function sequenceLength(lead: number): number {
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  return 1;
}

/** Offset of the first byte of an invalid sequence (or a U+FFFE/U+FFFF) in `buf`, or -1. Slow path. */
function firstInvalidOffset(buf: Uint8Array): number {
  let i = 0;
  const n = buf.length;
  while (i < n) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    const len = sequenceLength(b);
    if (len === 1 || i + len > n) return i;
    let cp = len === 2 ? b & 0x1f : len === 3 ? b & 0x0f : b & 0x07;
    for (let k = 1; k < len; k++) {
      const c = buf[i + k]!;
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    const min = len === 2 ? 0x80 : len === 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp === 0xfffe || cp === 0xffff) {
      return i;
    }
    i += len;
  }
  return -1;
}

function validWhole(buf: Uint8Array): boolean {
  if (!isUtf8(buf)) return false;
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return b.indexOf(NONCHAR_FFFE) < 0 && b.indexOf(NONCHAR_FFFF) < 0;
}

export class Utf8Validator {
  private readonly carry = new Uint8Array(4);
  private carryLen = 0;

  /**
   * Checks the next chunk. Returns -1 when every complete code point so far is valid, otherwise the
   * offset in `chunk` at (or just after) which the input is known to be invalid (0 for a bad sequence
   * that began in an earlier chunk).
   */
  check(chunk: Uint8Array): number {
    let start = 0;
    if (this.carryLen > 0) {
      const need = sequenceLength(this.carry[0]!);
      while (this.carryLen < need && start < chunk.length) {
        const c = chunk[start]!;
        if ((c & 0xc0) !== 0x80) return 0;
        this.carry[this.carryLen++] = c;
        start++;
      }
      if (this.carryLen < need) return -1;
      if (!validWhole(this.carry.subarray(0, this.carryLen))) return 0;
      this.carryLen = 0;
    }
    // Hold back a trailing incomplete sequence: find the last lead byte within the final 3 bytes.
    let end = chunk.length;
    let k = end - 1;
    while (k >= start && k > end - 4 && (chunk[k]! & 0xc0) === 0x80) k--;
    if (k >= start && chunk[k]! >= 0xc0 && sequenceLength(chunk[k]!) > end - k) {
      this.carry.set(chunk.subarray(k, end));
      this.carryLen = end - k;
      end = k;
    }
    const body = chunk.subarray(start, end);
    if (validWhole(body)) return -1;
    const bad = firstInvalidOffset(body);
    return start + Math.max(bad, 0);
  }

  /** True when the input ended in the middle of a multi-byte sequence. */
  get incomplete(): boolean {
    return this.carryLen > 0;
  }
}
