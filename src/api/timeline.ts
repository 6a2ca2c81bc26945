/**
 * The activity timeline behind the console's charts: per hour, files and items converted, failures
 * and the upload → JSON lag (p50/p95), computed from the ledger's finished rows so it survives
 * restarts and covers every instance sharing the ledger.
 */
import type { FinishedFile } from '../ledger/types.js';

const HOUR_MS = 3_600_000;

export interface TimelineHour {
  /** Start of the hour (ISO-8601, UTC). */
  hour: string;
  /** Files converted (state done). */
  files: number;
  /** Items written to JSON by those files. */
  items: number;
  /** Items rejected by those files (listed in their reports). */
  rejected: number;
  /** Files that failed as a whole. */
  failures: number;
  /** Upload → JSON written, median and 95th percentile, ms; null when no converted file had an upload time. */
  lagP50Ms: number | null;
  lagP95Ms: number | null;
}

export interface Timeline {
  from: string;
  to: string;
  hours: TimelineHour[];
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Hourly buckets from the start of the hour `hours - 1` hours before `now` up to `now`. */
export function timelineWindow(now: number, hours: number): { from: number; to: number } {
  const currentHour = Math.floor(now / HOUR_MS) * HOUR_MS;
  return { from: currentHour - (hours - 1) * HOUR_MS, to: now + 1 };
}

export function buildTimeline(rows: readonly FinishedFile[], from: number, to: number): Timeline {
  const count = Math.max(1, Math.ceil((to - from) / HOUR_MS));
  const buckets = Array.from({ length: count }, () => ({ files: 0, items: 0, rejected: 0, failures: 0 }));
  const lags: number[][] = Array.from({ length: count }, () => []);
  for (const row of rows) {
    const i = Math.floor((row.finishedAt - from) / HOUR_MS);
    const bucket = buckets[i];
    if (!bucket) continue;
    if (row.state === 'done') {
      bucket.files += 1;
      bucket.items += row.itemsWritten ?? 0;
      bucket.rejected += row.itemsRejected ?? 0;
      if (row.uploadedAt !== null) lags[i]!.push(Math.max(0, row.finishedAt - row.uploadedAt));
    } else if (row.state === 'failed') {
      bucket.failures += 1;
    }
  }
  return {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    hours: buckets.map((b, i) => {
      const sorted = lags[i]!.sort((x, y) => x - y);
      return {
        hour: new Date(from + i * HOUR_MS).toISOString(),
        ...b,
        lagP50Ms: percentile(sorted, 50),
        lagP95Ms: percentile(sorted, 95),
      };
    }),
  };
}
