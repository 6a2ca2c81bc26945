import { join } from 'node:path';
import { openSqliteLedger } from './sqlite/sqlite-ledger.js';
import type { Ledger } from './types.js';

export { openSqliteLedger } from './sqlite/sqlite-ledger.js';
export * from './types.js';

/** The ledger file inside DATA_DIR. */
export const LEDGER_FILE = 'ledger.sqlite';

/** Opens (and migrates) the ledger for a data directory. */
export async function openLedger(dataDir: string): Promise<Ledger> {
  const ledger = openSqliteLedger(join(dataDir, LEDGER_FILE));
  await ledger.migrate();
  return ledger;
}
