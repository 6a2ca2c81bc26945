/**
 * Every SQL statement the SQLite ledger runs, one named constant each, so the query layer can be read
 * (and ported to PostgreSQL) in one place. Parameters are named (`@name`); times are ms since epoch.
 */

/** Record a version; an existing (bucket, key, etag) is left exactly as it is. */
export const INSERT_VERSION = `
INSERT INTO files (bucket, key, etag, state, next_attempt_at, size, last_modified, discovered_by,
                   discovered_at, updated_at, event_time)
VALUES (@bucket, @key, @etag, 'pending', @now, @size, @lastModified, @discoveredBy, @now, @now, @eventTime)
ON CONFLICT (bucket, key, etag) DO NOTHING`;

/**
 * Claim due work in one statement: pending rows whose backoff has passed, or processing rows whose
 * lease expired (a crashed worker). At most one row per key (the earliest discovered), and never a key
 * that another live lease is converting, so two versions of one key are never written concurrently
 * (an older version finishing last would overwrite the newer output).
 * Rows of our own are never taken back, expired or not: we are still converting them (a pause longer
 * than the lease, on a loaded machine, delays the renewal), and claiming one again would start a second
 * conversion of it beside the first. Another instance may take them over; we notice at the next renewal.
 * PostgreSQL equivalent: the inner SELECT gets FOR UPDATE SKIP LOCKED.
 */
export const CLAIM_DUE = `
UPDATE files
SET state = 'processing', lease_owner = @owner, lease_expires_at = @leaseUntil,
    attempts = attempts + 1, started_at = @now, updated_at = @now,
    lost_leases = lost_leases + (CASE WHEN state = 'processing' THEN 1 ELSE 0 END)
WHERE id IN (
  SELECT f.id FROM files f
  WHERE ((f.state = 'pending' AND f.next_attempt_at <= @now)
      OR (f.state = 'processing' AND f.lease_expires_at <= @now AND f.lease_owner IS NOT @owner))
    AND NOT EXISTS (
      SELECT 1 FROM files o
      WHERE o.bucket = f.bucket AND o.key = f.key AND o.id <> f.id
        AND ((o.state = 'processing' AND (o.lease_expires_at > @now OR o.lease_owner = @owner))
          OR (o.id < f.id AND ((o.state = 'pending' AND o.next_attempt_at <= @now)
                            OR (o.state = 'processing' AND o.lease_expires_at <= @now)))))
  ORDER BY f.next_attempt_at, f.id
  LIMIT @limit
)
RETURNING *`;

/** One given row, if pending (due or not) or its lease expired, and no live lease holds its key. */
export const CLAIM_VERSION = `
UPDATE files
SET state = 'processing', lease_owner = @owner, lease_expires_at = @leaseUntil,
    attempts = attempts + 1, started_at = @now, updated_at = @now
WHERE id = @id
  AND (state = 'pending' OR (state = 'processing' AND lease_expires_at <= @now))
  AND NOT EXISTS (
    SELECT 1 FROM files o
    WHERE o.bucket = files.bucket AND o.key = files.key AND o.id <> files.id
      AND o.state = 'processing' AND o.lease_expires_at > @now)
RETURNING *`;

/** Extend our lease while converting. */
export const RENEW_LEASE = `
UPDATE files SET lease_expires_at = @leaseUntil, updated_at = @now
WHERE id = @id AND state = 'processing' AND lease_owner = @owner`;

/** Final outcome, only if the row is still ours (a lost lease must not overwrite another's result). */
export const FINISH = `
UPDATE files
SET state = @state, lease_owner = NULL, lease_expires_at = NULL, finished_at = @now, updated_at = @now,
    items_written = @itemsWritten, items_rejected = @itemsRejected, bytes = @bytes, error = @error,
    error_code = @errorCode, report = @report, output_key = @outputKey, report_key = @reportKey, forced = 0,
    failing_since = NULL
WHERE id = @id AND state = 'processing' AND lease_owner = @owner
RETURNING *`;

/**
 * Transient failure: back to pending with a backoff; the error is kept for the operator, and the start
 * of this run of failures (the retry window is measured from it).
 */
export const RETRY_LATER = `
UPDATE files
SET state = 'pending', lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = @nextAttemptAt,
    error = @error, error_code = @errorCode, updated_at = @now, failing_since = COALESCE(failing_since, @now)
WHERE id = @id AND state = 'processing' AND lease_owner = @owner`;

