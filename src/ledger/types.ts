/**
 * The ledger's typed interface: the single source of truth about work. One row per object version
 * (bucket, key, ETag). Implemented for SQLite in ./sqlite/ (the embedded default); the interface is
 * async and free of SQLite types so a PostgreSQL implementation (FOR UPDATE SKIP LOCKED) can be added
 * behind it without touching callers.
 */

import type { DiscoveredBy, ObjectVersion } from '../contracts.js';
import type { ErrorCode } from '../errors.js';

export type { DiscoveredBy, ObjectVersion } from '../contracts.js';
/** The ledger stores ETags bare; the rule is S3's, defined once in s3-format.ts. */
export { normalizeEtag } from '../s3-format.js';

export const FILE_STATES = ['pending', 'processing', 'done', 'failed', 'skipped', 'gone'] as const;
export type FileState = (typeof FILE_STATES)[number];

/** One ledger row. Times are ISO-8601 strings (UTC) or null. */
export interface FileRecord {
  id: number;
  bucket: string;
  key: string;
  /** Bare ETag (no quotes). */
  etag: string;
  state: FileState;
  /** Claims so far (a claim is an attempt, so a file that crashes the process cannot loop forever). */
  attempts: number;
  nextAttemptAt: string | null;
  leaseOwner: string | null;
  leaseExpiresAt: string | null;
  size: number | null;
  lastModified: string | null;
  discoveredBy: DiscoveredBy;
  discoveredAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
  itemsWritten: number | null;
  itemsRejected: number | null;
  /** Input bytes converted (after decompression). */
  bytes: number | null;
  /** Last error message (of a failed file, or of the last transient failure while pending). */
  error: string | null;
  /** Its code (errors.ts ErrorCode: `bad-file`, `object-gone`, `throttled`, ...); null without an error. */
  errorCode: ErrorCode | null;
  /** The converter's report (JSON), when the file was converted or failed as a whole. */
  report: unknown | null;
  /** Target bucket key of the JSON, once written. */
  outputKey: string | null;
  /** Report bucket key, when a report was uploaded (failures and rejections). */
  reportKey: string | null;
  eventTime: string | null;
  /** Reprocess requested: convert even if the target already holds this version's output. */
  forced: boolean;
  /**
   * When the current run of transient failures began (null when the last attempt did not fail that
   * way): retries go on until RETRY_FOR_HOURS after it.
   */
  failingSince: string | null;
  /** Claims of this row after its lease expired (the process converting it died); the crash guard. */
  lostLeases: number;
}

/** A failure as the ledger keeps it: the message and its code. */
export interface FileError {
  error: string;
  errorCode: ErrorCode | null;
}

/** What a worker records when a claimed row reaches a final state. */
export interface FileOutcome {
  itemsWritten?: number | null;
  itemsRejected?: number | null;
  bytes?: number | null;
  error?: string | null;
  errorCode?: ErrorCode | null;
  report?: unknown;
  outputKey?: string | null;
  reportKey?: string | null;
}

export interface ListFilesQuery {
  state?: FileState;
  /** Exact (case-sensitive) key prefix. */
  prefix?: string;
  /** Default 100, at most 1000. */
  limit?: number;
  /** From a previous page's `nextCursor` (of the same order). */
  cursor?: string | null;
  /** By ledger id (discovery order): `newest` first (the default) or `oldest` first. */
  order?: 'newest' | 'oldest';
}

export interface FilePage {
  /** In the query's order (by ledger id). */
  files: FileRecord[];
  nextCursor: string | null;
}

/** A row that reached a final state, as the activity timeline needs it (times in ms since epoch). */
export interface FinishedFile {
  state: FileState;
  finishedAt: number;
  /** When the object was uploaded: its last-modified time, else the S3 event time; null if neither. */
  uploadedAt: number | null;
  itemsWritten: number | null;
  itemsRejected: number | null;
}

export type ScanStatus = 'queued' | 'running' | 'done' | 'failed';
export type ScanTrigger = 'startup' | 'schedule' | 'api' | 'cli';

export interface ScanRecord {
  id: number;
  trigger: ScanTrigger;
  status: ScanStatus;
  requestedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Objects listed so far. */
  listed: number;
  /** Of those, keys that match prefix and suffixes. */
  matched: number;
  /** Of those, versions new to the ledger. */
  recorded: number;
  error: string | null;
  /** The process running it (`host:pid:random`), and when it last progressed. */
  owner: string | null;
  updatedAt: string | null;
  /** The schedule slot of a scheduled scan (one scan per slot across instances), else null. */
  slot: string | null;
}

export interface ScanProgress {
  listed: number;
  matched: number;
  recorded: number;
}

/** `now` parameters (ms since epoch) default to the clock; tests pass them to move time. */
export interface Ledger {
  /** Applies pending numbered migrations. Idempotent. */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** Cheap query proving the store answers (health check). */
  ping(): Promise<void>;

