/**
 * A byte-level, resumable XML tokenizer specialised for catalogues. It reads Uint8Array chunks of any
 * size, never re-scans a byte (every state survives a chunk boundary: tags, references, comment and
 * CDATA terminators), checks well-formedness as it goes, and copies the values the catalogue needs
 * straight into the item's scratch buffer as JSON-escaped bytes (see ./item.ts). Values never become JS
 * strings. UTF-8 is validated per chunk by ./utf8.ts, natively.
 *
 * Layers: ./item.ts (the catalogue's meaning and the JSON output) ← ./markup.ts (references, comments,
 * CDATA, processing instructions) ← this file (the chunk loop, text, tags and attributes).
 */
import {
  ATTR_CLASS,
  ascii,
  bytesEqual,
  copyBytes,
  grow,
  isXmlName,
  K_AMP,
  K_BAD,
  K_CR,
  K_DQ,
  K_ESC,
  K_GT,
  K_LF,
  K_LT,
  K_PLAIN,
  K_SPACE,
  K_TAB,
  localNameIs,
  NAME_CLASS,
  TEXT_CLASS,
  viewOf,
} from './bytes.js';
import { MarkupReader } from './markup.js';
import {
  CDATA_OPEN,
  M_ATTR,
  M_NONE,
  M_TEXT,
  M_URL,
  MAX_NAME,
  NOT_WF,
  S_ATTR_EQ,
  S_ATTR_NAME,
  S_ATTR_QUOTE,
  S_ATTR_VAL,
  S_BANG,
  S_BANG_DASH,
  S_CDATA,
  S_CDATA_B1,
  S_CDATA_B2,
  S_CDATA_OPEN,
  S_CLOSE,
  S_COMMENT,
  S_COMMENT_D1,
  S_COMMENT_D2,
  S_EMPTY_GT,
  S_END_NAME,
  S_END_WS,
  S_LT,
  S_REF,
  S_START_NAME,
  S_TAG,
  S_TEXT,
  SLICE,
  STATE_NAMES,
} from './states.js';
import { Utf8Validator } from './utf8.js';

/** Deeper nesting fails the file cleanly instead of growing stacks without bound. */
export const MAX_DEPTH = 10_000;

/** The largest piece of input the tokenizer runs at once (see runInPieces). */
const RUN_PIECE_BYTES = 1024 * 1024;
// What an element means, by where it is (its context).
const X_NONE = 0; // document level, outside the root
const X_ROOT = 1;
const X_ITEM = 2;
const X_CATEGORY = 3;
const X_DESCRIPTION = 4;
const X_IMAGES = 5;
const X_IMAGE = 6;
const X_PRICES = 7;
const X_PRICE = 8;
const X_CURRENCY = 9;
const X_VALUE = 10;
const X_IGNORED = 11; // unknown or misplaced element: checked for well-formedness, otherwise ignored
/** Items are the root's children. */
const ITEM_DEPTH = 2;
/** How many element names, of how many bytes at most, the tokenizer remembers (see `knownBytes`). */
const KNOWN_NAMES = 16;
const KNOWN_NAME_MAX = 32;
/** openElement's argument for a name that still has to be checked and classified. */
const UNKNOWN = -1;

const isTextContext = (x: number): boolean =>
  x === X_CATEGORY || x === X_DESCRIPTION || x === X_CURRENCY || x === X_VALUE;

// Attributes the catalogue reads.
const A_NONE = 0;
const A_ID = 1;
const A_TYPE = 2;
const A_URL = 3;

const W_ITEMS = ascii('items');
const W_ITEM = ascii('item');
const W_CATEGORY = ascii('category');
const W_DESCRIPTION = ascii('description');
const W_IMAGES = ascii('images');
const W_IMAGE = ascii('image');
const W_PRICES = ascii('prices');
const W_PRICE = ascii('price');
const W_CURRENCY = ascii('currency');
const W_VALUE = ascii('value');
const W_ID = ascii('id');
const W_TYPE = ascii('type');
const W_URL = ascii('url');

export class CatalogueParser extends MarkupReader {
  /** Absolute offset (in the decompressed input) of the current chunk's first byte. */
  private base = 0;
  /** Offset where the document starts (3 after a BOM): the only place an XML declaration may be. */
  private docStart = 0;
  /** The first bytes, held until there are enough to recognise a BOM. */
  private head: Uint8Array = Buffer.alloc(0);
  private headDone = false;
  private readonly utf8 = new Utf8Validator();
  private tagLine = 1;
  /** Absolute offset of the '<' of the tag being read (where an item starts, for its size limit). */
  private tagStart = 0;
  /** Absolute offset of the first byte past the open item's size limit; -1 outside items (or once over). */
  private itemLimitAt = -1;
  /** An item start tag's name was just read: the tokenizer returns to run(), which applies the limit. */
  private itemOpened = false;

