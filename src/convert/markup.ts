/**
 * The markup a catalogue may contain besides elements: character and entity references, comments,
 * CDATA sections and processing instructions (with the XML declaration), read byte by byte and
 * resumable at any chunk boundary like the rest of the tokenizer. ./parser.ts extends this class with
 * text, tags and the catalogue structure; the tokenizer state lives here because both layers move it.
 */
import {
  isXmlName,
  K_AMP,
  K_BAD,
  K_CR,
  K_ESC,
  K_LF,
  K_PLAIN,
  K_SPACE,
  K_TAB,
  NAME_CLASS,
  TEXT_CLASS,
} from './bytes.js';
import { ItemWriter } from './item.js';
import {
  M_NONE,
  M_URL,
  MAX_NAME,
  NOT_WF,
  S_BANG_DASH,
  S_CDATA,
  S_CDATA_B1,
  S_CDATA_B2,
  S_CDATA_OPEN,
  S_COMMENT,
  S_COMMENT_D1,
  S_COMMENT_D2,
  S_PI,
  S_PI_Q,
  S_PI_TARGET,
  S_REF,
  S_TEXT,
  SLICE,
} from './states.js';

/** XML 1.0 production XMLDecl, after '<?xml' and before '?>'; groups 1/2: the encoding name. */
const XML_DECL =
  /^[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:"1\.[0-9]+"|'1\.[0-9]+')(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(?:"([A-Za-z][A-Za-z0-9._-]*)"|'([A-Za-z][A-Za-z0-9._-]*)'))?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(?:"(?:yes|no)"|'(?:yes|no)'))?[ \t\r\n]*$/;

function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

export abstract class MarkupReader extends ItemWriter {
  protected state = S_TEXT;
  /** The last two bytes of the previous chunk (for CR LF pairs and `]]>` split across chunks). */
  protected prev1 = 0;
  protected prev2 = 0;
  /** Whether text here is a field's value (captured) or only checked. */
  protected textCapture = false;

  // the reference being read
  private refReturn = S_TEXT;
  private refMode = M_NONE;
  private refKind = 0;
  private refVal = 0;
  private refDigits = 0;
  private refName = '';

  // comments, CDATA, processing instructions
  protected cdataK = 0;
  private piTarget = '';
  private piAtStart = false;
  private piXml = false;
  private piText = '';

  /** After '<?': `atStart` says whether this is the very first thing in the document. */
  protected beginPi(atStart: boolean): void {
    this.piAtStart = atStart;
    this.piTarget = '';
    this.state = S_PI_TARGET;
  }

  protected prevByte(buf: Uint8Array, i: number): number {
    return i > 0 ? buf[i - 1]! : this.prev1;
  }

  /** Called at every CR and LF: XML treats CR LF, lone CR and lone LF each as one line break. */
  protected lineBreak(buf: Uint8Array, i: number): void {
    if (buf[i] === 0x0d || this.prevByte(buf, i) !== 0x0d) this.line++;
  }

  /** `]]>` may not appear in text (only as the end of a CDATA section). Called at a '>' in text. */
  protected checkCdataEnd(buf: Uint8Array, i: number): void {
    const b1 = i >= 1 ? buf[i - 1] : this.prev1;
    const b2 = i >= 2 ? buf[i - 2] : i === 1 ? this.prev1 : this.prev2;
    if (b1 === 0x5d && b2 === 0x5d) this.fail(`${NOT_WF}']]>' is not allowed in text`);
  }

  protected badChar(b: number): never {
    this.fail(`${NOT_WF}character 0x${b.toString(16).padStart(2, '0')} is not allowed in XML`);
  }

  // ---------------------------------------------------------------- references

  /** A reference being read no longer goes into a value (its item went over the size limit). */
  protected dropRefCapture(): void {
    this.refMode = M_NONE;
  }

  protected beginRef(returnState: number, mode: number): void {
    this.state = S_REF;
    this.refReturn = returnState;
    this.refMode = mode;
    this.refKind = 0;
    this.refVal = 0;
    this.refDigits = 0;
    this.refName = '';
  }

