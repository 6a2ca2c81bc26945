/**
 * The service facade: what the HTTP API (src/api/, through `ServiceApi`), the CLI and the tests use,
 * over parts that are already started (the composition root, ./index.ts, builds them). No method has
 * to ask whether start-up has happened: a Service exists only once its parts run.
 */
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadBucketCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type ReadinessReport, runReadinessChecks } from '../api/health.js';
import type { FileListParams, ServiceApi } from '../api/types.js';
import { parseCron, parseIntervalHours } from '../config/parse.js';
import type { Config } from '../config/types.js';
import type { DiscoveredBy, ObjectVersion, ReadinessCheck, Schedule } from '../contracts.js';
import type { Scanner } from '../discovery/scanner.js';
import type { ScanScheduler } from '../discovery/schedule.js';
import { ConfigError, ObjectGoneError, toTransformerError } from '../errors.js';
import type { FilePage, FileRecord, Ledger, ScanRecord, ScanTrigger } from '../ledger/types.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { normalizeEtag } from '../s3-format.js';
import type { EmbeddedS3 } from '../storage/embedded-s3.js';
import type { WorkerPool } from '../worker/pool.js';
import { HEARTBEAT_MS } from './fleet.js';

/** A scan as the API shows it (ids are strings on the wire). */
export type ScanInfo = Omit<ScanRecord, 'id'> & { id: string };

export interface ScheduleInfo {
  intervalHours: number | null;
  cron: string | null;
  nextRunAt: string | null;
  /** Where the schedule came from: the environment, or a change persisted through the API. */
  source: 'config' | 'settings';
}

/** An instance of the fleet as the API shows it. */
export interface InstanceInfo {
  id: string;
  host: string;
  pid: number;
  startedAt: string;
  lastHeartbeatAt: string;
  filesInFlight: number;
  /** `silent`: no heartbeat for three intervals (killed, hung or cut off from the ledger). */
  status: 'running' | 'silent' | 'stopped';
  stoppedAt: string | null;
  /** The instance answering. */
  self: boolean;
}

export interface Service extends ServiceApi {
  /** The effective configuration (in embedded mode `s3.endpoint` names the embedded s3rver). */
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly ledger: Ledger;
  readonly s3: S3Client;
  /** The embedded s3rver (its `server` emits `event` for each object change); null unless embedded. */
  readonly embeddedS3: EmbeddedS3 | null;
  /** The catch-up scan requested at start-up. */
  readonly startupScan: ScanInfo;

  /**
   * Stops the whole application: the API, events, claiming and scanning; lets conversions in flight
   * finish within `graceMs` (default 10 s), gives the rest back to the ledger as pending, and closes
   * everything. Idempotent.
   */
  stop(options?: { graceMs?: number }): Promise<void>;

  /** Starts (or joins the queued) scan; returns at once with its id. */
  requestScan(trigger?: ScanTrigger): Promise<ScanInfo>;
  getScan(id: string): Promise<ScanInfo | null>;
  listScans(limit?: number): Promise<ScanInfo[]>;
  /** Resolves when that scan has ended (done or failed). */
  waitForScan(id: string): Promise<ScanInfo | null>;

  /** Ledger rows of the source bucket, newest first; a bad cursor throws RangeError. */
  listFiles(query?: FileListParams): Promise<FilePage>;
  /** Every version of a key, newest first; [] when the key is unknown. */
  getFileVersions(key: string): Promise<FileRecord[]>;
  /**
   * Converts the latest version of `key` again (its current ETag in the bucket: recorded if new, else
   * its row is reset to pending and forced past the "already converted" shortcut). Null when neither
   * the bucket nor the ledger knows the key.
   */
  reprocess(key: string): Promise<FileRecord | null>;

  getSchedule(): Promise<ScheduleInfo>;
  /**
   * Re-reads the schedule persisted in the ledger (any instance sharing it may have changed it) and
   * applies it if it differs. Nothing when this process runs no schedule (`scan --once`).
   */
  reloadSchedule(): Promise<void>;
  /** Every instance sharing the ledger, from their heartbeats (GET /api/instances). */
  listInstances(): Promise<InstanceInfo[]>;
  /** Validates (ConfigError/RangeError on a bad value), persists in the ledger and reschedules. */
  setSchedule(schedule: Schedule): Promise<ScheduleInfo>;

  /**
   * Records discovered versions (idempotent) and wakes the workers if any was new. Resolves once the
   * rows are committed: an SQS message may be deleted after that. @returns how many were new.
   */
  recordVersions(versions: ObjectVersion[], discoveredBy: DiscoveredBy): Promise<number>;
  /** Resolves when no scan of this service is running and nothing is pending (due or in backoff) or processing. */
  drain(): Promise<void>;