  // element stack: names back to back in `names`, each element's name start, context and line
  private depth = 0;
  private names: Uint8Array = Buffer.alloc(4096);
  private namesView = viewOf(this.names);
  private namesLen = 0;
  /** The chunk being read, for comparing four bytes at a time (end tags against their start tag). */
  private bufView = viewOf(this.names);
  private nameBegin = 0;
  /** The OR of the bytes of the start tag name being read (>= 0x80: non-ASCII). */
  private nameBits = 0;
  private nameStart = new Int32Array(256);
  private ctxStack = new Uint8Array(256);
  private lineStack = new Int32Array(256);
  // Element names already classified (ASCII, at most KNOWN_NAME_MAX bytes, under a catalogue parent),
  // back to back in `knownBytes`, with their parent's context and their own: a start tag that repeats
  // one (nearly all of them) is recognised with a few four-byte compares, neither read byte by byte
  // nor classified again.
  private readonly knownBytes: Uint8Array = Buffer.alloc(KNOWN_NAMES * KNOWN_NAME_MAX);
  private readonly knownView = viewOf(this.knownBytes);
  private readonly knownLen = new Int32Array(KNOWN_NAMES);
  private readonly knownCtx = new Uint8Array(KNOWN_NAMES);
  /** Per parent context, its first remembered child name, and per name the next (-1: none). */
  private readonly knownFirst = new Int8Array(X_IGNORED + 1).fill(-1);
  private readonly knownNext = new Int8Array(KNOWN_NAMES).fill(-1);
  private knownCount = 0;
  /** 0 before the root element, 1 inside it, 2 after it. */
  private rootState = 0;
  private cmpPos = 0;

  // the start tag being read
  private hadSpace = false;
  private attrNames: Uint8Array = Buffer.alloc(256);
  private attrLen = 0;
  private attrBegin = 0;
  private readonly attrStarts: number[] = [];
  private attrCount = 0;
  private attrSet: Set<string> | null = null;
  private attrKind = A_NONE;
  private quote = 0;

  /** Feeds the next chunk of (decompressed) input. Throws ConversionError when the file fails. */
  write(input: Uint8Array): void {
    // One array type everywhere keeps the hot loops monomorphic (Transform hands us Buffers anyway).
    const chunk = Buffer.isBuffer(input)
      ? input
      : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    if (!this.headDone) {
      const head = Buffer.concat([this.head, chunk]);
      if (head.length < 3) {
        this.head = head;
        return;
      }
      this.headDone = true;
      this.startWith(head);
      return;
    }
    this.feed(chunk);
  }

  /** The input is complete: checks that the document is, and hands on the rest of the output. */
  end(): void {
    if (!this.headDone) {
      this.headDone = true;
      this.startWith(this.head);
    }
    if (this.utf8.incomplete) this.fail(`${NOT_WF}invalid UTF-8 (the input ends inside a character)`);
    if (this.state !== S_TEXT)
      this.fail(`${NOT_WF}unexpected end of input inside ${STATE_NAMES[this.state]}`);
    if (this.rootState === 0) this.fail(`${NOT_WF}no root element`);
    if (this.rootState === 1) {
      const start = this.lineStack[this.depth]!;
      this.fail(
        `${NOT_WF}unexpected end of input: <${this.nameAt(this.depth)}> from line ${start} is not closed (truncated file?)`,
      );
    }
    this.flushOut();
  }

  private startWith(head: Uint8Array): void {
    if (head.length >= 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) {
      this.docStart = 3;
      this.base = 3;
      if (this.utf8.check(head.subarray(0, 3)) >= 0) this.fail(`${NOT_WF}invalid UTF-8`);
      this.feed(head.subarray(3));
    } else {
      this.feed(head);
    }
  }

  private feed(chunk: Uint8Array): void {
    const bad = this.utf8.check(chunk);
    if (bad >= 0) {
      this.runInPieces(chunk.subarray(0, bad));
      this.fail(`${NOT_WF}invalid UTF-8`);
    }
    this.runInPieces(chunk);
  }

  /**
   * A capture reserves scratch room for the rest of its chunk (twice it, for escapes), so a chunk of
   * many MiB pushed the scratch past what an item may keep (SCRATCH_KEEP) and it was given back and
   * allocated afresh for every item: 6.4 s for one 12 MiB chunk against 0.23 s in 1 MiB chunks. The
   * tokenizer takes any split, so big chunks are run in pieces of a size it is fast on.
   */
  private runInPieces(chunk: Uint8Array): void {
    if (chunk.length <= RUN_PIECE_BYTES) {
      this.run(chunk);
      return;
    }
    for (let o = 0; o < chunk.length; o += RUN_PIECE_BYTES) {
      this.run(chunk.subarray(o, Math.min(chunk.length, o + RUN_PIECE_BYTES)));
    }
  }

  /** The element name being opened (not yet on the stack), for messages. */
  private pendingName(): string {
    return Buffer.from(this.names.subarray(this.nameBegin, this.namesLen)).toString('utf8');
  }

  private nameAt(depth: number): string {
    const end = depth === this.depth ? this.namesLen : this.nameStart[depth + 1]!;
    return Buffer.from(this.names.subarray(this.nameStart[depth]!, end)).toString('utf8');
  }