  protected ref(buf: Uint8Array, i: number, n: number): number {
    for (; i < n; i++) {
      const b = buf[i]!;
      switch (this.refKind) {
        case 0: // just after '&'
          if (b === 0x23) this.refKind = 2;
          else if (NAME_CLASS[b] === 1) {
            this.refKind = 1;
            this.refName = String.fromCharCode(b);
          } else this.fail(`${NOT_WF}'&' must start a reference (write &amp; for a literal '&')`);
          break;
        case 1: // entity name
          if (b === 0x3b) {
            this.emitChar(this.entityValue());
            this.state = this.refReturn;
            return i + 1;
          }
          if (NAME_CLASS[b] === 0 || this.refName.length >= 32) {
            this.fail(`${NOT_WF}reference '&${this.refName}' is not terminated by ';'`);
          }
          this.refName += String.fromCharCode(b);
          break;
        case 2: // after '&#'
          if (b === 0x78) this.refKind = 4;
          else if (b >= 0x30 && b <= 0x39) {
            this.refKind = 3;
            this.refVal = b - 0x30;
            this.refDigits = 1;
          } else this.fail(`${NOT_WF}malformed character reference`);
          break;
        default: {
          // decimal (3) or hexadecimal (4) digits
          if (b === 0x3b && this.refDigits > 0) {
            if (!isXmlChar(this.refVal)) {
              this.fail(`${NOT_WF}character reference &#${this.refVal}; is not an allowed XML character`);
            }
            this.emitChar(this.refVal);
            this.state = this.refReturn;
            return i + 1;
          }
          let d = -1;
          if (b >= 0x30 && b <= 0x39) d = b - 0x30;
          else if (this.refKind === 4 && b >= 0x61 && b <= 0x66) d = b - 0x57;
          else if (this.refKind === 4 && b >= 0x41 && b <= 0x46) d = b - 0x37;
          if (d < 0) this.fail(`${NOT_WF}malformed character reference`);
          this.refVal = this.refVal * (this.refKind === 4 ? 16 : 10) + d;
          this.refDigits++;
          if (this.refVal > 0x10ffff) this.fail(`${NOT_WF}character reference out of range`);
        }
      }
    }
    return n;
  }

  private entityValue(): number {
    switch (this.refName) {
      case 'lt':
        return 0x3c;
      case 'gt':
        return 0x3e;
      case 'amp':
        return 0x26;
      case 'quot':
        return 0x22;
      case 'apos':
        return 0x27;
      default:
        return this.fail(
          `${NOT_WF}undefined entity '&${this.refName};' (only &lt; &gt; &amp; &quot; &apos; and character references are allowed)`,
        );
    }
  }

  /** A character from a reference, into the value being captured (if any). */
  private emitChar(cp: number): void {
    const mode = this.refMode;
    if (mode === M_NONE) return;
    this.ensureScratch(8);
    const s = this.scratch;
    if (cp === 0x20 || cp === 0x9 || cp === 0xa || cp === 0xd) {
      if (mode === M_URL || this.sLen === this.capStart) return;
      if (cp === 0x20) s[this.sLen++] = 0x20;
      else {
        s[this.sLen++] = 0x5c;
        s[this.sLen++] = cp === 0x9 ? 0x74 : cp === 0xa ? 0x6e : 0x72;
      }
      return;
    }
    let len = this.sLen;
    if (cp === 0x22 || cp === 0x5c) {
      s[len++] = 0x5c;
      s[len++] = cp;
    } else if (cp < 0x80) s[len++] = cp;
    else if (cp < 0x800) {
      s[len++] = 0xc0 | (cp >> 6);
      s[len++] = 0x80 | (cp & 0x3f);
    } else if (cp < 0x10000) {
      s[len++] = 0xe0 | (cp >> 12);
      s[len++] = 0x80 | ((cp >> 6) & 0x3f);
      s[len++] = 0x80 | (cp & 0x3f);
    } else {
      s[len++] = 0xf0 | (cp >> 18);
      s[len++] = 0x80 | ((cp >> 12) & 0x3f);
      s[len++] = 0x80 | ((cp >> 6) & 0x3f);
      s[len++] = 0x80 | (cp & 0x3f);
    }
    this.sLen = len;
    this.capEnd = len;
  }

  // ---------------------------------------------------------------- comments, CDATA, PIs, declarations

  protected bang(buf: Uint8Array, i: number): number {
    const b = buf[i]!;
    if (b === 0x2d) this.state = S_BANG_DASH;
    else if (b === 0x5b) {
      this.cdataK = 0;
      this.state = S_CDATA_OPEN;
    } else if (b === 0x44) {
      this.fail('DOCTYPE declarations are not allowed (no entity expansion, no external entities)');
    } else if (b === 0x45) this.fail('ENTITY declarations are not allowed (no entity expansion)');
    else this.fail('markup declarations (<!...>) are not allowed');
    return i + 1;
  }

  protected comment(buf: Uint8Array, i: number, n: number): number {
    for (; i < n; i++) {
      const b = buf[i]!;
      if (this.state === S_COMMENT_D2) {
        if (b !== 0x3e) this.fail(`${NOT_WF}'--' is not allowed inside a comment`);
        this.state = S_TEXT;
        return i + 1;
      }
      if (b === 0x2d) {
        this.state = this.state === S_COMMENT ? S_COMMENT_D1 : S_COMMENT_D2;
        continue;
      }
      this.state = S_COMMENT;
      const k = TEXT_CLASS[b]!;
      if (k === K_LF || k === K_CR) this.lineBreak(buf, i);
      else if (k === K_BAD) this.badChar(b);
    }
    return n;
  }

  protected cdata(buf: Uint8Array, i: number, n: number): number {
    while (i < n) {
      const b = buf[i]!;
      if (this.state === S_CDATA_B1) {
        if (b === 0x5d) {
          this.state = S_CDATA_B2;
          i++;
        } else {
          this.cdataBracket();
          this.state = S_CDATA;
        }
        continue;
      }
      if (this.state === S_CDATA_B2) {
        if (b === 0x3e) {
          this.state = S_TEXT;
          return i + 1;
        }
        this.cdataBracket();
        if (b === 0x5d) i++;
        else {
          this.cdataBracket();
          this.state = S_CDATA;
        }
        continue;
      }
      let end = buf.indexOf(0x5d, i);
      if (end < 0) end = n;
      if (!this.textCapture) i = this.skipCdata(buf, i, end);
      else while (i < end) i = this.captureCdata(buf, i, Math.min(end, i + SLICE));
      if (end < n) {
        this.state = S_CDATA_B1;
        i = end + 1;
      }
    }
    return n;
  }

