/**
 * Statements that SQLite and PostgreSQL run unchanged (same text, same `@named` parameters); each
 * dialect's statements.ts re-exports them next to its own.
 */

/** A scheduled scan, unless an instance already created the scan of this slot (then no row). */
export const INSERT_SLOT_SCAN = `
INSERT INTO scans (trigger, status, requested_at, owner, updated_at, slot)
VALUES (@trigger, 'queued', @now, @owner, @now, @slot)
ON CONFLICT (slot) DO NOTHING RETURNING *`;

/** An instance's heartbeat; its first one creates the row. */
export const UPSERT_INSTANCE = `
INSERT INTO instances (id, host, pid, started_at, heartbeat_at, in_flight)
VALUES (@id, @host, @pid, @startedAt, @now, @inFlight)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, in_flight = excluded.in_flight`;

export const STOP_INSTANCE = `
UPDATE instances SET stopped_at = @now, heartbeat_at = @now, in_flight = 0 WHERE id = @id`;

export const DELETE_INSTANCES_SILENT_SINCE = `DELETE FROM instances WHERE heartbeat_at < @before`;

export const LIST_INSTANCES = `SELECT * FROM instances WHERE heartbeat_at >= @since ORDER BY started_at, id`;