  /** Ledger, source bucket, target bucket (and report bucket if separate). */
  readinessChecks(): ReadinessCheck[];
  /** The readiness checks above, run as GET /health/ready runs them. */
  health(): Promise<ReadinessReport>;
  /** Updates gauges that mirror the ledger (call before a scrape). */
  refreshMetrics(): Promise<void>;
  /** Whether `key` is a catalogue by SOURCE_PREFIX/SOURCE_SUFFIXES (the scan's rule; events use it too). */
  matchesKey(key: string): boolean;
}

/** The started parts the facade reads. */
export interface ServiceParts {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  ledger: Ledger;
  s3: S3Client;
  embeddedS3: EmbeddedS3 | null;
  pool: WorkerPool;
  scanner: Scanner;
  scheduler: ScanScheduler;
  scheduleSource: ScheduleInfo['source'];
  startupScan: ScanRecord;
  /** This instance's id (`host:pid:random`): the owner of its leases and scans. */
  owner: string;
  matchesKey: (key: string) => boolean;
  /** Stops everything the composition root started (the app's stop). */
  stop: (options?: { graceMs?: number }) => Promise<void>;
}

/** GET /api/instances shows instances heard from in the last day. */
const INSTANCES_SHOWN_MS = 24 * 3_600_000;
const SILENT_AFTER_BEATS = 3;

/**
 * A schedule from the API or persisted in the ledger, checked as the environment's is (ConfigError
 * naming what is wrong): a hand-edited or older ledger row must not fire every second.
 */
export function validSchedule(value: unknown): Schedule {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (typeof v.cron === 'string' && !('intervalHours' in v)) return { cron: parseCron('cron', v.cron) };
  if (typeof v.intervalHours === 'number' && !('cron' in v)) {
    return { intervalHours: parseIntervalHours('intervalHours', String(v.intervalHours)) };
  }
  throw new ConfigError('schedule', 'expected {"intervalHours": n} or {"cron": "<expression>"}');
}

/** The ledger setting under which a schedule changed through the API is persisted. */
export const SCHEDULE_SETTING = 'schedule';

const toInfo = (r: ScanRecord): ScanInfo => ({ ...r, id: String(r.id) });
/** Scan ids and file cursors (a file id) on the wire: decimal, within Number's exact range. */
const parseId = (id: string): number | null => (/^\d{1,15}$/.test(id) ? Number(id) : null);

