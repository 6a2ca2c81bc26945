/**
 * PostgreSQL's numbered migrations: the same numbers and columns as ../sqlite/migrations.ts (see
 * ../schema.ts), in PostgreSQL's types. Times stay integers (ms since the epoch, UTC) as in SQLite, so
 * one row mapping (../rows.ts) serves both and tests can move the clock.
 */
import type { Migration } from '../schema.js';

/** Creates the migrations bookkeeping table itself (under the migration lock, idempotent). */
export const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS migrations (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`;

const M001_INITIAL = `
CREATE TABLE files (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  bucket TEXT NOT NULL,
  key TEXT NOT NULL,
  etag TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending'
    CHECK (state IN ('pending', 'processing', 'done', 'failed', 'skipped', 'gone')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  lease_owner TEXT,
  lease_expires_at BIGINT,
  size BIGINT,
  last_modified BIGINT,
  discovered_by TEXT NOT NULL CHECK (discovered_by IN ('scan', 'event', 'api')),
  discovered_at BIGINT NOT NULL,
  started_at BIGINT,
  finished_at BIGINT,
  updated_at BIGINT NOT NULL,
  items_written INTEGER,
  items_rejected INTEGER,
  bytes BIGINT,
  error TEXT,
  report JSONB,
  output_key TEXT,
  report_key TEXT,
  event_time BIGINT,
  forced BOOLEAN NOT NULL DEFAULT false,
  UNIQUE (bucket, key, etag)
);
CREATE INDEX files_due ON files (state, next_attempt_at);
CREATE INDEX files_lease ON files (state, lease_expires_at);
CREATE INDEX files_by_key ON files (bucket, key);

CREATE TABLE scans (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  trigger TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
  requested_at BIGINT NOT NULL,
  started_at BIGINT,
  finished_at BIGINT,
  listed INTEGER NOT NULL DEFAULT 0,
  matched INTEGER NOT NULL DEFAULT 0,
  recorded INTEGER NOT NULL DEFAULT 0,
  error TEXT
);

CREATE TABLE settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
`;

const M002_SCAN_OWNER = `
ALTER TABLE scans ADD COLUMN owner TEXT;
ALTER TABLE scans ADD COLUMN updated_at BIGINT;
`;

const M003_FINISHED_INDEX = `CREATE INDEX files_finished ON files (finished_at);`;

const M004_ERROR_CODE = `
ALTER TABLE files ADD COLUMN error_code TEXT;
`;

/**
 * Many instances: their heartbeats (GET /api/instances), and one scan per schedule slot across them
 * (a unique slot; NULL for every scan that is not scheduled).
 */
const M005_FLEET = `
CREATE TABLE instances (
  id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  started_at BIGINT NOT NULL,
  heartbeat_at BIGINT NOT NULL,
  in_flight INTEGER NOT NULL DEFAULT 0,
  stopped_at BIGINT
);
CREATE INDEX instances_heartbeat ON instances (heartbeat_at);
ALTER TABLE scans ADD COLUMN slot TEXT;
CREATE UNIQUE INDEX scans_slot ON scans (slot);
`;

/** As SQLite's M006: the retry window's start and the crash guard's count. */
const M006_RETRY_WINDOW = `
ALTER TABLE files ADD COLUMN failing_since BIGINT;
ALTER TABLE files ADD COLUMN lost_leases INTEGER NOT NULL DEFAULT 0;
`;

export const MIGRATIONS: readonly Migration[] = [
  { id: 1, name: 'initial: files, scans, settings', sql: M001_INITIAL },
  { id: 2, name: 'scans: owner and progress time', sql: M002_SCAN_OWNER },
  { id: 3, name: 'files: index on finished_at', sql: M003_FINISHED_INDEX },
  { id: 4, name: 'files: error_code', sql: M004_ERROR_CODE },
  { id: 5, name: 'instances; scans: schedule slot', sql: M005_FLEET },
  { id: 6, name: 'files: failing since, lost leases', sql: M006_RETRY_WINDOW },
];