  private run(buf: Uint8Array): void {
    const n = buf.length;
    this.bufView = viewOf(buf);
    let i = 0;
    for (;;) {
      // Inside an item the tokenizer runs only up to the item's size limit, so the limit takes effect at
      // the same byte whatever the chunking (every state is resumable there, as at a chunk boundary).
      const stop = this.itemLimitAt < 0 ? n : Math.min(n, Math.max(this.itemLimitAt - this.base, i));
      i = this.tokens(buf, i, stop);
      if (this.itemLimitAt >= 0 && i >= this.itemLimitAt - this.base) this.itemTooLong();
      else if (i >= n) break;
    }
    if (n >= 2) {
      this.prev2 = buf[n - 2]!;
      this.prev1 = buf[n - 1]!;
    } else if (n === 1) {
      this.prev2 = this.prev1;
      this.prev1 = buf[0]!;
    }
    this.base += n;
  }

  /**
   * The tokenizer proper: reads buf[i..n) and returns where it stopped (n, or just after the start tag
   * name that opened an item, so that run() can apply the item's limit from there).
   */
  private tokens(buf: Uint8Array, i: number, n: number): number {
    // S_CLOSE consumes nothing, so it also runs when a chunk ends right after an end tag.
    while (i < n || this.state === S_CLOSE) {
      switch (this.state) {
        case S_TEXT:
          i = this.text(buf, i, n);
          if (this.itemOpened) {
            this.itemOpened = false;
            return i;
          }
          break;
        case S_LT:
          i = this.lt(buf, i);
          break;
        case S_START_NAME:
          i = this.startName(buf, i, n);
          if (this.itemOpened) {
            this.itemOpened = false;
            return i;
          }
          break;
        case S_TAG:
          i = this.tag(buf, i, n);
          break;
        case S_ATTR_NAME:
          i = this.attrName(buf, i, n);
          break;
        case S_ATTR_EQ:
          i = this.attrEq(buf, i, n);
          break;
        case S_ATTR_QUOTE:
          i = this.attrQuote(buf, i, n);
          break;
        case S_ATTR_VAL:
          i = this.attrValue(buf, i, n);
          break;
        case S_EMPTY_GT:
          if (buf[i] !== 0x3e) this.fail(`${NOT_WF}expected '>' after '/' in a start tag`);
          this.startTagEnd();
          this.state = S_CLOSE;
          i++;
          break;
        case S_CLOSE:
          this.closeElement();
          this.state = S_TEXT;
          break;
        case S_END_NAME:
          i = this.endName(buf, i, n);
          break;
        case S_END_WS:
          i = this.endWs(buf, i, n);
          break;
        case S_REF:
          i = this.ref(buf, i, n);
          break;
        case S_BANG:
          i = this.bang(buf, i);
          break;
        case S_BANG_DASH:
          if (buf[i] !== 0x2d) this.fail(`${NOT_WF}malformed comment (expected '<!--')`);
          this.state = S_COMMENT;
          i++;
          break;
        case S_COMMENT:
        case S_COMMENT_D1:
        case S_COMMENT_D2:
          i = this.comment(buf, i, n);
          break;
        case S_CDATA_OPEN:
          if (buf[i] !== CDATA_OPEN[this.cdataK]) this.fail(`${NOT_WF}malformed CDATA section`);
          if (++this.cdataK === CDATA_OPEN.length) {
            if (this.depth === 0) this.fail(`${NOT_WF}CDATA section outside the root element`);
            this.state = S_CDATA;
          }
          i++;
          break;
        case S_CDATA:
        case S_CDATA_B1:
        case S_CDATA_B2:
          i = this.cdata(buf, i, n);
          break;
        default:
          i = this.pi(buf, i, n);
      }
    }
    return i;
  }

  /**
   * The open item reached its size limit without ending: it is rejected, and the rest of it is only
   * checked for well-formedness, holding nothing (its open children become ignored elements, and the
   * value being captured, if any, stops here). Memory so stays bounded by the limit, not by the input.
   */
  private itemTooLong(): void {
    this.itemLimitAt = -1;
    this.itemTooLarge = true;
    for (let d = ITEM_DEPTH + 1; d <= this.depth; d++) this.ctxStack[d] = X_IGNORED;
    this.textCapture = false;
    this.attrKind = A_NONE;
    this.dropRefCapture();
  }

  // ---------------------------------------------------------------- text

  private text(buf: Uint8Array, i: number, n: number): number {
    if (!this.textCapture) i = this.skipText(buf, i, n);
    else {
      do i = this.captureText(buf, i, Math.min(n, i + SLICE));
      while (this.state === S_TEXT && i < n && buf[i] !== 0x3c);
    }
    if (this.state !== S_TEXT || i >= n) return i;
    // buf[i] is '<'.
    this.tagLine = this.line;
    this.tagStart = this.base + i;
    this.state = S_LT;
    if (++i >= n) return i;
    // Straight into the tag (no trip through the dispatch loop per state: tags are most of a catalogue).
    i = this.lt(buf, i);
    if (this.state === S_START_NAME) return this.startName(buf, i, n);
    if (this.state === S_END_NAME) return this.endName(buf, i, n);
    return i;
  }

