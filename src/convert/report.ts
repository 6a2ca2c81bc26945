/**
 * Builds the per-file report (docs/report.md). Lists are capped so that a million bad items cannot
 * exhaust memory; the counts stay exact.
 */
import type { ConversionReport, ReportEntry } from './types.js';

/** A report for a file nothing has been read from yet (also what callers can use before converting). */
export function emptyReport(source: string | null = null): ConversionReport {
  return {
    source,
    bytes: 0,
    itemsSeen: 0,
    itemsWritten: 0,
    itemsRejected: 0,
    rejections: [],
    warnings: [],
    warningsTotal: 0,
    error: null,
  };
}

export class ReportBuilder {
  readonly report: ConversionReport;

  constructor(
    source: string | null,
    private readonly maxEntries: number,
  ) {
    this.report = emptyReport(source);
  }

  /** Counts a rejection; `entry` is only built (an id string, a message) while the list has room. */
  reject(entry: () => ReportEntry): void {
    this.report.itemsRejected++;
    if (this.report.rejections.length < this.maxEntries) this.report.rejections.push(entry());
  }

  /** Counts a warning; `entry` is only built while the list has room. */
  warn(entry: () => ReportEntry): void {
    this.report.warningsTotal++;
    if (this.report.warnings.length < this.maxEntries) this.report.warnings.push(entry());
  }

  /** A copy that later mutation (there is none after settling, but callers may hold it long) cannot change. */
  snapshot(): ConversionReport {
    const r = this.report;
    return { ...r, rejections: [...r.rejections], warnings: [...r.warnings] };
  }
}
