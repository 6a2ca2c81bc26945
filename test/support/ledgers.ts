/**
 * The two ledger stores for tests that run on both: SQLite in the data directory (the embedded
 * default) and PostgreSQL (a fresh database per test on the run's server, see postgres-global-setup).
 * `describe.each(LEDGER_KINDS)` runs a suite on each; `ledgerStore(kind)` gives the environment a
 * service needs for it and removes the database afterwards.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { inject } from 'vitest';
import { LEDGER_FILE, type Ledger, type LedgerLocation, openLedger } from '../../src/ledger/index.js';
import { createDatabase } from './postgres-server.js';

export const LEDGER_KINDS = ['sqlite', 'postgres'] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

export interface TestLedgerStore {
  kind: LedgerKind;
  /** Extra service environment (DATABASE_URL for PostgreSQL, nothing for SQLite). */
  env: Record<string, string>;
  databaseUrl?: string;
  /** Opens (and migrates) a ledger on this store. */
  open(dataDir: string): Promise<Ledger>;
  /** Drops the PostgreSQL database (a no-op for SQLite, whose file goes with its data dir). */
  dispose(): Promise<void>;
}

export async function ledgerStore(kind: LedgerKind): Promise<TestLedgerStore> {
  if (kind === 'sqlite') {
    return { kind, env: {}, open: (dataDir) => openLedger({ dataDir }), dispose: async () => {} };
  }
  const database = await createDatabase(inject('postgresUrl'));
  const location = (dataDir: string): LedgerLocation => ({
    dataDir,
    databaseUrl: database.url,
    databasePoolSize: 4,
  });
  return {
    kind,
    env: { DATABASE_URL: database.url },
    databaseUrl: database.url,
    open: (dataDir) => openLedger(location(dataDir)),
    dispose: () => database.drop(),
  };
}

/**
 * Runs one SQL statement directly on the store, bypassing the Ledger (to look at bookkeeping the
 * interface does not expose, or to play a newer release). Returns the rows.
 */
export async function rawQuery(
  store: TestLedgerStore,
  dataDir: string,
  sql: string,
): Promise<Record<string, unknown>[]> {
  if (store.kind === 'sqlite') {
    const db = new Database(join(dataDir, LEDGER_FILE));
    try {
      const statement = db.prepare(sql);
      if (statement.reader) return statement.all() as Record<string, unknown>[];
      statement.run();
      return [];
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: store.databaseUrl });
  await client.connect();
  try {
    return (await client.query(sql)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}