export function serviceFacade(parts: ServiceParts): Service {
  const { config, logger, metrics, ledger, s3, pool, scanner, scheduler } = parts;
  let scheduleSource = parts.scheduleSource;

  const scheduleInfo = (): ScheduleInfo => {
    const s = scheduler.schedule ?? config.schedule;
    return {
      intervalHours: 'intervalHours' in s ? s.intervalHours : null,
      cron: 'cron' in s ? s.cron : null,
      nextRunAt: scheduler.nextRunAt()?.toISOString() ?? null,
      source: scheduleSource,
    };
  };

  const service: Service = {
    config,
    logger,
    metrics,
    ledger,
    s3,
    embeddedS3: parts.embeddedS3,
    startupScan: toInfo(parts.startupScan),
    stop: parts.stop,

    async requestScan(trigger = 'api') {
      return toInfo(await scanner.request(trigger));
    },
    async getScan(id) {
      const n = parseId(id);
      const r = n === null ? null : await ledger.getScan(n);
      return r ? toInfo(r) : null;
    },
    async listScans(limit = 20) {
      return (await ledger.listScans(limit)).map(toInfo);
    },
    async waitForScan(id) {
      const n = parseId(id);
      if (n !== null) await scanner.wait(n);
      return service.getScan(id);
    },

    async listFiles(query = {}) {
      if (query.cursor && parseId(query.cursor) === null) {
        throw new RangeError(`invalid cursor ${JSON.stringify(query.cursor)}`);
      }
      return ledger.listFiles(config.sourceBucket, {
        state: query.status,
        prefix: query.prefix,
        limit: query.limit,
        cursor: query.cursor || null,
        order: query.order,
      });
    },
    async getFileVersions(key) {
      return ledger.getFileVersions(config.sourceBucket, key);
    },
    async reprocess(key) {
      let etag: string | null = null;
      try {
        const head = await s3.send(new HeadObjectCommand({ Bucket: config.sourceBucket, Key: key }));
        if (head.ETag) {
          etag = normalizeEtag(head.ETag);
          const version = {
            bucket: config.sourceBucket,
            key,
            etag,
            size: head.ContentLength ?? null,
            lastModified: head.LastModified ?? null,
          };
          await ledger.recordVersions([version], 'api');
        }
      } catch (err) {
        if (!(toTransformerError(err) instanceof ObjectGoneError)) throw err;
      }
      const versions = await ledger.getFileVersions(config.sourceBucket, key);
      const target = etag === null ? versions[0] : versions.find((v) => v.etag === etag);
      if (!target) return null;
      const row = await ledger.requeue(target.id);
      logger.info({ key, fileId: target.id, etag: target.etag }, 'reprocess requested');
      pool.wake();
      return row;
    },

    async openArtifact(where, key) {
      const bucket = where === 'target' ? config.targetBucket : config.reportBucket;
      try {
        const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if (!(res.Body instanceof Readable))
          throw new Error(`GetObject s3://${bucket}/${key}: no body stream`);
        return { body: res.Body, contentLength: res.ContentLength ?? null, metadata: res.Metadata ?? {} };
      } catch (err) {
        if (toTransformerError(err) instanceof ObjectGoneError) return null;
        throw err;
      }
    },

    async getSchedule() {
      return scheduleInfo();
    },
    async reloadSchedule() {
      if (scheduler.schedule === null) return;
      const persisted = await ledger.getSetting(SCHEDULE_SETTING);
      if (persisted === null || persisted === JSON.stringify(scheduler.schedule)) return;
      let schedule: Schedule;
      try {
        schedule = validSchedule(JSON.parse(persisted));
      } catch (err) {
        logger.warn(
          { err, persisted: persisted.slice(0, 200) },
          'the schedule persisted in the ledger is not valid; kept the current one',
        );
        return;
      }
      scheduler.set(schedule);
      scheduleSource = 'settings';
      logger.info({ schedule }, 'scan schedule changed by another instance');
    },
    async listInstances() {
      const now = Date.now();
      return (await ledger.listInstances(now - INSTANCES_SHOWN_MS)).map((i) => ({
        id: i.id,
        host: i.host,
        pid: i.pid,
        startedAt: i.startedAt,
        lastHeartbeatAt: i.heartbeatAt,
        filesInFlight: i.inFlight,
        status: i.stoppedAt
          ? 'stopped'
          : now - Date.parse(i.heartbeatAt) > SILENT_AFTER_BEATS * HEARTBEAT_MS
            ? 'silent'
            : 'running',
        stoppedAt: i.stoppedAt,
        self: i.id === parts.owner,
      }));
    },
    async setSchedule(schedule) {
      const valid = validSchedule(schedule);
      await ledger.setSetting(SCHEDULE_SETTING, JSON.stringify(valid));
      scheduleSource = 'settings';
      scheduler.set(valid);
      logger.info({ schedule: valid }, 'scan schedule changed');
      return scheduleInfo();
    },

    async recordVersions(versions, discoveredBy) {
      const inserted = await ledger.recordVersions(versions, discoveredBy);
      if (inserted > 0) pool.wake();
      return inserted;
    },
    async drain() {
      await scanner.settled();
      for (;;) {
        const counts = await ledger.countByState();
        if (counts.pending === 0 && counts.processing === 0 && pool.inFlight === 0) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    },

    readinessChecks() {
      const bucket = (name: string, b: string): ReadinessCheck => ({
        name,
        check: async () => s3.send(new HeadBucketCommand({ Bucket: b })),
      });
      const checks: ReadinessCheck[] = [
        { name: 'ledger', check: async () => ledger.ping() },
        {
          // Conversions the stall watchdog could not give back: this instance is not doing its work.
          name: 'workers',
          check: async () => {
            const stuck = pool.stuck();
            if (stuck.length > 0) {
              const keys = stuck.map((s) => `${s.key} (${Math.round(s.idleMs / 1000)} s)`).join(', ');
              throw new Error(`${stuck.length} conversion(s) stuck without progress: ${keys}`);
            }
          },
        },
        bucket('source-bucket', config.sourceBucket),
        bucket('target-bucket', config.targetBucket),
      ];
      if (config.reportBucket !== config.targetBucket)
        checks.push(bucket('report-bucket', config.reportBucket));
      return checks;
    },
    async health() {
      return runReadinessChecks(service.readinessChecks());
    },
    async refreshMetrics() {
      const counts = await ledger.countByState();
      for (const [state, n] of Object.entries(counts)) metrics.ledgerFiles.set({ state }, n);
    },
    matchesKey: parts.matchesKey,
  };
  return service;
}
