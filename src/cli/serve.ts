/**
 * `file-transformer serve`: the long-running service (what `npm start` runs). Loads the configuration
 * (a wrong value stops here with one line naming the variable), starts the service and its HTTP API,
 * and on SIGTERM/SIGINT stops gracefully: the API closes, conversions in flight get a bounded time to
 * finish, the rest go back to the ledger, exit 0.
 */
import type { FastifyInstance } from 'fastify';
import { buildApi, listen } from '../api/server.js';
import { type EventIngestion, startEventIngestion } from '../discovery/sqs-ingestion.js';
import { createLogger } from '../log.js';
import { createService } from '../service.js';
import { loadConfigOrReport, reportConfigError } from './config-error.js';

const HELP = `Usage: file-transformer serve

Runs the service: scans the source bucket at start-up and on the schedule, converts new XML files to
JSON in the target bucket, ingests S3 events, and serves the HTTP API (health, metrics, scans, files).
With no bucket and no endpoint configured it runs on embedded defaults (s3rver in DATA_DIR/s3).
Configuration comes from the environment and a .env file: see docs/configuration.md.
SIGTERM/SIGINT stop it gracefully (exit 0).
`;

/** How long conversions in flight may take to finish after SIGTERM before they are given back. */
const STOP_GRACE_MS = 10_000;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  if (argv.length > 0) {
    process.stderr.write(`file-transformer serve: unexpected argument ${JSON.stringify(argv[0])}\n\n${HELP}`);
    return 2;
  }
  const config = loadConfigOrReport();
  if (!config) return 2;
  const logger = createLogger(config.logLevel);
  const service = createService(config, { logger });

  let app: FastifyInstance | null = null;
  let events: EventIngestion | null = null;
  const shutdown = async () => {
    await app?.close();
    await events?.stop();
    await service.stop({ graceMs: STOP_GRACE_MS });
  };

  // Listen for the stop signal from the start: a SIGTERM during start-up (a slow catch-up scan, an
  // orchestrator giving up) still stops gracefully once start-up has settled.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });

  try {
    await service.start();
    events = await startEventIngestion(service, service.config, logger);
    app = await buildApi(service, { apiToken: config.apiToken, logger, plugins: events.plugins });
    const url = await listen(app, { host: config.host, port: config.port, apiToken: config.apiToken });
    logger.info({ url }, `API listening on ${url}`);
  } catch (err) {
    await shutdown().catch(() => {});
    if (reportConfigError(err)) return 2;
    logger.fatal({ err: err instanceof Error ? err.message : String(err) }, 'service failed to start');
    return 1;
  }

  const signal = await stopSignal;
  logger.info({ signal }, 'stopping');
  // A second signal while stopping means "now".
  const force = () => {
    logger.warn('second signal: exiting without waiting');
    process.exit(1);
  };
  process.once('SIGTERM', force);
  process.once('SIGINT', force);
  await shutdown();
  return 0;
}