  /**
   * Records versions in one transaction. A version already present changes nothing.
   * @returns how many were new.
   */
  recordVersions(versions: ObjectVersion[], discoveredBy: DiscoveredBy, now?: number): Promise<number>;
  /**
   * Atomically takes up to `limit` rows that are pending and due, or processing with an expired lease,
   * at most one per key, and never a key another live lease is converting; sets them processing,
   * leased to `owner` until now + leaseMs, attempts + 1.
   */
  claim(owner: string, limit: number, leaseMs: number, now?: number): Promise<FileRecord[]>;
  /**
   * Takes one given row, whatever its backoff timer says (a caller whose own retry is the timer: an
   * SQS redelivery to a Lambda function), if it is pending or its lease expired and no live lease
   * converts its key; sets it processing, leased to `owner`, attempts + 1. Null when it is not takeable.
   */
  claimVersion(id: number, owner: string, leaseMs: number, now?: number): Promise<FileRecord | null>;
  /** Extends a lease; false when the row is no longer ours (expired and claimed by someone else). */
  renewLease(id: number, owner: string, leaseMs: number, now?: number): Promise<boolean>;
  /** Final outcome of a claimed row; null when the row is no longer ours (fenced by lease owner). */
  finish(
    id: number,
    owner: string,
    state: Exclude<FileState, 'pending' | 'processing'>,
    outcome: FileOutcome,
    now?: number,
  ): Promise<FileRecord | null>;
  /** Transient failure: back to pending until `nextAttemptAt`, keeping the error. False when no longer ours. */
  retryLater(
    id: number,
    owner: string,
    failure: FileError,
    nextAttemptAt: number,
    now?: number,
  ): Promise<boolean>;
  /** Gives rows back (graceful stop): pending, due now, the interrupted attempt not counted. */
  releaseLeases(owner: string, ids?: number[], now?: number): Promise<number>;
  /**
   * Marks a version to be converted again: pending now, attempts 0, forced. A row being processed is
   * left alone. @returns the row, or null when the ledger has no such id.
   */
  requeue(id: number, now?: number): Promise<FileRecord | null>;

  getFile(id: number): Promise<FileRecord | null>;
  /** All versions of a key, newest first (by last-modified, else event time, else discovery time). */
  getFileVersions(bucket: string, key: string): Promise<FileRecord[]>;
  listFiles(bucket: string | null, query: ListFilesQuery): Promise<FilePage>;
  countByState(): Promise<Record<FileState, number>>;
  /**
   * Rows (any bucket) that finished at or after `from` and before `to`, oldest first: the activity
   * timeline (files and items per hour, failures, upload-to-JSON lag) is computed from these.
   */
  finishedBetween(from: number, to: number): Promise<FinishedFile[]>;
  /** Earliest moment a row becomes claimable (a backoff timer or a lease expiry), or null. */
  nextDueAt(): Promise<number | null>;

  createScan(trigger: ScanTrigger, owner: string, now?: number): Promise<ScanRecord>;
  /**
   * The scan of a schedule slot (a name every instance gives the same scheduled run), created queued
   * unless an instance sharing the ledger already created it: then null, and that instance runs it.
   */
  createSlotScan(trigger: ScanTrigger, owner: string, slot: string, now?: number): Promise<ScanRecord | null>;
  startScan(id: number, now?: number): Promise<void>;
  updateScan(id: number, progress: ScanProgress, now?: number): Promise<void>;
  finishScan(id: number, progress: ScanProgress, error: string | null, now?: number): Promise<void>;
  getScan(id: number): Promise<ScanRecord | null>;
  listScans(limit: number): Promise<ScanRecord[]>;
  /** Scans still queued or running (possibly left so by a process that is gone). */
  unfinishedScans(): Promise<ScanRecord[]>;

  getSetting(name: string): Promise<string | null>;
  setSetting(name: string, value: string, now?: number): Promise<void>;

  /** Records that an instance is alive (and how busy); creates its row on the first beat. */
  heartbeat(instance: InstanceHeartbeat, now?: number): Promise<void>;
  /** Records a graceful stop; rows of instances silent for a week are removed. */
  stopInstance(id: string, now?: number): Promise<void>;
  /** Instances that beat (or stopped) at or after `since`, oldest start first. */
  listInstances(since: number): Promise<InstanceRecord[]>;
  /**
   * Calls `listener` when an instance sharing this ledger recorded or released work (`work`) or
   * changed a setting (`settings`). PostgreSQL: LISTEN/NOTIFY on its own connection, re-established
   * after a loss, with one notice of each kind then (what was missed meanwhile). SQLite has no such
   * channel: processes sharing DATA_DIR see each other's work at the next poll. Returns an unsubscribe.
   */
  subscribe(listener: (notice: LedgerNotice) => void): () => void;
}

/** What instances sharing a ledger tell each other. */
export type LedgerNotice = 'work' | 'settings';

/** One instance's heartbeat. */
export interface InstanceHeartbeat {
  /** The owner of its leases and scans (`host:pid:random`). */
  id: string;
  host: string;
  pid: number;
  /** ms since epoch. */
  startedAt: number;
  /** Files it is converting now. */
  inFlight: number;
}

export interface InstanceRecord {
  id: string;
  host: string;
  pid: number;
  startedAt: string;
  heartbeatAt: string;
  inFlight: number;
  stoppedAt: string | null;
}
