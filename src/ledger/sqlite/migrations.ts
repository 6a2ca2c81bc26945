/**
 * SQLite's numbered migrations, applied in order and recorded in the `migrations` table; the same
 * numbers as ../postgres/migrations.ts (see ../schema.ts). Times are integers (ms since the epoch, UTC).
 */
import type { Migration } from '../schema.js';

/** Creates the migrations bookkeeping table itself (run before anything else, idempotent). */
export const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS migrations (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at INTEGER NOT NULL
)`;

const M001_INITIAL = `
CREATE TABLE files (
  id INTEGER PRIMARY KEY,
  bucket TEXT NOT NULL,
  key TEXT NOT NULL,
  etag TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending'
    CHECK (state IN ('pending', 'processing', 'done', 'failed', 'skipped', 'gone')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  size INTEGER,
  last_modified INTEGER,
  discovered_by TEXT NOT NULL CHECK (discovered_by IN ('scan', 'event', 'api')),
  discovered_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  updated_at INTEGER NOT NULL,
  items_written INTEGER,
  items_rejected INTEGER,
  bytes INTEGER,
  error TEXT,
  report TEXT,
  output_key TEXT,
  report_key TEXT,
  event_time INTEGER,
  forced INTEGER NOT NULL DEFAULT 0,
  UNIQUE (bucket, key, etag)
);
CREATE INDEX files_due ON files (state, next_attempt_at);
CREATE INDEX files_lease ON files (state, lease_expires_at);
CREATE INDEX files_by_key ON files (bucket, key);

CREATE TABLE scans (
  id INTEGER PRIMARY KEY,
  trigger TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
  requested_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  listed INTEGER NOT NULL DEFAULT 0,
  matched INTEGER NOT NULL DEFAULT 0,
  recorded INTEGER NOT NULL DEFAULT 0,
  error TEXT
);

CREATE TABLE settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
`;

/**
 * Scans record which process runs them and when they last progressed, so a starting instance marks
 * only scans whose process is gone as interrupted (not a running scan of another instance).
 */
const M002_SCAN_OWNER = `
ALTER TABLE scans ADD COLUMN owner TEXT;
ALTER TABLE scans ADD COLUMN updated_at INTEGER;
`;

/** The console's 24-hour timeline reads rows by when they finished. */
const M003_FINISHED_INDEX = `CREATE INDEX files_finished ON files (finished_at);`;

/** The error's code (errors.ts ErrorCode) next to its message, for the API, metrics and queries. */
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
  started_at INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL,
  in_flight INTEGER NOT NULL DEFAULT 0,
  stopped_at INTEGER
);
CREATE INDEX instances_heartbeat ON instances (heartbeat_at);
ALTER TABLE scans ADD COLUMN slot TEXT;
CREATE UNIQUE INDEX scans_slot ON scans (slot);
`;

/**
 * Transient failures are retried for a span of time, not a count (an outage of an hour must not fail
 * files for good): `failing_since` is when the current run of failures began. The crash guard counts
 * only claims of rows whose lease expired (`lost_leases`: the process died while converting).
 */
const M006_RETRY_WINDOW = `
ALTER TABLE files ADD COLUMN failing_since INTEGER;
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
