/**
 * The XML reader's tokenizer states and the constants its two layers share (./markup.ts reads
 * references, comments, CDATA and processing instructions; ./parser.ts reads text, tags and the
 * catalogue structure).
 */
import { ascii } from './bytes.js';

/** Longest element or attribute name accepted. */
export const MAX_NAME = 4096;
/** Captured values are copied in slices of at most this many bytes, so scratch grows with the value only. */
export const SLICE = 1 << 20;

// Tokenizer states.
export const S_TEXT = 0;
export const S_REF = 1;
export const S_LT = 2;
export const S_START_NAME = 3;
export const S_TAG = 4;
export const S_ATTR_NAME = 5;
export const S_ATTR_EQ = 6;
export const S_ATTR_QUOTE = 7;
export const S_ATTR_VAL = 8;
export const S_EMPTY_GT = 9;
export const S_END_NAME = 10;
export const S_END_WS = 11;
export const S_BANG = 12;
export const S_BANG_DASH = 13;
export const S_COMMENT = 14;
export const S_COMMENT_D1 = 15;
export const S_COMMENT_D2 = 16;
export const S_CDATA_OPEN = 17;
export const S_CDATA = 18;
export const S_CDATA_B1 = 19;
export const S_CDATA_B2 = 20;
export const S_PI_TARGET = 21;
export const S_PI = 22;
export const S_PI_Q = 23;
/** An end tag (or '/>') was read: close the element. Consumes no input; keeps closeElement in one place. */
export const S_CLOSE = 24;

export const STATE_NAMES = [
  'text',
  'a character or entity reference',
  'a tag',
  'an element name',
  'a start tag',
  'an attribute name',
  'a start tag',
  'a start tag',
  'an attribute value',
  'a start tag',
  'an end tag',
  'an end tag',
  'a markup declaration',
  'a comment',
  'a comment',
  'a comment',
  'a comment',
  'a CDATA section',
  'a CDATA section',
  'a CDATA section',
  'a CDATA section',
  'a processing instruction',
  'a processing instruction',
  'a processing instruction',
  'an end tag',
];

// How a reference's character is used: ignored, text, attribute (normalised), URL (whitespace dropped).
export const M_NONE = 0;
export const M_TEXT = 1;
export const M_ATTR = 2;
export const M_URL = 3;

export const CDATA_OPEN = ascii('CDATA[');

export const NOT_WF = 'not well-formed XML: ';
