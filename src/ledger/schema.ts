/**
 * Numbered migrations, shared rules for both stores. SQLite and PostgreSQL keep one numbering (the
 * same id adds the same columns in both dialects), so "schema N" means the same thing everywhere.
 * Never edit a migration that has shipped: add the next number, in both dialects.
 */
import { LedgerSchemaError } from '../errors.js';

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

/**
 * The migrations still to apply, in order. A database that has a migration this code does not know
 * was migrated by a newer release: refuse it rather than run against a schema we cannot read.
 */
export function pendingMigrations(applied: readonly number[], known: readonly Migration[]): Migration[] {
  const knownIds = new Set(known.map((m) => m.id));
  const unknown = applied.filter((id) => !knownIds.has(id));
  if (unknown.length > 0) {
    const newest = Math.max(...known.map((m) => m.id), 0);
    throw new LedgerSchemaError(
      `the ledger's schema is at migration ${Math.max(...unknown)}, newer than this release knows (${newest}): ` +
        'run the newer release, or restore the database from before its upgrade',
    );
  }
  const done = new Set(applied);
  return known.filter((m) => !done.has(m.id));
}
