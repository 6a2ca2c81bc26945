/**
 * What the HTTP API needs from the service, and nothing more. The API codes against this type, not
 * against the app's `Service` facade, so it can be read (and tested) on its own; the facade is
 * declared to satisfy it (src/app/service.ts: `interface Service extends ServiceApi`), so the compiler
 * checks the two stay in step.
 */
import type { Readable } from 'node:stream';
import type { Registry } from 'prom-client';
import type { ReadinessCheck, Schedule } from '../contracts.js';
import type { FileState, FinishedFile } from '../ledger/types.js';

export { FILE_STATES, type FileState } from '../ledger/types.js';

/** GET /api/files' query string (`status` on the wire; the ledger's own query calls it `state`). */
export interface FileListParams {
  status?: FileState;
  prefix?: string;
  limit?: number;
  cursor?: string;
  /** Newest first (the default) or oldest first, by discovery (ledger id). */
  order?: 'newest' | 'oldest';
}

export type ArtifactBucket = 'target' | 'report';

export interface Artifact {
  body: Readable;
  contentLength: number | null;
  /** User metadata of the object (the worker writes `source-etag`: which version it came from). */
  metadata: Record<string, string>;
}

/** The facade the API talks to. Return values are plain JSON-able objects. */
export interface ServiceApi {
  requestScan(): Promise<{ id: string }> | { id: string };
  getScan(id: string): Promise<object | null | undefined> | object | null | undefined;
  listFiles(
    query: FileListParams,
  ):
    | Promise<{ files: readonly object[]; nextCursor: string | null }>
    | { files: readonly object[]; nextCursor: string | null };
  getFileVersions(key: string): Promise<readonly object[]> | readonly object[];
  /** Queues the latest version of `key` again; null/undefined/false when the key is unknown. */
  reprocess(key: string): Promise<unknown> | unknown;
  getSchedule(): Promise<object> | object;
  /** The instances sharing the ledger (GET /api/instances). */
  listInstances(): Promise<readonly object[]> | readonly object[];
  setSchedule(setting: Schedule): Promise<object | undefined> | object | undefined;
  /** The most recent scans, newest first (GET /api/scans, the console's overview). */
  listScans(limit: number): Promise<readonly object[]> | readonly object[];
  /**
   * Streams an object the service wrote: the JSON output (target bucket) or a report (report bucket),
   * so the console downloads them through the API; null when the object does not exist.
   */
  openArtifact(where: ArtifactBucket, key: string): Promise<Artifact | null>;
  /** Ledger rows by state (GET /api/stats) and finished rows by time (GET /api/stats/timeline). */
  readonly ledger: {
    countByState(): Promise<Record<FileState, number>>;
    finishedBetween(from: number, to: number): Promise<FinishedFile[]>;
  };
  /** The registry rendered at GET /metrics. */
  readonly metrics: { readonly registry: Registry };
  /** Called before each scrape so gauges that mirror the ledger are current. */
  refreshMetrics?(): Promise<void> | void;
  /** Readiness checks of the service's own dependencies (ledger, buckets); plugins may add more. */
  readinessChecks(): readonly ReadinessCheck[];
}
