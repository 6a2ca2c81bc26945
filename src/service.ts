/**
 * The service facade: everything the CLI, the HTTP API (src/api/, via `buildApi(service)`) and event
 * ingestion (src/discovery/ events, via `recordVersions`) need, behind one object. `createService`
 * wires config → storage → ledger → scan, schedule and workers; `start()` brings them up in order.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HeadBucketCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { redactedConfig } from './config/load.js';
import { parseCron, parseIntervalHours } from './config/parse.js';
import type { Config, Schedule } from './config/types.js';
import { failAbandonedScans, Scanner } from './discovery/scanner.js';
import { ScanScheduler } from './discovery/schedule.js';
import { createKeyFilter } from './discovery/types.js';
import { ConfigError, ObjectGoneError, toTransformerError } from './errors.js';
import { openLedger } from './ledger/index.js';
import {
  type DiscoveredBy,
  type FilePage,
  type FileRecord,
  type FileState,
  type Ledger,
  normalizeEtag,
  type ObjectVersion,
  type ScanRecord,
  type ScanTrigger,
} from './ledger/types.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { type EmbeddedS3, S3RVER_CREDENTIALS, startEmbeddedS3 } from './storage/embedded-s3.js';
import { createS3Client } from './storage/s3-client.js';
import { type ConverterFactory, loadConverter } from './worker/converter.js';
import { WorkerPool } from './worker/pool.js';
import { processFile } from './worker/process-file.js';

/** A scan as the API shows it (ids are strings on the wire). */
export type ScanInfo = Omit<ScanRecord, 'id'> & { id: string };

export interface ScheduleInfo {
  intervalHours: number | null;
  cron: string | null;
  nextRunAt: string | null;
  /** Where the schedule came from: the environment, or a change persisted through the API. */
  source: 'config' | 'settings';
}

export interface ReadinessCheck {
  name: string;
  check: () => Promise<unknown>;
}

export interface HealthReport {
  ok: boolean;
  checks: { name: string; ok: boolean; error?: string }[];
}

export interface ListFilesOptions {
  status?: FileState;
  prefix?: string;
  limit?: number;
  cursor?: string;
}

export interface Service {
  /** The effective configuration (in embedded mode, `s3.endpoint` is filled in by `start()`). */
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Available after `start()`. */
  readonly ledger: Ledger;
  /** Available after `start()`. */
  readonly s3: S3Client;
  /** The embedded s3rver (its `server` emits `event` for each object change); null unless embedded. */
  readonly embeddedS3: EmbeddedS3 | null;
  /** The catch-up scan requested by `start()`. */
  readonly startupScan: ScanInfo | null;

  /** Migrations, embedded S3 (embedded mode), workers, the catch-up scan, the scheduler. */
  start(): Promise<void>;
  /**
   * Stops claiming and scanning, lets conversions in flight finish within `graceMs` (default 10 s),
   * gives the rest back to the ledger as pending, and closes everything. Idempotent.
   */
  stop(options?: { graceMs?: number }): Promise<void>;

  /** Starts (or joins the queued) scan; returns at once with its id. */
  requestScan(trigger?: ScanTrigger): Promise<ScanInfo>;
  getScan(id: string): Promise<ScanInfo | null>;
  listScans(limit?: number): Promise<ScanInfo[]>;
  /** Resolves when that scan has ended (done or failed). */
  waitForScan(id: string): Promise<ScanInfo | null>;

  /** Ledger rows of the source bucket, newest first; a bad cursor throws RangeError. */
  listFiles(query?: ListFilesOptions): Promise<FilePage>;
  /** Every version of a key, newest first; [] when the key is unknown. */
  getFileVersions(key: string): Promise<FileRecord[]>;
  /**
   * Converts the latest version of `key` again (its current ETag in the bucket: recorded if new, else
   * its row is reset to pending and forced past the "already converted" shortcut). Null when neither
   * the bucket nor the ledger knows the key.
   */
  reprocess(key: string): Promise<FileRecord | null>;