  /** Text nobody reads: only checked (characters, references, line count). Stops at '<'. */
  private skipText(buf: Uint8Array, i: number, end: number): number {
    // Mostly indentation between tags: spaces and line feeds get the first, cheapest tests.
    const outside = this.depth === 0;
    let line = this.line;
    for (; i < end; i++) {
      const b = buf[i]!;
      if (b === 0x20) continue;
      if (b === 0x3c) break;
      if (b === 0x0a) {
        if ((i > 0 ? buf[i - 1] : this.prev1) !== 0x0d) line++; // CR LF is one line break
        continue;
      }
      const k = TEXT_CLASS[b]!;
      if (k === K_TAB) continue;
      if (k === K_CR) {
        line++;
        continue;
      }
      this.line = line;
      if (outside) this.fail(`${NOT_WF}text outside the root element`);
      if (k === K_PLAIN || k === K_ESC) continue;
      if (k === K_AMP) {
        this.beginRef(S_TEXT, M_NONE);
        return i + 1;
      }
      if (k === K_GT) this.checkCdataEnd(buf, i);
      else this.badChar(b);
    }
    this.line = line;
    return i;
  }

  /** Text of a field: JSON-escaped into scratch, leading and trailing whitespace left out. Stops at '<'. */
  private captureText(buf: Uint8Array, i: number, end: number): number {
    this.ensureScratch(2 * (end - i) + 8);
    const s = this.scratch;
    const start = this.capStart;
    let len = this.sLen;
    let capEnd = this.capEnd;
    for (; i < end; i++) {
      const b = buf[i]!;
      const k = TEXT_CLASS[b]!;
      if (k === K_PLAIN) {
        s[len++] = b;
        capEnd = len;
        continue;
      }
      switch (k) {
        case K_SPACE:
          if (len !== start) s[len++] = 0x20;
          break;
        case K_TAB:
          if (len !== start) {
            s[len++] = 0x5c;
            s[len++] = 0x74;
          }
          break;
        case K_LF:
        case K_CR:
          // CR LF is one line break (the CR already counted and wrote it)
          if (k === K_LF && (i > 0 ? buf[i - 1] : this.prev1) === 0x0d) break;
          this.line++;
          if (len !== start) {
            s[len++] = 0x5c;
            s[len++] = 0x6e;
          }
          break;
        case K_ESC:
          s[len++] = 0x5c;
          s[len++] = b;
          capEnd = len;
          break;
        case K_GT:
          this.checkCdataEnd(buf, i);
          s[len++] = b;
          capEnd = len;
          break;
        case K_AMP:
          this.sLen = len;
          this.capEnd = capEnd;
          this.beginRef(S_TEXT, M_TEXT);
          return i + 1;
        case K_LT:
          this.sLen = len;
          this.capEnd = capEnd;
          return i;
        default:
          this.sLen = len;
          this.badChar(b);
      }
    }
    this.sLen = len;
    this.capEnd = capEnd;
    return i;
  }

  // ---------------------------------------------------------------- tags

  private lt(buf: Uint8Array, i: number): number {
    const b = buf[i]!;
    if (NAME_CLASS[b] === 1) {
      if (this.rootState === 2) this.fail(`${NOT_WF}content after the root element`);
      this.nameBegin = this.namesLen;
      this.nameBits = 0;
      this.state = S_START_NAME;
      return i;
    }
    if (b === 0x2f) {
      if (this.depth === 0) this.fail(`${NOT_WF}end tag without a matching start tag`);
      this.cmpPos = this.nameStart[this.depth]!;
      this.state = S_END_NAME;
    } else if (b === 0x21) this.state = S_BANG;
    else if (b === 0x3f) {
      this.beginPi(this.base + i - 1 === this.docStart);
    } else this.fail(`${NOT_WF}'<' must start a tag (write &lt; for a literal '<')`);
    return i + 1;
  }

  private startName(buf: Uint8Array, i: number, n: number): number {
    // Room for the longest allowed name, so the copy loop needs no capacity checks.
    if (this.namesLen + MAX_NAME + 1 > this.names.length) {
      this.names = grow(this.names, this.namesLen, this.namesLen + MAX_NAME + 1);
      this.namesView = viewOf(this.names);
    }
    const names = this.names;
    let p = this.namesLen;
    let j = i;
    const known = p === this.nameBegin ? this.knownName(buf, i, n) : UNKNOWN;
    if (known !== UNKNOWN) {
      const len = this.knownLen[known]!;
      const from = known * KNOWN_NAME_MAX;
      this.namesLen = copyBytes(this.namesView, names, p, this.knownView, this.knownBytes, from, from + len);
      j = i + len;
      this.openElement(this.knownCtx[known]!);
    } else {
      const limit = Math.min(n, i + MAX_NAME + 1 - (p - this.nameBegin));
      // While copying, note whether any byte is
      // non-ASCII, so openElement need not look at the name again.
      let bits = this.nameBits;
      for (; j < limit; j++) {
        const b = buf[j]!;
        if (NAME_CLASS[b] === 0) break;
        bits |= b;
        names[p++] = b;
      }
      this.namesLen = p;
      this.nameBits = bits;
      if (p - this.nameBegin > MAX_NAME) this.fail(`${NOT_WF}element name too long`);
      if (j === n) return n;
      this.openElement(UNKNOWN);
    }
    const b = buf[j]!;
    if (b === 0x3e) {
      this.startTagEnd();
      this.state = S_TEXT;
    } else if (b === 0x2f) this.state = S_EMPTY_GT;
    else {
      const k = TEXT_CLASS[b]!;
      if (k < K_SPACE || k > K_LF) this.fail(`${NOT_WF}invalid character in element name`);
      if (k >= K_CR) this.lineBreak(buf, j);
      this.hadSpace = true;
      this.state = S_TAG;
      // Straight on to the attributes, except after an item's name: run() first applies its size limit.
      if (!this.itemOpened) return this.tag(buf, j + 1, n);
    }
    return j + 1;
  }

