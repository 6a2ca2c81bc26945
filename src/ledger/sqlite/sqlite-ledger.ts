import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  type FileRow,
  type FinishedRow,
  FORGET_INSTANCES_MS,
  type InstanceRow,
  pageBounds,
  reportJson,
  type ScanRow,
  toFileRecord,
  toFinishedFile,
  toInstanceRecord,
  toMs,
  toScanRecord,
} from '../rows.js';
import { pendingMigrations } from '../schema.js';
import {
  type DiscoveredBy,
  FILE_STATES,
  type FileOutcome,
  type FilePage,
  type FileState,
  type Ledger,
  type ListFilesQuery,
  normalizeEtag,
  type ObjectVersion,
  type ScanProgress,
} from '../types.js';
import { CREATE_MIGRATIONS_TABLE, MIGRATIONS } from './migrations.js';
import * as SQL from './statements.js';

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
      // Read what is applied inside the write transaction: two processes starting on one file at once
      // (serve and scan --once) must not both see migration N missing and both apply it.
      db.transaction(() => {
        const applied = (stmt(SQL.SELECT_APPLIED_MIGRATIONS).all() as { id: number }[]).map((r) => r.id);
        for (const m of pendingMigrations(applied, MIGRATIONS)) {
          db.exec(m.sql);
          stmt(SQL.INSERT_MIGRATION).run({ id: m.id, name: m.name, now: Date.now() });
        }
      }).immediate();
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
    async claimVersion(id, owner, leaseMs, now = Date.now()) {
      const row = stmt(SQL.CLAIM_VERSION).get({ id, owner, now, leaseUntil: now + leaseMs }) as
        | FileRow
        | undefined;
      return row ? toFileRecord(row) : null;
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
        report: reportJson(outcome.report),
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
      const { limit, cursor } = pageBounds(query.limit, query.cursor);
      const statement = query.order === 'oldest' ? SQL.LIST_FILES_OLDEST : SQL.LIST_FILES;
      const rows = stmt(statement).all({
        bucket,
        state: query.state ?? null,
        prefix: query.prefix ? query.prefix : null,
        cursor,
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
      return (stmt(SQL.SELECT_FINISHED_BETWEEN).all({ from, to }) as FinishedRow[]).map(toFinishedFile);
    },
    async nextDueAt() {
      const row = stmt(SQL.NEXT_DUE_AT).get() as { t: number | null } | undefined;
      return row?.t ?? null;
    },

    async createScan(trigger, owner, now = Date.now()) {
      return toScanRecord(stmt(SQL.INSERT_SCAN).get({ trigger, owner, now }) as ScanRow);
    },
    async createSlotScan(trigger, owner, slot, now = Date.now()) {
      const row = stmt(SQL.INSERT_SLOT_SCAN).get({ trigger, owner, slot, now }) as ScanRow | undefined;
      return row ? toScanRecord(row) : null;
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

    async heartbeat(instance, now = Date.now()) {
      const { id, host, pid, startedAt, inFlight } = instance;
      stmt(SQL.UPSERT_INSTANCE).run({ id, host, pid, startedAt, inFlight, now });
    },
    async stopInstance(id, now = Date.now()) {
      stmt(SQL.STOP_INSTANCE).run({ id, now });
      stmt(SQL.DELETE_INSTANCES_SILENT_SINCE).run({ before: now - FORGET_INSTANCES_MS });
    },
    async listInstances(since) {
      return (stmt(SQL.LIST_INSTANCES).all({ since }) as InstanceRow[]).map(toInstanceRecord);
    },
    subscribe() {
      // No channel between processes sharing the file: their workers poll (pollMs) instead.
      return () => {};
    },
  };
  return ledger;
}
