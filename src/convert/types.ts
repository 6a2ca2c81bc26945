/**
 * The converter's public contract (see docs/format.md and docs/report.md).
 * Implemented in ./index.ts; used by the workers, the CLI and the tests.
 */

/**
 * The highest `maxImageType` anyone may configure (CLI flag and MAX_IMAGE_TYPE). Image slots are an
 * array per item; beyond this a single item's JSON could be megabytes of nulls. It lives here, in the
 * dependency-free contract, so configuration can check it without loading the converter.
 */
export const MAX_IMAGE_TYPE_LIMIT = 100_000;

/**
 * The defaults of `maxImageType`, `maxBytes` and `maxItemBytes`, also MAX_IMAGE_TYPE's, MAX_FILE_BYTES'
 * and MAX_ITEM_BYTES' (one place). The item limit is FORMAT.md's "item size limit".
 */
export const DEFAULT_MAX_IMAGE_TYPE = 100;
export const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;
export const DEFAULT_MAX_ITEM_BYTES = 16 * 1024 * 1024;

export interface ConvertOptions {
  /** Shown in the report as `source` (an S3 key or a file path). */
  source?: string;
  /** Any rejected item fails the whole file instead of being left out. Default false. */
  strict?: boolean;
  /** Highest accepted image `type`; also bounds the number of `image_N` slots. Default 100. */
  maxImageType?: number;
  /** Largest accepted (decompressed) input in bytes; larger files fail as a whole. Default 2 GiB. */
  maxBytes?: number;
  /**
   * Largest accepted item: bytes of XML from the `<` of its start tag to the `>` of its end tag. A
   * longer item is rejected (field `item`) and the rest of it is read without being held, so memory is
   * bounded by this limit, not by the input. Default 16 MiB (DEFAULT_MAX_ITEM_BYTES).
   */
  maxItemBytes?: number;
  /**
   * Whether the input is gzip-compressed: true, false, or 'auto' (sniff the gzip magic bytes).
   * Default 'auto'.
   */
  gzip?: boolean | 'auto';
  /**
   * At most this many entries are kept in each of `rejections` and `warnings` (the counts stay exact),
   * so a file where every one of a million items lacks a description cannot fill memory. Default 10,000.
   */
  maxReportEntries?: number;
}

/** One rejected item or one warning, as listed in the report. */
export interface ReportEntry {
  /** 1-based line of the item's start tag (rejections) or of the offending element (warnings). */
  line: number;
  /** The item's id, or null when it has none. */
  id: string | null;
  /** The field at fault, e.g. "id", "images.type", "prices.value", "category". */
  field: string;
  /** Human-readable reason, e.g. "image type 0 is not a whole number from 1 to 100". */
  reason: string;
}

/** The per-file report: a stable JSON shape (docs/report.md). */
export interface ConversionReport {
  source: string | null;
  /** Bytes of input consumed (after decompression). */
  bytes: number;
  itemsSeen: number;
  itemsWritten: number;
  itemsRejected: number;
  /** The first `maxReportEntries` rejections; `itemsRejected` is the exact total. */
  rejections: ReportEntry[];
  /** The first `maxReportEntries` warnings; `warningsTotal` is the exact total. */
  warnings: ReportEntry[];
  warningsTotal: number;
  /** null when the file converted; otherwise why the whole file failed. */
  error: null | { message: string; line: number | null };
}
