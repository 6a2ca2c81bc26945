/**
 * The composition root: the one place that builds the service from its parts, in order
 *   config → ledger → storage → discovery → workers → events → API,
 * and returns it started. `serve`, `scan --once`, the tests and the benches all start here, each
 * choosing which parts it wants (the API, events, the schedule). A part that fails to start stops the
 * parts started before it, so a failed start-up leaves nothing running.
 *
 * Nothing below this layer knows which host it runs in; the Lambda handler skips this root and calls
 * the one-version pipeline (src/worker/pipeline.ts) directly.
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { buildApi, listen } from '../api/server.js';
import { redactedConfig } from '../config/load.js';
import type { Config, Schedule } from '../config/types.js';
import { failAbandonedScans, Scanner } from '../discovery/scanner.js';
import { ScanScheduler } from '../discovery/schedule.js';
import { createKeyFilter } from '../discovery/types.js';
import { openLedger } from '../ledger/index.js';
import { createLogger, type Logger } from '../log.js';
import { createMetrics, type Metrics } from '../metrics.js';
import type { EmbeddedS3 } from '../storage/embedded-s3.js';
import { createS3Client } from '../storage/s3-client.js';
import { startConversions } from '../worker/conversions.js';
import type { ConverterFactory } from '../worker/converter.js';
import { WorkerPool } from '../worker/pool.js';
import { processFile } from '../worker/process-file.js';
import { seedSample, startEmbeddedStorage } from './embedded.js';
import { type EventIngestion, NO_EVENTS, startEventIngestion } from './events.js';
import { joinFleet } from './fleet.js';
import { SCHEDULE_SETTING, type Service, serviceFacade, validSchedule } from './service.js';

export { SEED_KEY } from './embedded.js';
export type { EventIngestion } from './events.js';
export type { ScanInfo, ScheduleInfo, Service } from './service.js';

export interface AppOptions {
  logger?: Logger;
  metrics?: Metrics;
  /** Defaults to the converter in src/convert/ on CONVERT_THREADS threads (0: on the main thread). */
  createConverter?: ConverterFactory;
  /** Run the scan schedule (default true; `scan --once` turns it off). */
  schedule?: boolean;
  /**
   * Ingest S3 events as configured (EVENTS, SQS_QUEUE_URL; the embedded queue in embedded mode).
   * Default true; false ignores events whatever the configuration says (`scan --once`).
   */
  events?: boolean;
  /** Long-poll wait of the SQS source (default 20 s; tests shorten it). */
  sqsWaitTimeSeconds?: number;
  /** Serve the HTTP API on HOST:PORT (default false: the caller builds its own, or has none). */
  api?: boolean;
}

/** A started application: the service facade plus what the root started around it. */
export interface App extends Service {
  /** Event ingestion (NO_EVENTS when off): its SQS source, embedded queue and API plugins. */
  readonly events: EventIngestion;
  /** The listening API, when `api` was asked for. */
  readonly api: FastifyInstance | null;
  /** Its address (`http://host:port`), when listening. */
  readonly url: string | null;
}

