import pg from 'pg';
import type { Logger } from '../../log.js';
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
  FILE_STATES,
  type FileOutcome,
  type FilePage,
  type FileState,
  type Ledger,
  type LedgerNotice,
  type ListFilesQuery,
  normalizeEtag,
  type ObjectVersion,
  type ScanProgress,
} from '../types.js';
import { briefError } from './brief-error.js';
import { CREATE_MIGRATIONS_TABLE, MIGRATIONS } from './migrations.js';
import { compileNamed, valuesFor } from './named.js';
import { listenForNotices, NOTICE_CHANNEL } from './notices.js';
import * as SQL from './statements.js';

/** Versions per INSERT: a scan page is at most 1,000 keys; larger batches are split. */
const INSERT_BATCH = 1000;

export interface PostgresLedgerOptions {
  /** postgres://user:password@host:port/db?sslmode=… (TLS as libpq's sslmode; see docs/deployment.md). */
  url: string;
  /** Connections this process opens at most (the pool's bound). */
  poolSize: number;
  logger?: Logger;
}

/**
 * Integers and JSON as SQLite gives them: BIGINT (ids, ms times, sizes) as numbers, since every value
 * the ledger stores is far below 2^53; jsonb as its text, which the shared row mapping parses.
 * Set on this pool only, never on pg's global type table.
 */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === pg.types.builtins.INT8) return (value: string) => Number(value);
    if (oid === pg.types.builtins.JSONB) return (value: string) => value;
    return pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * Runs a statement again when PostgreSQL chose it as a deadlock's victim (SQLSTATE 40P01): the
 * statement was rolled back whole, so running it again is safe. Versions of one key arriving in
 * different orders through two instances at once are the only way in; key order rules out the rest.
 */
async function retryOnDeadlock<T>(statement: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await statement();
    } catch (err) {
      if ((err as { code?: unknown }).code !== '40P01' || attempt >= attempts) throw err;
    }
  }
}

/**
 * The shared ledger for many instances: PostgreSQL through a bounded node-postgres pool. Same
 * contract and same statements (in PostgreSQL's dialect, ./statements.ts) as the SQLite ledger;
 * claims use FOR UPDATE SKIP LOCKED so instances never wait on each other's rows.
 */
