import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { ErrorCode } from '../../errors.js';
import {
  type DiscoveredBy,
  FILE_STATES,
  type FileOutcome,
  type FilePage,
  type FileRecord,
  type FileState,
  type Ledger,
  type ListFilesQuery,
  normalizeEtag,
  type ObjectVersion,
  type ScanProgress,
  type ScanRecord,
  type ScanTrigger,
} from '../types.js';
import { CREATE_MIGRATIONS_TABLE, MIGRATIONS } from './migrations.js';
import * as SQL from './statements.js';

interface FileRow {
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
  report: string | null;
  output_key: string | null;
  report_key: string | null;
  event_time: number | null;
  forced: number;
}

interface FinishedRow {
  state: FileState;
  finished_at: number;
  uploaded_at: number | null;
  items_written: number | null;
  items_rejected: number | null;
}

interface ScanRow {
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
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function toMs(value: Date | string | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

function toFileRecord(row: FileRow): FileRecord {
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
    forced: row.forced === 1,
  };
}

function toScanRecord(row: ScanRow): ScanRecord {
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
  };
}

/**
 * The embedded ledger: one SQLite file (WAL mode, so readers such as the API never block the writer,
 * and several processes, e.g. `serve` and `scan --once`, can share it with a busy timeout).
 * better-sqlite3 is synchronous; every method is short, so the event loop is not held for long.
 */
