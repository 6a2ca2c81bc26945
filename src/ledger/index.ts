import { join } from 'node:path';
import type { Logger } from '../log.js';
import { openPostgresLedger } from './postgres/postgres-ledger.js';
import { openSqliteLedger } from './sqlite/sqlite-ledger.js';
import type { Ledger } from './types.js';

export { openPostgresLedger } from './postgres/postgres-ledger.js';
export { openSqliteLedger } from './sqlite/sqlite-ledger.js';
export * from './types.js';

/** The ledger file inside DATA_DIR. */
export const LEDGER_FILE = 'ledger.sqlite';

export interface LedgerLocation {
  /** SQLite's file lives here when no database URL is given. */
  dataDir: string;
  /** postgres://… : the shared PostgreSQL ledger of many instances. */
  databaseUrl?: string;
  /** PostgreSQL connections at most (default 10). */
  databasePoolSize?: number;
  logger?: Logger;
}

/** Opens (and migrates) the ledger: PostgreSQL when a database URL is set, else SQLite in DATA_DIR. */
export async function openLedger(location: LedgerLocation): Promise<Ledger> {
  const ledger = location.databaseUrl
    ? openPostgresLedger({
        url: location.databaseUrl,
        poolSize: location.databasePoolSize ?? 10,
        logger: location.logger,
      })
    : openSqliteLedger(join(location.dataDir, LEDGER_FILE));
  try {
    await ledger.migrate();
  } catch (err) {
    await ledger.close();
    throw err;
  }
  return ledger;
}