export function openPostgresLedger(options: PostgresLedgerOptions): Ledger {
  const connection: pg.ClientConfig = {
    connectionString: options.url,
    keepAlive: true,
    connectionTimeoutMillis: 10_000,
  };
  const notices = listenForNotices(connection, options.logger);
  const pool = new pg.Pool({
    ...connection,
    max: options.poolSize,
    application_name: 'file-transformer',
    idleTimeoutMillis: 30_000,
    // Every ledger statement is short; one that hangs (a lock, a failing-over server) is an error
    // the caller retries, not a worker stuck forever.
    statement_timeout: 30_000,
    query_timeout: 35_000,
    types: TYPES,
  });
  // An idle connection that dies (server restart, failover) is reported here; without a listener it
  // would crash the process. The pool drops it and opens a new one on the next query.
  pool.on('error', (err) =>
    options.logger?.warn({ err: briefError(err) }, 'ledger connection lost; reconnecting on next use'),
  );

  async function run<R extends pg.QueryResultRow>(
    sql: string,
    params: Record<string, unknown> = {},
    client: pg.Pool | pg.PoolClient = pool,
  ): Promise<pg.QueryResult<R>> {
    const statement = compileNamed(sql);
    return client.query<R>(statement.text, valuesFor(statement, params));
  }
  const rowsOf = async <R extends pg.QueryResultRow>(sql: string, params?: Record<string, unknown>) =>
    (await run<R>(sql, params)).rows;
  /** Tells every instance listening (itself included) that something changed; delivered on commit. */
  const notify = async (notice: LedgerNotice) => {
    await run(SQL.NOTIFY, { channel: NOTICE_CHANNEL, notice });
  };
  const changes = async (sql: string, params: Record<string, unknown>) =>
    (await run(sql, params)).rowCount ?? 0;

  const ledger: Ledger = {
    async migrate() {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        // Several instances starting at once on an empty database: one migrates, the others wait
        // here and then find everything applied.
        await client.query(SQL.LOCK_MIGRATIONS);
        await client.query(CREATE_MIGRATIONS_TABLE);
        const applied = (await run<{ id: number }>(SQL.SELECT_APPLIED_MIGRATIONS, {}, client)).rows.map(
          (r) => r.id,
        );
        for (const m of pendingMigrations(applied, MIGRATIONS)) {
          await client.query(m.sql);
          await run(SQL.INSERT_MIGRATION, { id: m.id, name: m.name, now: Date.now() }, client);
          options.logger?.info({ migration: m.id, name: m.name }, 'ledger migrated');
        }
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    async close() {
      await notices.close();
      if (!pool.ended) await pool.end();
    },
    async ping() {
      await pool.query('SELECT 1');
    },

    async recordVersions(versions: ObjectVersion[], discoveredBy, now = Date.now()) {
      let inserted = 0;
      for (let i = 0; i < versions.length; i += INSERT_BATCH) {
        const batch = versions.slice(i, i + INSERT_BATCH);
        const [row] = await retryOnDeadlock(() =>
          rowsOf<{ n: number }>(SQL.INSERT_VERSIONS, {
            buckets: batch.map((v) => v.bucket),
            keys: batch.map((v) => v.key),
            etags: batch.map((v) => normalizeEtag(v.etag)),
            sizes: batch.map((v) => v.size ?? null),
            lastModifieds: batch.map((v) => toMs(v.lastModified)),
            eventTimes: batch.map((v) => toMs(v.eventTime)),
            discoveredBy,
            now,
            channel: NOTICE_CHANNEL,
          }),
        );
        inserted += row?.n ?? 0;
      }
      return inserted;
    },
    async claim(owner, limit, leaseMs, now = Date.now()) {
      if (limit <= 0) return [];
      const rows = await rowsOf<FileRow>(SQL.CLAIM_DUE, { owner, limit, now, leaseUntil: now + leaseMs });
      return rows.map(toFileRecord).sort((a, b) => a.id - b.id);
    },
    async claimVersion(id, owner, leaseMs, now = Date.now()) {
      const [row] = await rowsOf<FileRow>(SQL.CLAIM_VERSION, { id, owner, now, leaseUntil: now + leaseMs });
      return row ? toFileRecord(row) : null;
    },
    async renewLease(id, owner, leaseMs, now = Date.now()) {
      return (await changes(SQL.RENEW_LEASE, { id, owner, now, leaseUntil: now + leaseMs })) === 1;
    },
    async finish(id, owner, state, outcome: FileOutcome, now = Date.now()) {
      const [row] = await rowsOf<FileRow>(SQL.FINISH, {
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
      });
      return row ? toFileRecord(row) : null;
    },
    async retryLater(id, owner, failure, nextAttemptAt, now = Date.now()) {
      const { error, errorCode } = failure;
      return (await changes(SQL.RETRY_LATER, { id, owner, error, errorCode, nextAttemptAt, now })) === 1;
    },
    async releaseLeases(owner, ids, now = Date.now()) {
      let released = 0;
      if (ids === undefined) released = await changes(SQL.RELEASE_OWNER_LEASES, { owner, now });
      else for (const id of ids) released += await changes(SQL.RELEASE_LEASE, { owner, id, now });
      // Another instance may be idle: the released files are due now.
      if (released > 0) await notify('work');
      return released;
    },
    async requeue(id, now = Date.now()) {
      if ((await changes(SQL.REQUEUE, { id, now })) > 0) await notify('work');
      return ledger.getFile(id);
    },

    async getFile(id) {
      const [row] = await rowsOf<FileRow>(SQL.SELECT_FILE, { id });
      return row ? toFileRecord(row) : null;
    },
    async getFileVersions(bucket, key) {
      return (await rowsOf<FileRow>(SQL.SELECT_VERSIONS_OF_KEY, { bucket, key })).map(toFileRecord);
    },
    async listFiles(bucket, query: ListFilesQuery): Promise<FilePage> {
      const { limit, cursor } = pageBounds(query.limit, query.cursor);
      const statement = query.order === 'oldest' ? SQL.LIST_FILES_OLDEST : SQL.LIST_FILES;
      const rows = await rowsOf<FileRow>(statement, {
        bucket,
        state: query.state ?? null,
        prefix: query.prefix ? query.prefix : null,
        cursor,
        limit: limit + 1,
      });
      const page = rows.slice(0, limit).map(toFileRecord);
      const last = page[page.length - 1];
      return { files: page, nextCursor: rows.length > limit && last ? String(last.id) : null };
    },
    async countByState() {
      const counts = Object.fromEntries(FILE_STATES.map((s) => [s, 0])) as Record<FileState, number>;
      for (const r of await rowsOf<{ state: FileState; n: number }>(SQL.COUNT_BY_STATE))
        counts[r.state] = r.n;
      return counts;
    },
    async finishedBetween(from, to) {
      return (await rowsOf<FinishedRow>(SQL.SELECT_FINISHED_BETWEEN, { from, to })).map(toFinishedFile);
    },
    async nextDueAt() {
      const [row] = await rowsOf<{ t: number | null }>(SQL.NEXT_DUE_AT);
      return row?.t ?? null;
    },

    async createScan(trigger, owner, now = Date.now()) {
      const [row] = await rowsOf<ScanRow>(SQL.INSERT_SCAN, { trigger, owner, now });
      return toScanRecord(row!);
    },
    async createSlotScan(trigger, owner, slot, now = Date.now()) {
      const [row] = await rowsOf<ScanRow>(SQL.INSERT_SLOT_SCAN, { trigger, owner, slot, now });
      return row ? toScanRecord(row) : null;
    },
    async startScan(id, now = Date.now()) {
      await run(SQL.START_SCAN, { id, now });
    },
    async updateScan(id, progress: ScanProgress, now = Date.now()) {
      await run(SQL.UPDATE_SCAN_PROGRESS, { id, ...progress, now });
    },
    async finishScan(id, progress, error, now = Date.now()) {
      await run(SQL.FINISH_SCAN, { id, ...progress, error, now, status: error === null ? 'done' : 'failed' });
    },
    async getScan(id) {
      const [row] = await rowsOf<ScanRow>(SQL.SELECT_SCAN, { id });
      return row ? toScanRecord(row) : null;
    },
    async listScans(limit) {
      return (await rowsOf<ScanRow>(SQL.LIST_SCANS, { limit })).map(toScanRecord);
    },
    async unfinishedScans() {
      return (await rowsOf<ScanRow>(SQL.SELECT_UNFINISHED_SCANS)).map(toScanRecord);
    },

    async getSetting(name) {
      const [row] = await rowsOf<{ value: string }>(SQL.SELECT_SETTING, { name });
      return row?.value ?? null;
    },
    async setSetting(name, value, now = Date.now()) {
      await run(SQL.UPSERT_SETTING, { name, value, now });
      await notify('settings');
    },

    async heartbeat(instance, now = Date.now()) {
      const { id, host, pid, startedAt, inFlight } = instance;
      await run(SQL.UPSERT_INSTANCE, { id, host, pid, startedAt, inFlight, now });
    },
    async stopInstance(id, now = Date.now()) {
      await run(SQL.STOP_INSTANCE, { id, now });
      await run(SQL.DELETE_INSTANCES_SILENT_SINCE, { before: now - FORGET_INSTANCES_MS });
    },
    async listInstances(since) {
      return (await rowsOf<InstanceRow>(SQL.LIST_INSTANCES, { since })).map(toInstanceRecord);
    },
    subscribe(listener) {
      return notices.subscribe(listener);
    },
  };
  return ledger;
}
