/**
 * The ledger's row shapes and their mapping to records, shared by both stores: SQLite and PostgreSQL
 * keep the same columns with times as integers (ms since the epoch, UTC), so one mapping serves both
 * and the two cannot drift apart.
 */
import type { ErrorCode } from '../errors.js';
import type {
  DiscoveredBy,
  FileRecord,
  FileState,
  FinishedFile,
  InstanceRecord,
  ScanRecord,
  ScanTrigger,
} from './types.js';

export interface FileRow {
  id: number;
  bucket: string;
  key: string;
  etag: string;
  state: FileState;
  attempts: number;
  next_attempt_at: number | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  size: number | null;
  last_modified: number | null;
  discovered_by: DiscoveredBy;
  discovered_at: number;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
  items_written: number | null;
  items_rejected: number | null;
  bytes: number | null;
  error: string | null;
  error_code: ErrorCode | null;
  /** JSON text (PostgreSQL's jsonb is read as text too). */
  report: string | null;
  output_key: string | null;
  report_key: string | null;
  event_time: number | null;
  /** SQLite has no boolean: 0/1 there, true/false in PostgreSQL. */
  forced: number | boolean;
  failing_since: number | null;
  lost_leases: number;
}

/** SELECT_FINISHED_BETWEEN's columns. */
export interface FinishedRow {
  state: FileState;
  finished_at: number;
  uploaded_at: number | null;
  items_written: number | null;
  items_rejected: number | null;
}

export interface ScanRow {
  id: number;
  trigger: ScanTrigger;
  status: ScanRecord['status'];
  requested_at: number;
  started_at: number | null;
  finished_at: number | null;
  listed: number;
  matched: number;
  recorded: number;
  error: string | null;
  owner: string | null;
  updated_at: number | null;
  slot: string | null;
}

export interface InstanceRow {
  id: string;
  host: string;
  pid: number;
  started_at: number;
  heartbeat_at: number;
  in_flight: number;
  stopped_at: number | null;
}

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function toMs(value: Date | string | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

export function toFileRecord(row: FileRow): FileRecord {
  return {
    id: row.id,
    bucket: row.bucket,
    key: row.key,
    etag: row.etag,
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt: row.state === 'pending' ? iso(row.next_attempt_at) : null,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: iso(row.lease_expires_at),
    size: row.size,
    lastModified: iso(row.last_modified),
    discoveredBy: row.discovered_by,
    discoveredAt: iso(row.discovered_at)!,
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    updatedAt: iso(row.updated_at)!,
    itemsWritten: row.items_written,
    itemsRejected: row.items_rejected,
    bytes: row.bytes,
    error: row.error,
    errorCode: row.error_code,
    report: row.report === null ? null : (JSON.parse(row.report) as unknown),
    outputKey: row.output_key,
    reportKey: row.report_key,
    eventTime: iso(row.event_time),
    forced: row.forced === 1 || row.forced === true,
    failingSince: iso(row.failing_since === null ? null : Number(row.failing_since)),
    lostLeases: Number(row.lost_leases),
  };
}

export function toFinishedFile(row: FinishedRow): FinishedFile {
  return {
    state: row.state,
    finishedAt: row.finished_at,
    uploadedAt: row.uploaded_at,
    itemsWritten: row.items_written,
    itemsRejected: row.items_rejected,
  };
}

export function toScanRecord(row: ScanRow): ScanRecord {
  return {
    id: row.id,
    trigger: row.trigger,
    status: row.status,
    requestedAt: iso(row.requested_at)!,
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    listed: row.listed,
    matched: row.matched,
    recorded: row.recorded,
    error: row.error,
    owner: row.owner,
    updatedAt: iso(row.updated_at),
    slot: row.slot,
  };
}

export function toInstanceRecord(row: InstanceRow): InstanceRecord {
  return {
    id: row.id,
    host: row.host,
    pid: row.pid,
    startedAt: iso(row.started_at)!,
    heartbeatAt: iso(row.heartbeat_at)!,
    inFlight: row.in_flight,
    stoppedAt: iso(row.stopped_at),
  };
}

/** Instances silent for this long are forgotten (their rows deleted). */
export const FORGET_INSTANCES_MS = 7 * 24 * 3_600_000;

/** The report column's value for an outcome (JSON text, or null). */
export const reportJson = (report: unknown): string | null =>
  report === undefined || report === null ? null : JSON.stringify(report);

/** A page size within the API's bounds and the cursor (the last id seen) it continues from. */
export function pageBounds(limit: number | undefined, cursor: string | null | undefined) {
  const bounded = Math.min(Math.max(limit ?? 100, 1), 1000);
  const id = cursor ? Number.parseInt(cursor, 10) : null;
  return { limit: bounded, cursor: id !== null && Number.isFinite(id) ? id : null };
}