  /** A ']' that turned out not to end the CDATA section. */
  private cdataBracket(): void {
    if (!this.textCapture) return;
    this.ensureScratch(1);
    this.scratch[this.sLen++] = 0x5d;
    this.capEnd = this.sLen;
  }

  private skipCdata(buf: Uint8Array, i: number, end: number): number {
    for (; i < end; i++) {
      const k = TEXT_CLASS[buf[i]!]!;
      if (k === K_LF || k === K_CR) this.lineBreak(buf, i);
      else if (k === K_BAD) this.badChar(buf[i]!);
    }
    return i;
  }

  /** CDATA content of a field: taken literally (no references), JSON-escaped, whitespace trimmed. */
  private captureCdata(buf: Uint8Array, i: number, end: number): number {
    this.ensureScratch(2 * (end - i));
    const s = this.scratch;
    const start = this.capStart;
    let len = this.sLen;
    let capEnd = this.capEnd;
    for (; i < end; i++) {
      const b = buf[i]!;
      const k = TEXT_CLASS[b]!;
      if (k === K_PLAIN || k >= K_AMP) {
        if (k === K_BAD) {
          this.sLen = len;
          this.badChar(b);
        }
        s[len++] = b;
        capEnd = len;
      } else if (k === K_ESC) {
        s[len++] = 0x5c;
        s[len++] = b;
        capEnd = len;
      } else {
        // whitespace: dropped at the start, kept (escaped) inside, trimmed at the end via capEnd
        if (k >= K_CR) {
          this.lineBreak(buf, i);
          if (k === K_LF && this.prevByte(buf, i) === 0x0d) continue;
        }
        if (len === start) continue;
        if (k === K_SPACE) s[len++] = 0x20;
        else {
          s[len++] = 0x5c;
          s[len++] = k === K_TAB ? 0x74 : 0x6e;
        }
      }
    }
    this.sLen = len;
    this.capEnd = capEnd;
    return i;
  }

  protected pi(buf: Uint8Array, i: number, n: number): number {
    for (; i < n; i++) {
      const b = buf[i]!;
      const k = TEXT_CLASS[b]!;
      if (this.state === S_PI_TARGET) {
        if (NAME_CLASS[b] !== 0 && (this.piTarget.length > 0 || NAME_CLASS[b] === 1)) {
          if (this.piTarget.length >= MAX_NAME) this.fail(`${NOT_WF}processing instruction target too long`);
          this.piTarget += String.fromCharCode(b);
          continue;
        }
        if (this.piTarget.length === 0 || (b !== 0x3f && (k < K_SPACE || k > K_LF))) {
          this.fail(`${NOT_WF}malformed processing instruction`);
        }
        this.startPi();
        this.state = S_PI;
      }
      if (this.state === S_PI_Q) {
        if (b === 0x3e) {
          if (this.piXml) this.checkXmlDeclaration();
          this.state = S_TEXT;
          return i + 1;
        }
        if (this.piXml && this.piText.length < 1024) this.piText += '?';
        if (b === 0x3f) continue;
        this.state = S_PI;
      }
      if (b === 0x3f) {
        this.state = S_PI_Q;
        continue;
      }
      if (k === K_LF || k === K_CR) this.lineBreak(buf, i);
      else if (k === K_BAD) this.badChar(b);
      if (this.piXml && this.piText.length < 1024) this.piText += String.fromCharCode(b);
    }
    return n;
  }

  private startPi(): void {
    if (/[\x80-\xff]/.test(this.piTarget)) {
      const bytes = Buffer.from(this.piTarget, 'latin1');
      if (!isXmlName(bytes, 0, bytes.length)) {
        this.fail(`${NOT_WF}'${bytes.toString('utf8')}' is not a valid processing instruction target`);
      }
    }
    const lower = this.piTarget.toLowerCase();
    this.piXml = false;
    if (lower !== 'xml') return;
    if (this.piTarget !== 'xml')
      this.fail(`${NOT_WF}processing instruction target '${this.piTarget}' is reserved`);
    if (!this.piAtStart)
      this.fail(`${NOT_WF}the XML declaration is only allowed at the very start of the file`);
    this.piXml = true;
    this.piText = '';
  }

  private checkXmlDeclaration(): void {
    const m = XML_DECL.exec(this.piText);
    if (!m || this.piText.length >= 1024) this.fail(`${NOT_WF}malformed XML declaration`);
    const encoding = m[1] ?? m[2];
    if (encoding !== undefined && !/^(utf-?8|us-ascii|ascii)$/i.test(encoding)) {
      this.fail(`unsupported encoding "${encoding}": only UTF-8 is accepted`);
    }
  }
}