  getSchedule(): Promise<ScheduleInfo>;
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
  health(): Promise<HealthReport>;
  /** Updates gauges that mirror the ledger (call before a scrape). */
  refreshMetrics(): Promise<void>;
  /** Whether `key` is a catalogue by SOURCE_PREFIX/SOURCE_SUFFIXES (the scan's rule; events use it too). */
  matchesKey(key: string): boolean;
}

export interface ServiceDeps {
  logger?: Logger;
  metrics?: Metrics;
  /** Defaults to the converter in src/convert/. */
  createConverter?: ConverterFactory;
  /** Run the scan schedule (default true; `scan --once` turns it off). */
  schedule?: boolean;
}

/** The partner's sample, uploaded by the embedded default as `test-file.xml` when absent. */
export const SEED_KEY = 'test-file.xml';
const SCHEDULE_SETTING = 'schedule';

/** The package root (where package.json is), found from this module's location, not from the cwd. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (
      existsSync(pkg) &&
      (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'file-transformer'
    ) {
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the file-transformer package root');
    dir = parent;
  }
}

export function createService(config: Config, deps: ServiceDeps = {}): Service {
  const cfg: Config = { ...config, s3: { ...config.s3 } };
  const logger = deps.logger ?? createLogger(cfg.logLevel);
  const metrics = deps.metrics ?? createMetrics();
  const owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const matchesKey = createKeyFilter(cfg);

  let ledger: Ledger | null = null;
  let s3: S3Client | null = null;
  let embeddedS3: EmbeddedS3 | null = null;
  let pool: WorkerPool | null = null;
  let scanner: Scanner | null = null;
  let scheduler: ScanScheduler | null = null;
  let scheduleSource: ScheduleInfo['source'] = 'config';
  let startupScan: ScanInfo | null = null;
  let started = false;
  let stopping: Promise<void> | null = null;

  const need = <T>(value: T | null, what: string): T => {
    if (value === null) throw new Error(`${what} is not available before start()`);
    return value;
  };
  const toInfo = (r: ScanRecord): ScanInfo => ({ ...r, id: String(r.id) });
  /** Scan ids and file cursors (a file id) on the wire: decimal, within Number's exact range. */
  const parseId = (id: string): number | null => (/^\d{1,15}$/.test(id) ? Number(id) : null);

  const scheduleInfo = (): ScheduleInfo => {
    const s = scheduler?.schedule ?? cfg.schedule;
    return {
      intervalHours: 'intervalHours' in s ? s.intervalHours : null,
      cron: 'cron' in s ? s.cron : null,
      nextRunAt: scheduler?.nextRunAt()?.toISOString() ?? null,
      source: scheduleSource,
    };
  };

  const service: Service = {
    get config() {
      return cfg;
    },
    logger,
    metrics,
    get ledger() {
      return need(ledger, 'the ledger');
    },
    get s3() {
      return need(s3, 'the S3 client');
    },
    get embeddedS3() {
      return embeddedS3;
    },
    get startupScan() {
      return startupScan;
    },

    async start() {
      if (started) return;
      started = true;
      await mkdir(cfg.dataDir, { recursive: true });
      ledger = await openLedger(cfg.dataDir);
      const interrupted = await failAbandonedScans(ledger);
      if (interrupted > 0) logger.warn({ interrupted }, 'scans abandoned by a stopped process marked failed');

      if (cfg.embedded) {
        const buckets = [...new Set([cfg.sourceBucket, cfg.targetBucket, cfg.reportBucket])];
        embeddedS3 = await startEmbeddedS3({
          directory: join(cfg.dataDir, 's3'),
          host: '127.0.0.1',
          port: cfg.embeddedS3Port,
          buckets,
          credentials: cfg.s3.credentials,
        }).catch((err: unknown) => {
          if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
          throw new ConfigError(
            'EMBEDDED_S3_PORT',
            `expected a free port, but 127.0.0.1:${cfg.embeddedS3Port} is in use (another serve on this machine? ` +
              'EMBEDDED_S3_PORT=0 picks any free port)',
          );
        });
        cfg.s3.endpoint = embeddedS3.endpoint;
        cfg.s3.credentials ??= { ...S3RVER_CREDENTIALS };
        logger.info(
          {
            endpoint: embeddedS3.endpoint,
            sourceBucket: cfg.sourceBucket,
            targetBucket: cfg.targetBucket,
            accessKeyId: cfg.s3.credentials.accessKeyId,
            secretKey:
              cfg.s3.credentials.secretAccessKey === S3RVER_CREDENTIALS.secretAccessKey ? 'S3RVER' : '[set]',
            dataDir: join(cfg.dataDir, 's3'),
          },
          'embedded S3 (s3rver) started: point any S3 client here with forcePathStyle',
        );
      }
      s3 = createS3Client(cfg.s3);
      if (cfg.embedded) await seedSample(s3, cfg, logger);

      const persisted = await ledger.getSetting(SCHEDULE_SETTING);
      let schedule = cfg.schedule;
      if (persisted) {
        schedule = JSON.parse(persisted) as Schedule;
        scheduleSource = 'settings';
      }
      logger.info({ config: redactedConfig(cfg), owner, scheduleSource }, 'service starting');

      const createConverter = deps.createConverter ?? (await loadConverter());
      const ctx = { s3, ledger, config: cfg, metrics, logger, owner, createConverter };
      pool = new WorkerPool({
        ledger,
        owner,
        concurrency: cfg.concurrency,
        leaseMs: cfg.leaseMs,
        pollMs: cfg.pollMs,
        logger,
        process: (row, signal) => processFile(ctx, row, signal),
      });
      scanner = new Scanner({
        s3,
        ledger,
        config: cfg,
        metrics,
        logger,
        owner,
        onRecorded: () => pool?.wake(),
      });
      pool.start();
      startupScan = toInfo(await scanner.request('startup'));
      logger.info({ scanId: startupScan.id }, 'catch-up scan started');
      scheduler = new ScanScheduler(() => {
        scanner
          ?.request('schedule')
          .catch((err: unknown) => logger.error({ err: String(err) }, 'scheduled scan'));
      });
      if (deps.schedule !== false) scheduler.set(schedule);
    },

    stop(options = {}) {
      stopping ??= (async () => {
        const graceMs = options.graceMs ?? 10_000;
        scheduler?.stop();
        await scanner?.stop();
        await pool?.stop(graceMs);
        await ledger?.close();
        s3?.destroy();
        await embeddedS3?.close();
        logger.info('service stopped');
      })();
      return stopping;
    },

    async requestScan(trigger = 'api') {
      return toInfo(await need(scanner, 'the scanner').request(trigger));
    },
    async getScan(id) {
      const n = parseId(id);
      const r = n === null ? null : await need(ledger, 'the ledger').getScan(n);
      return r ? toInfo(r) : null;
    },
    async listScans(limit = 20) {
      return (await need(ledger, 'the ledger').listScans(limit)).map(toInfo);
    },
    async waitForScan(id) {
      const n = parseId(id);
      if (n !== null) await scanner?.wait(n);
      return service.getScan(id);
    },

    async listFiles(query = {}) {
      if (query.cursor && parseId(query.cursor) === null) {
        throw new RangeError(`invalid cursor ${JSON.stringify(query.cursor)}`);
      }
      return need(ledger, 'the ledger').listFiles(cfg.sourceBucket, {
        state: query.status,
        prefix: query.prefix,
        limit: query.limit,
        cursor: query.cursor || null,
      });
    },
    async getFileVersions(key) {
      return need(ledger, 'the ledger').getFileVersions(cfg.sourceBucket, key);
    },
    async reprocess(key) {
      const l = need(ledger, 'the ledger');
      let etag: string | null = null;
      try {
        const head = await need(s3, 'the S3 client').send(
          new HeadObjectCommand({ Bucket: cfg.sourceBucket, Key: key }),
        );
        if (head.ETag) {
          etag = normalizeEtag(head.ETag);
          await l.recordVersions(
            [
              {
                bucket: cfg.sourceBucket,
                key,
                etag,
                size: head.ContentLength ?? null,
                lastModified: head.LastModified ?? null,
              },
            ],
            'api',
          );
        }
      } catch (err) {
        if (!(toTransformerError(err) instanceof ObjectGoneError)) throw err;
      }
      const versions = await l.getFileVersions(cfg.sourceBucket, key);
      const target = etag === null ? versions[0] : versions.find((v) => v.etag === etag);
      if (!target) return null;
      const row = await l.requeue(target.id);
      logger.info({ key, fileId: target.id, etag: target.etag }, 'reprocess requested');
      pool?.wake();
      return row;
    },

    async getSchedule() {
      return scheduleInfo();
    },
    async setSchedule(schedule) {
      let valid: Schedule;
      if ('cron' in schedule && typeof schedule.cron === 'string') {
        valid = { cron: parseCron('cron', schedule.cron) };
      } else if ('intervalHours' in schedule && typeof schedule.intervalHours === 'number') {
        valid = { intervalHours: parseIntervalHours('intervalHours', String(schedule.intervalHours)) };
      } else {
        throw new ConfigError('schedule', 'expected {"intervalHours": n} or {"cron": "<expression>"}');
      }
      await need(ledger, 'the ledger').setSetting(SCHEDULE_SETTING, JSON.stringify(valid));
      scheduleSource = 'settings';
      need(scheduler, 'the scheduler').set(valid);
      logger.info({ schedule: valid }, 'scan schedule changed');
      return scheduleInfo();
    },

    async recordVersions(versions, discoveredBy) {
      const inserted = await need(ledger, 'the ledger').recordVersions(versions, discoveredBy);
      if (inserted > 0) pool?.wake();
      return inserted;
    },
    async drain() {
      const l = need(ledger, 'the ledger');
      await scanner?.settled();
      for (;;) {
        const counts = await l.countByState();
        if (counts.pending === 0 && counts.processing === 0 && (pool?.inFlight ?? 0) === 0) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    },

    readinessChecks() {
      const bucket = (name: string, b: string): ReadinessCheck => ({
        name,
        check: async () => need(s3, 'the S3 client').send(new HeadBucketCommand({ Bucket: b })),
      });
      const checks: ReadinessCheck[] = [
        { name: 'ledger', check: async () => need(ledger, 'the ledger').ping() },
        bucket('source-bucket', cfg.sourceBucket),
        bucket('target-bucket', cfg.targetBucket),
      ];
      if (cfg.reportBucket !== cfg.targetBucket) checks.push(bucket('report-bucket', cfg.reportBucket));
      return checks;
    },
    async health() {
      const checks = await Promise.all(
        service.readinessChecks().map(async (c) => {
          try {
            await c.check();
            return { name: c.name, ok: true };
          } catch (err) {
            return { name: c.name, ok: false, error: toTransformerError(err).message };
          }
        }),
      );
      return { ok: checks.every((c) => c.ok), checks };
    },
    async refreshMetrics() {
      if (!ledger) return;
      const counts = await ledger.countByState();
      for (const [state, n] of Object.entries(counts)) metrics.ledgerFiles.set({ state }, n);
    },
    matchesKey,
  };
  return service;
}

/** Embedded default: put the partner's sample in the source bucket once, as the predecessor did. */
async function seedSample(s3: S3Client, cfg: Config, logger: Logger): Promise<void> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: cfg.sourceBucket, Key: SEED_KEY }));
    return;
  } catch (err) {
    if (!(toTransformerError(err) instanceof ObjectGoneError)) throw err;
  }
  const body = await readFile(join(packageRoot(), 'samples', 'seed-sample.xml'));
  await s3.send(
    new PutObjectCommand({
      Bucket: cfg.sourceBucket,
      Key: SEED_KEY,
      Body: body,
      ContentType: 'application/xml',
    }),
  );
  logger.info({ bucket: cfg.sourceBucket, key: SEED_KEY }, 'uploaded the partner sample');
}