  /**
   * The remembered name at buf[i..) (followed by a byte that ends it, within buf[..n)) under the
   * current parent, or UNKNOWN.
   */
  private knownName(buf: Uint8Array, i: number, n: number): number {
    const parent = this.ctxStack[this.depth]!;
    if (parent === X_ITEM && this.itemTooLarge) return UNKNOWN; // its children are ignored now
    const kv = this.knownView;
    const kb = this.knownBytes;
    const bv = this.bufView;
    for (let c = this.knownFirst[parent]!; c >= 0; c = this.knownNext[c]!) {
      const len = this.knownLen[c]!;
      if (i + len >= n) continue;
      const from = c * KNOWN_NAME_MAX;
      let k = 0;
      while (k + 4 <= len && kv.getUint32(from + k) === bv.getUint32(i + k)) k += 4;
      while (k < len && kb[from + k] === buf[i + k]) k++;
      if (k === len && NAME_CLASS[buf[i + len]!] === 0) return c;
    }
    return UNKNOWN;
  }

  /**
   * Pushes the element whose name was just read. `known` is its context when the name was
   * recognised as a remembered one (see knownName), else UNKNOWN: then the name is checked,
   * classified and remembered.
   */
  private openElement(known: number): void {
    const names = this.names;
    const start = this.nameBegin;
    const end = this.namesLen;
    if (known === UNKNOWN && this.nameBits >= 0x80 && !isXmlName(names, start, end)) {
      this.fail(`${NOT_WF}<${this.pendingName()}> is not a valid element name`);
    }
    const parent = this.ctxStack[this.depth]!;
    if (this.depth >= MAX_DEPTH) this.fail(`${NOT_WF}nesting too deep (more than ${MAX_DEPTH} levels)`);
    const d = ++this.depth;
    if (d >= this.nameStart.length) {
      const size = this.nameStart.length * 2;
      const ns = new Int32Array(size);
      ns.set(this.nameStart);
      this.nameStart = ns;
      const cs = new Uint8Array(size);
      cs.set(this.ctxStack);
      this.ctxStack = cs;
      const ls = new Int32Array(size);
      ls.set(this.lineStack);
      this.lineStack = ls;
    }
    this.nameStart[d] = start;
    this.lineStack[d] = this.tagLine;
    let ctx = known;
    if (ctx === UNKNOWN) {
      ctx = this.classify(parent, names, start, end);
      this.remember(parent, ctx, start, end);
    }
    switch (ctx) {
      case X_ROOT:
        this.rootState = 1;
        this.openArray();
        break;
      case X_ITEM:
        this.startItem(this.tagLine);
        this.itemLimitAt = this.tagStart + this.rules.maxItemBytes;
        this.itemOpened = true;
        break;
      case X_CATEGORY:
        this.startCategory();
        break;
      case X_DESCRIPTION:
        this.startDescription();
        break;
      case X_IMAGE:
        this.startImage();
        break;
      case X_PRICE:
        this.startPrice();
        break;
      case X_CURRENCY:
        this.curCount++;
        break;
      case X_VALUE:
        this.valCount++;
        break;
    }
    this.ctxStack[d] = ctx;
    this.textCapture = false;
    this.attrLen = 0;
    this.attrCount = 0;
    this.attrSet = null;
  }

  /** What the element names[start..end) means under `parent` (by its local name). */
  private classify(parent: number, names: Uint8Array, start: number, end: number): number {
    switch (parent) {
      case X_NONE:
        if (!localNameIs(names, start, end, W_ITEMS)) {
          this.fail(`the root element is <${this.nameAt(this.depth)}>, expected <items>`, this.tagLine);
        }
        return X_ROOT;
      case X_ROOT:
        return localNameIs(names, start, end, W_ITEM) ? X_ITEM : X_IGNORED;
      case X_ITEM:
        if (this.itemTooLarge) return X_IGNORED;
        if (localNameIs(names, start, end, W_CATEGORY)) return X_CATEGORY;
        if (localNameIs(names, start, end, W_DESCRIPTION)) return X_DESCRIPTION;
        if (localNameIs(names, start, end, W_IMAGES)) return X_IMAGES;
        return localNameIs(names, start, end, W_PRICES) ? X_PRICES : X_IGNORED;
      case X_IMAGES:
        return localNameIs(names, start, end, W_IMAGE) ? X_IMAGE : X_IGNORED;
      case X_PRICES:
        return localNameIs(names, start, end, W_PRICE) ? X_PRICE : X_IGNORED;
      case X_PRICE:
        if (localNameIs(names, start, end, W_CURRENCY)) return X_CURRENCY;
        return localNameIs(names, start, end, W_VALUE) ? X_VALUE : X_IGNORED;
      default:
        return X_IGNORED;
    }
  }