/** Graceful stop: our leased rows go back to pending, due now; the interrupted claim is refunded. */
export const RELEASE_OWNER_LEASES = `
UPDATE files
SET state = 'pending', lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = @now,
    attempts = MAX(attempts - 1, 0), updated_at = @now
WHERE state = 'processing' AND lease_owner = @owner`;

export const RELEASE_LEASE = `${RELEASE_OWNER_LEASES} AND id = @id`;

/** Reprocess: convert this version again, bypassing the "target already has it" shortcut. */
export const REQUEUE = `
UPDATE files
SET state = 'pending', attempts = 0, next_attempt_at = @now, forced = 1, error = NULL, error_code = NULL,
    updated_at = @now, failing_since = NULL, lost_leases = 0
WHERE id = @id AND state <> 'processing'`;

export const SELECT_FILE = `SELECT * FROM files WHERE id = @id`;

export const SELECT_VERSIONS_OF_KEY = `
SELECT * FROM files WHERE bucket = @bucket AND key = @key
ORDER BY COALESCE(last_modified, event_time, discovered_at) DESC, id DESC`;

/**
 * A page of the ledger, newest first. Optional filters are written as `@x IS NULL OR ...` so one
 * statement serves every combination; the prefix test is exact (SQLite LIKE ignores case).
 */
const LIST_FILES_FILTER = `
WHERE (@bucket IS NULL OR bucket = @bucket)
  AND (@state IS NULL OR state = @state)
  AND (@prefix IS NULL OR substr(key, 1, length(@prefix)) = @prefix)`;

export const LIST_FILES = `
SELECT * FROM files ${LIST_FILES_FILTER}
  AND (@cursor IS NULL OR id < @cursor)
ORDER BY id DESC
LIMIT @limit`;

/** The same page, oldest first (the console's "oldest first"); the cursor is then the last id seen. */
export const LIST_FILES_OLDEST = `
SELECT * FROM files ${LIST_FILES_FILTER}
  AND (@cursor IS NULL OR id > @cursor)
ORDER BY id ASC
LIMIT @limit`;

export const COUNT_BY_STATE = `SELECT state, COUNT(*) AS n FROM files GROUP BY state`;

/** The activity timeline's rows; served by the files_finished index. */
export const SELECT_FINISHED_BETWEEN = `
SELECT state, finished_at, COALESCE(last_modified, event_time) AS uploaded_at, items_written, items_rejected
FROM files
WHERE finished_at >= @from AND finished_at < @to
ORDER BY finished_at`;

export const NEXT_DUE_AT = `
SELECT MIN(t) AS t FROM (
  SELECT MIN(next_attempt_at) AS t FROM files WHERE state = 'pending'
  UNION ALL
  SELECT MIN(lease_expires_at) AS t FROM files WHERE state = 'processing'
)`;

export const INSERT_SCAN = `
INSERT INTO scans (trigger, status, requested_at, owner, updated_at)
VALUES (@trigger, 'queued', @now, @owner, @now) RETURNING *`;

export const START_SCAN = `UPDATE scans SET status = 'running', started_at = @now, updated_at = @now WHERE id = @id`;

export const UPDATE_SCAN_PROGRESS = `
UPDATE scans SET listed = @listed, matched = @matched, recorded = @recorded, updated_at = @now WHERE id = @id`;

export const FINISH_SCAN = `
UPDATE scans SET status = @status, finished_at = @now, updated_at = @now, listed = @listed, matched = @matched,
                 recorded = @recorded, error = @error
WHERE id = @id`;

export const SELECT_SCAN = `SELECT * FROM scans WHERE id = @id`;

export const LIST_SCANS = `SELECT * FROM scans ORDER BY id DESC LIMIT @limit`;

export const SELECT_UNFINISHED_SCANS = `SELECT * FROM scans WHERE status IN ('queued', 'running') ORDER BY id`;

export const SELECT_SETTING = `SELECT value FROM settings WHERE name = @name`;

export const UPSERT_SETTING = `
INSERT INTO settings (name, value, updated_at) VALUES (@name, @value, @now)
ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`;

export const SELECT_APPLIED_MIGRATIONS = `SELECT id FROM migrations ORDER BY id`;

export const INSERT_MIGRATION = `INSERT INTO migrations (id, name, applied_at) VALUES (@id, @name, @now)`;

/** Statements both dialects run unchanged. */
export * from '../statements.js';
