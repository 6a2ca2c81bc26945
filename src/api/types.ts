/**
 * What the HTTP API needs from the service, and nothing more. The API codes against this type, not
 * against the Service class, so it can be read (and tested) on its own; `Service` satisfies it
 * structurally (checked by a type assertion in server.ts).
 */
import type { Registry } from 'prom-client';

import type { FileState } from '../ledger/types.js';

export { FILE_STATES, type FileState } from '../ledger/types.js';

/** How often the scan runs: every N hours, or on a cron expression. */
export type ScheduleSetting = { intervalHours: number } | { cron: string };

/** One dependency the readiness probe checks; `check` rejects (or resolves false) when it is down. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<unknown>;
}

export interface ListFilesQuery {
  status?: FileState;
  prefix?: string;
  limit?: number;
  cursor?: string;
}

/** The facade the API talks to. Return values are plain JSON-able objects. */
export interface ServiceApi {
  requestScan(): Promise<{ id: string }> | { id: string };
  getScan(id: string): Promise<object | null | undefined> | object | null | undefined;
  listFiles(
    query: ListFilesQuery,
  ):
    | Promise<{ files: readonly object[]; nextCursor: string | null }>
    | { files: readonly object[]; nextCursor: string | null };
  getFileVersions(key: string): Promise<readonly object[]> | readonly object[];
  /** Queues the latest version of `key` again; null/undefined/false when the key is unknown. */
  reprocess(key: string): Promise<unknown> | unknown;
  getSchedule(): Promise<object> | object;
  setSchedule(setting: ScheduleSetting): Promise<object | undefined> | object | undefined;
  /** Ledger rows by state (GET /api/stats, the dashboard). */
  readonly ledger: { countByState(): Promise<Record<FileState, number>> };
  /** The registry rendered at GET /metrics. */
  readonly metrics: { readonly registry: Registry };
  /** Called before each scrape so gauges that mirror the ledger are current. */
  refreshMetrics?(): Promise<void> | void;
  /** Readiness checks of the service's own dependencies (ledger, buckets); plugins may add more. */
  readinessChecks(): readonly ReadinessCheck[];
}
