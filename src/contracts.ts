/**
 * The vocabulary the layers share: types that more than one layer speaks, defined once here so no
 * layer has to import another sideways or upwards to name them. Types only (no behaviour), and no
 * imports: everything may depend on this module, and it depends on nothing.
 */

/** Which part of discovery found an object version (the ledger records it). */
export type DiscoveredBy = 'scan' | 'event' | 'api';

/** An object version as discovery finds it. `etag` may be quoted (S3 listings) or bare (events). */
export interface ObjectVersion {
  bucket: string;
  key: string;
  etag: string;
  size?: number | null;
  lastModified?: Date | string | null;
  /** When the S3 event says the object was created (events only; used for lag metrics). */
  eventTime?: Date | string | null;
}

/**
 * Where discovered versions go (the ledger, plus waking the workers). Resolves once the versions are
 * durably recorded, so an SQS message or a webhook may be acknowledged after it; returns how many were new.
 */
export interface VersionSink {
  recordVersions(versions: ObjectVersion[], discoveredBy: DiscoveredBy): Promise<number> | number;
}

/** One dependency the readiness probe checks; `check` rejects (or resolves false) when it is down. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<unknown>;
}

/** How often the safety-net scan runs: every N hours, or on a cron expression. */
export type Schedule = { intervalHours: number } | { cron: string };