export function openSqliteLedger(file: string): Ledger {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');

  // Statements are prepared lazily: the tables exist only after migrate().
  const cache = new Map<string, Database.Statement>();
  const stmt = (sql: string): Database.Statement => {
    let s = cache.get(sql);
    if (!s) {
      s = db.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };

  const insertMany = db.transaction((versions: ObjectVersion[], discoveredBy: DiscoveredBy, now: number) => {
    let inserted = 0;
    const insert = stmt(SQL.INSERT_VERSION);
    for (const v of versions) {
      inserted += insert.run({
        bucket: v.bucket,
        key: v.key,
        etag: normalizeEtag(v.etag),
        size: v.size ?? null,
        lastModified: toMs(v.lastModified),
        eventTime: toMs(v.eventTime),
        discoveredBy,
        now,
      }).changes;
    }
    return inserted;
  });

  const ledger: Ledger = {
    async migrate() {
      db.exec(CREATE_MIGRATIONS_TABLE);
      const applied = new Set(
        (db.prepare(SQL.SELECT_APPLIED_MIGRATIONS).all() as { id: number }[]).map((r) => r.id),
      );
      for (const m of MIGRATIONS) {
        if (applied.has(m.id)) continue;
        db.transaction(() => {
          db.exec(m.sql);
          db.prepare(SQL.INSERT_MIGRATION).run({ id: m.id, name: m.name, now: Date.now() });
        }).immediate();
      }
    },
    async close() {
      if (db.open) db.close();
    },
    async ping() {
      db.prepare('SELECT 1').get();
    },

    async recordVersions(versions, discoveredBy, now = Date.now()) {
      if (versions.length === 0) return 0;
      return insertMany.immediate(versions, discoveredBy, now);
    },
    async claim(owner, limit, leaseMs, now = Date.now()) {
      if (limit <= 0) return [];
      const rows = stmt(SQL.CLAIM_DUE).all({ owner, limit, now, leaseUntil: now + leaseMs }) as FileRow[];
      return rows.map(toFileRecord).sort((a, b) => a.id - b.id);
    },
    async renewLease(id, owner, leaseMs, now = Date.now()) {
      return stmt(SQL.RENEW_LEASE).run({ id, owner, now, leaseUntil: now + leaseMs }).changes === 1;
    },
    async finish(id, owner, state, outcome: FileOutcome, now = Date.now()) {
      const row = stmt(SQL.FINISH).get({
        id,
        owner,
        state,
        now,
        itemsWritten: outcome.itemsWritten ?? null,
        itemsRejected: outcome.itemsRejected ?? null,
        bytes: outcome.bytes ?? null,
        error: outcome.error ?? null,
        errorCode: outcome.errorCode ?? null,
        report:
          outcome.report === undefined || outcome.report === null ? null : JSON.stringify(outcome.report),
        outputKey: outcome.outputKey ?? null,
        reportKey: outcome.reportKey ?? null,
      }) as FileRow | undefined;
      return row ? toFileRecord(row) : null;
    },
    async retryLater(id, owner, failure, nextAttemptAt, now = Date.now()) {
      const { error, errorCode } = failure;
      return stmt(SQL.RETRY_LATER).run({ id, owner, error, errorCode, nextAttemptAt, now }).changes === 1;
    },
    async releaseLeases(owner, ids, now = Date.now()) {
      if (ids === undefined) return stmt(SQL.RELEASE_OWNER_LEASES).run({ owner, now }).changes;
      let released = 0;
      for (const id of ids) released += stmt(SQL.RELEASE_LEASE).run({ owner, id, now }).changes;
      return released;
    },
    async requeue(id, now = Date.now()) {
      stmt(SQL.REQUEUE).run({ id, now });
      return ledger.getFile(id);
    },

    async getFile(id) {
      const row = stmt(SQL.SELECT_FILE).get({ id }) as FileRow | undefined;
      return row ? toFileRecord(row) : null;
    },
    async getFileVersions(bucket, key) {
      return (stmt(SQL.SELECT_VERSIONS_OF_KEY).all({ bucket, key }) as FileRow[]).map(toFileRecord);
    },
    async listFiles(bucket, query: ListFilesQuery): Promise<FilePage> {
      const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
      const cursor = query.cursor ? Number.parseInt(query.cursor, 10) : null;
      const statement = query.order === 'oldest' ? SQL.LIST_FILES_OLDEST : SQL.LIST_FILES;
      const rows = stmt(statement).all({
        bucket,
        state: query.state ?? null,
        prefix: query.prefix ? query.prefix : null,
        cursor: Number.isFinite(cursor) ? cursor : null,
        limit: limit + 1,
      }) as FileRow[];
      const page = rows.slice(0, limit).map(toFileRecord);
      const last = page[page.length - 1];
      return { files: page, nextCursor: rows.length > limit && last ? String(last.id) : null };
    },
    async countByState() {
      const counts = Object.fromEntries(FILE_STATES.map((s) => [s, 0])) as Record<FileState, number>;
      for (const r of stmt(SQL.COUNT_BY_STATE).all() as { state: FileState; n: number }[])
        counts[r.state] = r.n;
      return counts;
    },
    async finishedBetween(from, to) {
      const rows = stmt(SQL.SELECT_FINISHED_BETWEEN).all({ from, to }) as FinishedRow[];
      return rows.map((r) => ({
        state: r.state,
        finishedAt: r.finished_at,
        uploadedAt: r.uploaded_at,
        itemsWritten: r.items_written,
        itemsRejected: r.items_rejected,
      }));
    },
    async nextDueAt() {
      const row = stmt(SQL.NEXT_DUE_AT).get() as { t: number | null } | undefined;
      return row?.t ?? null;
    },

    async createScan(trigger, owner, now = Date.now()) {
      return toScanRecord(stmt(SQL.INSERT_SCAN).get({ trigger, owner, now }) as ScanRow);
    },
    async startScan(id, now = Date.now()) {
      stmt(SQL.START_SCAN).run({ id, now });
    },
    async updateScan(id, progress: ScanProgress, now = Date.now()) {
      stmt(SQL.UPDATE_SCAN_PROGRESS).run({ id, ...progress, now });
    },
    async finishScan(id, progress, error, now = Date.now()) {
      stmt(SQL.FINISH_SCAN).run({ id, ...progress, error, now, status: error === null ? 'done' : 'failed' });
    },
    async getScan(id) {
      const row = stmt(SQL.SELECT_SCAN).get({ id }) as ScanRow | undefined;
      return row ? toScanRecord(row) : null;
    },
    async listScans(limit) {
      return (stmt(SQL.LIST_SCANS).all({ limit }) as ScanRow[]).map(toScanRecord);
    },
    async unfinishedScans() {
      return (stmt(SQL.SELECT_UNFINISHED_SCANS).all() as ScanRow[]).map(toScanRecord);
    },

    async getSetting(name) {
      const row = stmt(SQL.SELECT_SETTING).get({ name }) as { value: string } | undefined;
      return row?.value ?? null;
    },
    async setSetting(name, value, now = Date.now()) {
      stmt(SQL.UPSERT_SETTING).run({ name, value, now });
    },
  };
  return ledger;
}
