/**
 * Every SQL statement the PostgreSQL ledger runs: the same names, order and named parameters
 * (`@name`, turned into `$n` by ./named.ts) as ../sqlite/statements.ts, so the two read side by side.
 * Where they differ, the comment says why. Times are ms since epoch (BIGINT).
 */

/**
 * Record a batch of versions in one statement (SQLite runs one INSERT per version in a transaction).
 * Rows go in key order (versions of one key in the caller's order, so ids still follow discovery):
 * two batches overlapping in keys, such as two scans at once, then take the unique index's locks in
 * the same order instead of deadlocking. Returns how many were new, and wakes idle instances
 * (LISTEN file_transformer, notice `work`) when any was: the notification is delivered when the statement commits.
 */
export const INSERT_VERSIONS = `
WITH inserted AS (
  INSERT INTO files (bucket, key, etag, state, next_attempt_at, size, last_modified, discovered_by,
                     discovered_at, updated_at, event_time)
  SELECT v.bucket, v.key, v.etag, 'pending', @now::bigint, v.size, v.last_modified, @discoveredBy::text, @now::bigint,
         @now::bigint, v.event_time
  FROM unnest(@buckets::text[], @keys::text[], @etags::text[], @sizes::bigint[], @lastModifieds::bigint[],
              @eventTimes::bigint[]) WITH ORDINALITY AS v(bucket, key, etag, size, last_modified, event_time, n)
  ORDER BY v.bucket, v.key, v.n
  ON CONFLICT (bucket, key, etag) DO NOTHING
  RETURNING 1
)
SELECT n, CASE WHEN n > 0 THEN pg_notify(@channel, 'work') END AS notified
FROM (SELECT COUNT(*)::int AS n FROM inserted) AS c`;

/**
 * Claim due work in one statement, as in SQLite, with FOR UPDATE SKIP LOCKED on the candidates:
 * instances claiming at the same moment each lock different rows instead of queueing on the same
 * ones. A candidate locked and committed by another instance in between is re-checked by PostgreSQL
 * against the row's new state (now processing, live lease) and dropped.
 */
export const CLAIM_DUE = `
UPDATE files AS f
SET state = 'processing', lease_owner = @owner, lease_expires_at = @leaseUntil,
    attempts = f.attempts + 1, started_at = @now, updated_at = @now,
    lost_leases = f.lost_leases + (CASE WHEN f.state = 'processing' THEN 1 ELSE 0 END)
FROM (
  SELECT c.id FROM files c
  WHERE ((c.state = 'pending' AND c.next_attempt_at <= @now)
      OR (c.state = 'processing' AND c.lease_expires_at <= @now AND c.lease_owner IS DISTINCT FROM @owner))
    AND NOT EXISTS (
      SELECT 1 FROM files o
      WHERE o.bucket = c.bucket AND o.key = c.key AND o.id <> c.id
        AND ((o.state = 'processing' AND (o.lease_expires_at > @now OR o.lease_owner = @owner))
          OR (o.id < c.id AND ((o.state = 'pending' AND o.next_attempt_at <= @now)
                            OR (o.state = 'processing' AND o.lease_expires_at <= @now)))))
  ORDER BY c.next_attempt_at, c.id
  LIMIT @limit
  FOR UPDATE OF c SKIP LOCKED
) AS picked
WHERE f.id = picked.id
RETURNING f.*`;

/** One given row, if pending (due or not) or its lease expired, and no live lease holds its key. */
export const CLAIM_VERSION = `
UPDATE files AS f
SET state = 'processing', lease_owner = @owner, lease_expires_at = @leaseUntil,
    attempts = f.attempts + 1, started_at = @now, updated_at = @now
WHERE f.id = @id
  AND (f.state = 'pending' OR (f.state = 'processing' AND f.lease_expires_at <= @now))
  AND NOT EXISTS (
    SELECT 1 FROM files o
    WHERE o.bucket = f.bucket AND o.key = f.key AND o.id <> f.id
      AND o.state = 'processing' AND o.lease_expires_at > @now)
RETURNING f.*`;

export const RENEW_LEASE = `
UPDATE files SET lease_expires_at = @leaseUntil, updated_at = @now
WHERE id = @id AND state = 'processing' AND lease_owner = @owner`;

export const FINISH = `
UPDATE files
SET state = @state, lease_owner = NULL, lease_expires_at = NULL, finished_at = @now, updated_at = @now,
    items_written = @itemsWritten, items_rejected = @itemsRejected, bytes = @bytes, error = @error,
    error_code = @errorCode, report = @report::jsonb, output_key = @outputKey, report_key = @reportKey,
    forced = false, failing_since = NULL
WHERE id = @id AND state = 'processing' AND lease_owner = @owner
RETURNING *`;

export const RETRY_LATER = `
UPDATE files
SET state = 'pending', lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = @nextAttemptAt,
    error = @error, error_code = @errorCode, updated_at = @now,
    failing_since = COALESCE(failing_since, @now)
WHERE id = @id AND state = 'processing' AND lease_owner = @owner`;

/** SQLite's MAX(a, b) is GREATEST(a, b) here. */
export const RELEASE_OWNER_LEASES = `
UPDATE files
SET state = 'pending', lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = @now,
    attempts = GREATEST(attempts - 1, 0), updated_at = @now
WHERE state = 'processing' AND lease_owner = @owner`;

export const RELEASE_LEASE = `${RELEASE_OWNER_LEASES} AND id = @id`;

export const REQUEUE = `
UPDATE files
SET state = 'pending', attempts = 0, next_attempt_at = @now, forced = true, error = NULL, error_code = NULL,
    updated_at = @now, failing_since = NULL, lost_leases = 0
WHERE id = @id AND state <> 'processing'`;

export const SELECT_FILE = `SELECT * FROM files WHERE id = @id`;

export const SELECT_VERSIONS_OF_KEY = `
SELECT * FROM files WHERE bucket = @bucket AND key = @key
ORDER BY COALESCE(last_modified, event_time, discovered_at) DESC, id DESC`;

/** Optional filters need a declared type in PostgreSQL (`@x::text IS NULL`). */
const LIST_FILES_FILTER = `
WHERE (@bucket::text IS NULL OR bucket = @bucket::text)
  AND (@state::text IS NULL OR state = @state::text)
  AND (@prefix::text IS NULL OR starts_with(key, @prefix::text))`;

export const LIST_FILES = `
SELECT * FROM files ${LIST_FILES_FILTER}
  AND (@cursor::bigint IS NULL OR id < @cursor::bigint)
ORDER BY id DESC
LIMIT @limit`;

export const LIST_FILES_OLDEST = `
SELECT * FROM files ${LIST_FILES_FILTER}
  AND (@cursor::bigint IS NULL OR id > @cursor::bigint)
ORDER BY id ASC
LIMIT @limit`;

export const COUNT_BY_STATE = `SELECT state, COUNT(*)::int AS n FROM files GROUP BY state`;

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
) AS due`;

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

/** A notice to every instance listening (./notices.ts), delivered when the transaction commits. */
export const NOTIFY = `SELECT pg_notify(@channel, @notice)`;

/**
 * Serializes migrations across instances starting at once: a transaction-scoped advisory lock, so it
 * is released by COMMIT or ROLLBACK, and by PostgreSQL itself if the instance dies holding it.
 */
export const LOCK_MIGRATIONS = `SELECT pg_advisory_xact_lock(hashtext('file-transformer:migrations'))`;

/** Statements both dialects run unchanged. */
export * from '../statements.js';
