/**
 * Byte-level tables and helpers shared by the tokenizer and the item writer. Everything works on
 * Uint8Array ranges so that values never become JS strings on the hot path.
 */

/** Classes of a byte inside text or an attribute value (see TEXT_CLASS). */
export const K_PLAIN = 0; // copied as is, not whitespace
export const K_SPACE = 1;
export const K_TAB = 2;
export const K_CR = 3;
export const K_LF = 4;
export const K_ESC = 5; // '"' and '\': need a backslash in JSON
export const K_AMP = 6;
export const K_GT = 7;
export const K_LT = 8;
export const K_BAD = 9; // control characters XML does not allow
export const K_DQ = 10; // '"' in an attribute value (ATTR_CLASS only)
export const K_SQ = 11; // "'" in an attribute value (ATTR_CLASS only)

export const TEXT_CLASS: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let b = 0; b < 0x20; b++) t[b] = K_BAD;
  t[0x20] = K_SPACE;
  t[0x09] = K_TAB;
  t[0x0d] = K_CR;
  t[0x0a] = K_LF;
  t[0x22] = K_ESC;
  t[0x5c] = K_ESC;
  t[0x26] = K_AMP;
  t[0x3e] = K_GT;
  t[0x3c] = K_LT;
  return t;
})();

/** TEXT_CLASS with the two quote characters marked, for attribute values. */
export const ATTR_CLASS: Uint8Array = (() => {
  const t = TEXT_CLASS.slice();
  t[0x22] = K_DQ;
  t[0x27] = K_SQ;
  return t;
})();

/**
 * Name characters: 1 = may start a name, 2 = may only continue one, 0 = not a name character. Bytes
 * >= 0x80 pass here; a name that contains any is checked code point by code point afterwards
 * (isXmlName), so ASCII names, nearly all of them, cost nothing extra.
 */
export const NAME_CLASS: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let b = 0x41; b <= 0x5a; b++) t[b] = 1;
  for (let b = 0x61; b <= 0x7a; b++) t[b] = 1;
  for (let b = 0x80; b <= 0xff; b++) t[b] = 1;
  t[0x5f] = 1; // _
  t[0x3a] = 1; // :
  for (let b = 0x30; b <= 0x39; b++) t[b] = 2;
  t[0x2d] = 2; // -
  t[0x2e] = 2; // .
  return t;
})();

export function ascii(s: string): Uint8Array {
  return Buffer.from(s, 'latin1');
}

/** A DataView on exactly `bytes`, for reading and writing four bytes at a time. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Copies src[s..e) to out at o; returns the new end. Four bytes at a time through DataViews (TurboFan
 * turns those into plain unaligned loads and stores): values are short, so this beats both a byte loop
 * and a native copy's call overhead. The caller has made room in `out`.
 */
export function copyBytes(
  ov: DataView,
  out: Uint8Array,
  o: number,
  sv: DataView,
  src: Uint8Array,
  s: number,
  e: number,
): number {
  let k = s;
  for (; k + 4 <= e; k += 4, o += 4) ov.setUint32(o, sv.getUint32(k));
  for (; k < e; k++) out[o++] = src[k]!;
  return o;
}

/** Whether bytes[start..end) equal `word`. */
export function bytesEqual(bytes: Uint8Array, start: number, end: number, word: Uint8Array): boolean {
  if (end - start !== word.length) return false;
  for (let k = 0; k < word.length; k++) if (bytes[start + k] !== word[k]) return false;
  return true;
}

/**
 * Whether the element name bytes[start..end) has the local name `word` (the part after its last ':'):
 * it ends with `word`, right after the start or after a ':'. (`word` holds no ':'.)
 */
export function localNameIs(bytes: Uint8Array, start: number, end: number, word: Uint8Array): boolean {
  const s = end - word.length;
  if (s < start || (s > start && bytes[s - 1] !== 0x3a)) return false;
  for (let k = 0; k < word.length; k++) if (bytes[s + k] !== word[k]) return false;
  return true;
}

/** A copy of `buf` with at least `need` bytes of room, keeping the first `used` bytes. */
export function grow(buf: Uint8Array, used: number, need: number): Uint8Array {
  // Buffers everywhere (never plain Uint8Arrays) keep V8's element accesses monomorphic.
  const next = Buffer.alloc(Math.max(buf.length * 2, need));
  next.set(buf.subarray(0, used));
  return next;
}

function isNameStartChar(cp: number): boolean {
  return (
    (cp >= 0x61 && cp <= 0x7a) ||
    (cp >= 0x41 && cp <= 0x5a) ||
    cp === 0x3a ||
    cp === 0x5f ||
    (cp >= 0xc0 && cp <= 0xd6) ||
    (cp >= 0xd8 && cp <= 0xf6) ||
    (cp >= 0xf8 && cp <= 0x2ff) ||
    (cp >= 0x370 && cp <= 0x37d) ||
    (cp >= 0x37f && cp <= 0x1fff) ||
    (cp >= 0x200c && cp <= 0x200d) ||
    (cp >= 0x2070 && cp <= 0x218f) ||
    (cp >= 0x2c00 && cp <= 0x2fef) ||
    (cp >= 0x3001 && cp <= 0xd7ff) ||
    (cp >= 0xf900 && cp <= 0xfdcf) ||
    (cp >= 0xfdf0 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0xeffff)
  );
}

function isNameChar(cp: number): boolean {
  return (
    isNameStartChar(cp) ||
    (cp >= 0x30 && cp <= 0x39) ||
    cp === 0x2d ||
    cp === 0x2e ||
    cp === 0xb7 ||
    (cp >= 0x300 && cp <= 0x36f) ||
    (cp >= 0x203f && cp <= 0x2040)
  );
}

/** XML 1.0 (5th ed.) Name production over valid UTF-8 bytes[start..end). */
export function isXmlName(bytes: Uint8Array, start: number, end: number): boolean {
  let k = start;
  let first = true;
  while (k < end) {
    const b = bytes[k]!;
    let cp = b;
    let len = 1;
    if (b >= 0xf0) {
      cp = b & 0x07;
      len = 4;
    } else if (b >= 0xe0) {
      cp = b & 0x0f;
      len = 3;
    } else if (b >= 0xc0) {
      cp = b & 0x1f;
      len = 2;
    }
    for (let j = 1; j < len; j++) cp = (cp << 6) | (bytes[k + j]! & 0x3f);
    if (first ? !isNameStartChar(cp) : !isNameChar(cp)) return false;
    first = false;
    k += len;
  }
  return !first;
}