  /**
   * Remembers a classified name for knownName, while there is room. Only where the meaning depends
   * on nothing but the parent and the name: not the root (read once) nor anything under an ignored
   * element or inside an item over its size limit.
   */
  private remember(parent: number, ctx: number, start: number, end: number): void {
    const c = this.knownCount;
    const len = end - start;
    if (c === KNOWN_NAMES || len > KNOWN_NAME_MAX || this.nameBits >= 0x80) return;
    if (parent === X_NONE || parent === X_IGNORED || (parent === X_ITEM && this.itemTooLarge)) return;
    // Already there (it was read across a chunk boundary, or too close to the end of one).
    let last = -1;
    for (let k = this.knownFirst[parent]!; k >= 0; k = this.knownNext[k]!) {
      const from = k * KNOWN_NAME_MAX;
      if (bytesEqual(this.names, start, end, this.knownBytes.subarray(from, from + this.knownLen[k]!)))
        return;
      last = k;
    }
    this.knownBytes.set(this.names.subarray(start, end), c * KNOWN_NAME_MAX);
    this.knownLen[c] = len;
    this.knownCtx[c] = ctx;
    if (last < 0) this.knownFirst[parent] = c;
    else this.knownNext[last] = c;
    this.knownCount = c + 1;
  }

  /** The start tag is complete ('>' or '/>'): all attributes are known. */
  private startTagEnd(): void {
    const ctx = this.ctxStack[this.depth]!;
    if (ctx === X_IMAGE) this.endImageTag();
    else if (isTextContext(ctx)) {
      this.textCapture = true;
      this.capStart = this.sLen;
      this.capEnd = this.sLen;
    }
  }

  private closeElement(): void {
    switch (this.ctxStack[this.depth]) {
      case X_CATEGORY:
        this.endCategory();
        break;
      case X_DESCRIPTION:
        this.endDescription();
        break;
      case X_CURRENCY:
        this.endCurrency();
        break;
      case X_VALUE:
        this.endValue();
        break;
      case X_PRICE:
        this.endPrice();
        break;
      case X_ITEM:
        this.itemLimitAt = -1;
        this.endItem();
        break;
      case X_ROOT:
        this.closeArray();
        this.rootState = 2;
        break;
    }
    this.namesLen = this.nameStart[this.depth]!;
    this.depth--;
    this.textCapture = isTextContext(this.ctxStack[this.depth]!);
  }

  private tag(buf: Uint8Array, i: number, n: number): number {
    for (; i < n; i++) {
      const b = buf[i]!;
      const k = TEXT_CLASS[b]!;
      if (k >= K_SPACE && k <= K_LF) {
        if (k >= K_CR) this.lineBreak(buf, i);
        this.hadSpace = true;
        continue;
      }
      if (b === 0x3e) {
        this.startTagEnd();
        this.state = S_TEXT;
        return i + 1;
      }
      if (b === 0x2f) {
        this.state = S_EMPTY_GT;
        return i + 1;
      }
      if (NAME_CLASS[b] !== 1)
        this.fail(`${NOT_WF}unexpected character '${String.fromCharCode(b)}' in a start tag`);
      if (!this.hadSpace) this.fail(`${NOT_WF}attributes must be separated by whitespace`);
      this.attrBegin = this.attrLen;
      this.state = S_ATTR_NAME;
      return this.attrName(buf, i, n);
    }
    return n;
  }

  private attrName(buf: Uint8Array, i: number, n: number): number {
    let j = i;
    while (j < n && NAME_CLASS[buf[j]!] !== 0) j++;
    const len = j - i;
    if (this.attrLen + len - this.attrBegin > MAX_NAME) this.fail(`${NOT_WF}attribute name too long`);
    if (this.attrLen + len > this.attrNames.length) {
      this.attrNames = grow(this.attrNames, this.attrLen, this.attrLen + len);
    }
    const names = this.attrNames;
    let p = this.attrLen;
    for (let k = i; k < j; k++) names[p++] = buf[k]!;
    this.attrLen = p;
    if (j === n) return n;
    this.attrNameDone();
    const b = buf[j]!;
    if (b === 0x3d) {
      this.state = S_ATTR_QUOTE;
      // The usual name="value": straight into the value.
      const q = j + 1 < n ? buf[j + 1]! : 0;
      if (q === 0x22 || q === 0x27) {
        this.quote = q;
        this.state = S_ATTR_VAL;
        return this.attrValue(buf, j + 2, n);
      }
    } else {
      const k = TEXT_CLASS[b]!;
      if (b === 0x3e || b === 0x2f) this.fail(`${NOT_WF}attribute without '=' and a value`);
      if (k < K_SPACE || k > K_LF) this.fail(`${NOT_WF}invalid character in attribute name`);
      if (k >= K_CR) this.lineBreak(buf, j);
      this.state = S_ATTR_EQ;
    }
    return j + 1;
  }

