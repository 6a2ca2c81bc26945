/**
 * `file-transformer serve`: the long-running service (what `npm start` runs). Loads the configuration
 * (a wrong value stops here with one line naming the variable), starts the service and its HTTP API,
 * and on SIGTERM/SIGINT stops gracefully: the API closes, conversions in flight get a bounded time to
 * finish, the rest go back to the ledger, exit 0.
 */
import { type App, startApp } from '../app/index.js';
import { createLogger } from '../log.js';
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

  // Listen for the stop signal from the start: a SIGTERM during start-up (a slow catch-up scan, an
  // orchestrator giving up) still stops gracefully once start-up has settled.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });

  let app: App;
  try {
    app = await startApp(config, { logger, api: true });
  } catch (err) {
    // startApp has already stopped whatever it had started.
    if (reportConfigError(err)) return 2;
    logger.fatal({ err }, 'service failed to start');
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
  await app.stop({ graceMs: STOP_GRACE_MS });
  return 0;
}