export async function startApp(configIn: Config, options: AppOptions = {}): Promise<App> {
  // Embedded mode fills in the S3 endpoint: work on a copy, never on the caller's object.
  const config: Config = { ...configIn, s3: { ...configIn.s3 } };
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = options.metrics ?? createMetrics();
  const owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const matchesKey = createKeyFilter(config);

  // What has been started so far, stopped in reverse order by `stop` (or by a failed start-up).
  const stops: (() => Promise<unknown> | unknown)[] = [];
  let graceMs = 10_000;
  let stopping: Promise<void> | null = null;
  const stop = (stopOptions: { graceMs?: number } = {}): Promise<void> => {
    stopping ??= (async () => {
      graceMs = stopOptions.graceMs ?? graceMs;
      while (stops.length > 0) await stops.pop()!();
      logger.info('service stopped');
    })();
    return stopping;
  };

  try {
    // Ledger.
    await mkdir(config.dataDir, { recursive: true });
    const ledger = await openLedger({ ...config, logger });
    stops.push(() => ledger.close());
    const interrupted = await failAbandonedScans(ledger);
    if (interrupted > 0) logger.warn({ interrupted }, 'scans abandoned by a stopped process marked failed');

    // Storage.
    let embeddedS3: EmbeddedS3 | null = null;
    if (config.embedded) {
      const started = await startEmbeddedStorage(config, logger);
      embeddedS3 = started;
      stops.push(() => started.close());
    }
    const s3 = createS3Client(config.s3);
    stops.push(() => s3.destroy());
    if (config.embedded) await seedSample(s3, config, logger);

    const persisted = await ledger.getSetting(SCHEDULE_SETTING);
    let schedule: Schedule = config.schedule;
    let scheduleSource: 'settings' | 'config' = 'config';
    if (persisted) {
      try {
        schedule = validSchedule(JSON.parse(persisted));
        scheduleSource = 'settings';
      } catch (err) {
        logger.warn(
          { err: err instanceof Error ? err.message : String(err), persisted: persisted.slice(0, 200) },
          'the schedule persisted in the ledger is not valid; using the configured one',
        );
      }
    }
    logger.info({ config: redactedConfig(config), owner, scheduleSource }, 'service starting');

    // Workers (claiming starts below, once discovery can wake them).
    let createConverter = options.createConverter;
    if (!createConverter) {
      // Stopped after the workers (stops run in reverse): conversions in flight end first.
      const conversions = await startConversions(config.convertThreads, { logger });
      stops.push(() => conversions.close());
      createConverter = conversions.createConverter;
    }
    const ctx = { s3, ledger, config, metrics, logger, owner, createConverter };
    const pool = new WorkerPool({
      ledger,
      owner,
      concurrency: config.concurrency,
      leaseMs: config.leaseMs,
      pollMs: config.pollMs,
      // The backstop behind the download's own watchdog: nothing moved anywhere (download, conversion,
      // upload) for twice the stall timeout.
      stallMs: 2 * config.stallTimeoutMs,
      logger,
      process: (row, signal, progress) => processFile(ctx, row, signal, progress),
    });

    // Discovery: the scanner, its catch-up scan and the schedule.
    const scanner = new Scanner({
      s3,
      ledger,
      config,
      metrics,
      logger,
      owner,
      onRecorded: () => pool.wake(),
    });
    pool.start();
    stops.push(() => pool.stop(graceMs));
    stops.push(() => scanner.stop());
    const startupScan = await scanner.request('startup');
    logger.info({ scanId: startupScan.id }, 'catch-up scan started');
    // Instances sharing the ledger agree on who runs each scheduled scan: the first to claim its slot.
    const scheduler = new ScanScheduler((slot) => {
      scanner
        .requestSlot('schedule', slot)
        .then((scan) => {
          if (scan === null) logger.info({ slot }, 'scheduled scan run by another instance');
        })
        .catch((err: unknown) => logger.error({ err }, 'scheduled scan'));
    });
    stops.push(() => scheduler.stop());
    if (options.schedule !== false) scheduler.set(schedule);

    const service = serviceFacade({
      config,
      logger,
      metrics,
      ledger,
      s3,
      embeddedS3,
      pool,
      scanner,
      scheduler,
      scheduleSource,
      startupScan,
      owner,
      matchesKey,
      stop,
    });

    // The fleet: heartbeats, other instances' new work, and a schedule changed on any of them.
    const member = await joinFleet({
      ledger,
      owner,
      logger,
      inFlight: () => pool.inFlight,
      wake: () => pool.wake(),
      reloadSchedule: () => service.reloadSchedule(),
    });
    stops.push(() => member.leave());

    // Events: recorded through the facade, so new versions wake the workers.
    let events = NO_EVENTS;
    if (options.events !== false) {
      events = await startEventIngestion(config, {
        sink: service,
        matchesKey,
        embeddedS3,
        logger,
        metrics,
        waitTimeSeconds: options.sqsWaitTimeSeconds,
      });
      const started = events;
      stops.push(() => started.stop());
    }

    // The API, last: it answers only once everything it reports on runs.
    let api: FastifyInstance | null = null;
    let url: string | null = null;
    if (options.api) {
      const app = await buildApi(service, {
        apiToken: config.apiToken,
        host: config.host,
        logger,
        plugins: events.plugins,
      });
      stops.push(() => app.close());
      url = await listen(app, { host: config.host, port: config.port, apiToken: config.apiToken });
      api = app;
      logger.info({ url }, `API listening on ${url}`);
    }

    return Object.assign(service, { events, api, url });
  } catch (err) {
    await stop({ graceMs: 0 }).catch(() => {});
    throw err;
  }
}