  /** Checks for a repeated attribute and decides whether the catalogue reads this one. */
  private attrNameDone(): void {
    const names = this.attrNames;
    const begin = this.attrBegin;
    const end = this.attrLen;
    let all = 0;
    for (let k = begin; k < end; k++) all |= names[k]!;
    if (all >= 0x80 && !isXmlName(names, begin, end)) {
      const name = Buffer.from(names.subarray(begin, end)).toString('utf8');
      this.fail(`${NOT_WF}'${name}' is not a valid attribute name`);
    }
    const starts = this.attrStarts;
    const count = this.attrCount;
    if (count < 16) {
      for (let a = 0; a < count; a++) {
        const s = starts[a]!;
        const e = a + 1 < count ? starts[a + 1]! : begin;
        if (e - s !== end - begin) continue;
        let same = true;
        for (let k = 0; same && k < e - s; k++) same = names[s + k] === names[begin + k];
        if (same) this.duplicateAttr();
      }
    } else {
      // Many attributes: a set keeps the check linear (a hostile tag may carry thousands).
      if (this.attrSet === null) {
        this.attrSet = new Set();
        for (let a = 0; a < count; a++) {
          const e = a + 1 < count ? starts[a + 1]! : begin;
          this.attrSet.add(Buffer.from(names.subarray(starts[a]!, e)).toString('latin1'));
        }
      }
      const key = Buffer.from(names.subarray(begin, end)).toString('latin1');
      if (this.attrSet.has(key)) this.duplicateAttr();
      this.attrSet.add(key);
    }
    starts[this.attrCount++] = begin;
    let kind = A_NONE;
    const ctx = this.ctxStack[this.depth];
    if (ctx === X_ITEM) {
      if (!this.itemTooLarge && bytesEqual(names, begin, end, W_ID)) kind = A_ID;
    } else if (ctx === X_IMAGE) {
      if (bytesEqual(names, begin, end, W_TYPE)) kind = A_TYPE;
      else if (bytesEqual(names, begin, end, W_URL)) kind = A_URL;
    }
    this.attrKind = kind;
    if (kind !== A_NONE) {
      this.capStart = this.sLen;
      this.capEnd = this.sLen;
    }
  }

  private duplicateAttr(): never {
    const name = Buffer.from(this.attrNames.subarray(this.attrBegin, this.attrLen)).toString('utf8');
    return this.fail(`${NOT_WF}attribute '${name}' appears twice in one tag`);
  }

  private attrEq(buf: Uint8Array, i: number, n: number): number {
    for (; i < n; i++) {
      const b = buf[i]!;
      if (b === 0x3d) {
        this.state = S_ATTR_QUOTE;
        return i + 1;
      }
      const k = TEXT_CLASS[b]!;
      if (k < K_SPACE || k > K_LF) this.fail(`${NOT_WF}attribute without '=' and a value`);
      if (k >= K_CR) this.lineBreak(buf, i);
    }
    return n;
  }

  private attrQuote(buf: Uint8Array, i: number, n: number): number {
    for (; i < n; i++) {
      const b = buf[i]!;
      if (b === 0x22 || b === 0x27) {
        this.quote = b;
        this.state = S_ATTR_VAL;
        return i + 1;
      }
      const k = TEXT_CLASS[b]!;
      if (k < K_SPACE || k > K_LF) this.fail(`${NOT_WF}attribute value must be in quotes`);
      if (k >= K_CR) this.lineBreak(buf, i);
    }
    return n;
  }

  private attrValue(buf: Uint8Array, i: number, n: number): number {
    const quote = this.quote;
    if (this.attrKind === A_NONE) i = this.skipAttr(buf, i, n);
    else {
      do i = this.captureAttr(buf, i, Math.min(n, i + SLICE));
      while (this.state === S_ATTR_VAL && i < n && buf[i] !== quote);
    }
    if (this.state !== S_ATTR_VAL || i >= n) return i;
    switch (this.attrKind) {
      case A_ID:
        this.idS = this.capStart;
        this.idE = this.capEnd;
        this.sLen = this.capEnd;
        break;
      case A_TYPE:
        this.typeS = this.capStart;
        this.typeE = this.capEnd;
        this.sLen = this.capEnd;
        break;
      case A_URL:
        this.urlS = this.capStart;
        this.urlE = this.sLen;
        break;
    }
    this.hadSpace = false;
    this.state = S_TAG;
    // The tag's usual end right after a value: '>' or '/>'.
    const b = ++i < n ? buf[i]! : 0;
    if (b === 0x3e) {
      this.startTagEnd();
      this.state = S_TEXT;
      return i + 1;
    }
    if (b === 0x2f && i + 1 < n && buf[i + 1] === 0x3e) {
      this.startTagEnd();
      this.closeElement();
      this.state = S_TEXT;
      return i + 2;
    }
    return i;
  }

  /** An attribute value nobody reads: only checked. Stops at the closing quote. */
  private skipAttr(buf: Uint8Array, i: number, end: number): number {
    const quote = this.quote;
    for (; i < end; i++) {
      const b = buf[i]!;
      const k = ATTR_CLASS[b]!;
      if (k === K_PLAIN) continue;
      if (k === K_LF || k === K_CR) this.lineBreak(buf, i);
      else if (k >= K_DQ) {
        if (b === quote) return i;
      } else if (k === K_AMP) {
        this.beginRef(S_ATTR_VAL, M_NONE);
        return i + 1;
      } else if (k === K_LT) this.fail(`${NOT_WF}'<' is not allowed in an attribute value`);
      else if (k === K_BAD) this.badChar(b);
    }
    return i;
  }

  /**
   * An attribute the catalogue reads, JSON-escaped into scratch. XML turns literal tabs and line breaks
   * in attribute values into spaces; `url` drops all whitespace; `id` and `type` are trimmed.
   */
  private captureAttr(buf: Uint8Array, i: number, end: number): number {
    this.ensureScratch(2 * (end - i) + 8);
    const url = this.attrKind === A_URL;
    const quote = this.quote;
    const s = this.scratch;
    const start = this.capStart;
    const sv = this.scratchView;
    const bv = this.bufView;
    let len = this.sLen;
    let capEnd = this.capEnd;
    for (; i < end; i++) {
      // A run of bytes copied as they are (most of a URL): found first, then copied four at a time.
      let j = i;
      while (j < end && ATTR_CLASS[buf[j]!] === K_PLAIN) j++;
      if (j > i) {
        len = copyBytes(sv, s, len, bv, buf, i, j);
        capEnd = len;
        i = j;
        if (i === end) break;
      }
      const b = buf[i]!;
      const k = ATTR_CLASS[b]!;
      if (k === K_GT) {
        s[len++] = b;
        capEnd = len;
        continue;
      }
      if (k >= K_DQ) {
        if (b === quote) break;
        if (b === 0x22) s[len++] = 0x5c;
        s[len++] = b;
        capEnd = len;
        continue;
      }
      if (k <= K_LF) {
        if (k >= K_CR) {
          if (k === K_LF && (i > 0 ? buf[i - 1] : this.prev1) === 0x0d) continue; // CR LF: one break
          this.line++;
        }
        if (!url && len !== start) s[len++] = 0x20;
        continue;
      }
      if (k === K_ESC) {
        s[len++] = 0x5c;
        s[len++] = b;
        capEnd = len;
        continue;
      }
      this.sLen = len;
      this.capEnd = capEnd;
      if (k === K_AMP) {
        this.beginRef(S_ATTR_VAL, url ? M_URL : M_ATTR);
        return i + 1;
      }
      if (k === K_LT) this.fail(`${NOT_WF}'<' is not allowed in an attribute value`);
      this.badChar(b);
    }
    this.sLen = len;
    this.capEnd = capEnd;
    return i;
  }

  private endName(buf: Uint8Array, i: number, n: number): number {
    const names = this.names;
    const end = this.namesLen;
    let p = this.cmpPos;
    // Fast path: the whole name is in this chunk, followed by '>'.
    if (i + (end - p) < n) {
      let q = i;
      const nv = this.namesView;
      const bv = this.bufView;
      while (p + 4 <= end && nv.getUint32(p) === bv.getUint32(q)) {
        p += 4;
        q += 4;
      }
      while (p < end && names[p] === buf[q]) {
        p++;
        q++;
      }
      if (p === end && buf[q] === 0x3e) {
        this.closeElement();
        this.state = S_TEXT;
        return q + 1;
      }
      p = this.cmpPos;
    }
    for (; i < n; i++) {
      const b = buf[i]!;
      if (p < end && names[p] === b) {
        p++;
        continue;
      }
      if (p === end) {
        if (b === 0x3e) {
          this.state = S_CLOSE;
          return i + 1;
        }
        const k = TEXT_CLASS[b]!;
        if (k >= K_SPACE && k <= K_LF) {
          if (k >= K_CR) this.lineBreak(buf, i);
          this.state = S_END_WS;
          return i + 1;
        }
      }
      this.mismatch();
    }
    this.cmpPos = p;
    return n;
  }

  private mismatch(): never {
    const d = this.depth;
    return this.fail(
      `${NOT_WF}end tag does not match the start tag <${this.nameAt(d)}> from line ${this.lineStack[d]}`,
    );
  }

  private endWs(buf: Uint8Array, i: number, n: number): number {
    for (; i < n; i++) {
      const b = buf[i]!;
      if (b === 0x3e) {
        this.state = S_CLOSE;
        return i + 1;
      }
      const k = TEXT_CLASS[b]!;
      if (k < K_SPACE || k > K_LF) this.fail(`${NOT_WF}unexpected character in an end tag`);
      if (k >= K_CR) this.lineBreak(buf, i);
    }
    return n;
  }
}
