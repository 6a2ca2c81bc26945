/**
 * `file-transformer scan --once`: for cron jobs and CI. One catch-up pass over the source bucket,
 * converts everything pending (including earlier failures' retries), then exits: 0 when every file
 * converted (or was skipped/gone), 1 when any file failed in this run or the scan itself failed,
 * 2 on a usage or configuration error.
 */
import { type App, startApp } from '../app/index.js';
import { createLogger } from '../log.js';
import { loadConfigOrReport, reportConfigError } from './config-error.js';

const HELP = `Usage: file-transformer scan --once

Scans the source bucket once, converts every new or pending file, and exits.
Exit status: 0 all converted, 1 a file or the scan failed, 2 usage or configuration error.
Configuration as for \`serve\` (environment and .env; see docs/configuration.md). It shares the
ledger in DATA_DIR with a running \`serve\`, so nothing is converted twice; in embedded mode it
starts its own s3rver on EMBEDDED_S3_PORT, so stop \`serve\` first there.
`;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  if (argv.length !== 1 || argv[0] !== '--once') {
    process.stderr.write(`file-transformer scan: expected --once\n\n${HELP}`);
    return 2;
  }
  const config = loadConfigOrReport();
  if (!config) return 2;
  const logger = createLogger(config.logLevel);
  let app: App;
  try {
    app = await startApp(config, { logger, schedule: false, events: false });
  } catch (err) {
    if (reportConfigError(err)) return 2;
    logger.fatal({ err }, 'scan --once failed');
    return 1;
  }
  try {
    const scan = await app.waitForScan(app.startupScan.id);
    await app.drain();
    const failed = (await app.metrics.filesTotal.get()).values
      .filter((v) => v.labels.outcome === 'failed')
      .reduce((sum, v) => sum + v.value, 0);
    const ok = scan?.status === 'done' && failed === 0;
    logger.info({ scan, failed }, ok ? 'scan --once: all converted' : 'scan --once: failures');
    return ok ? 0 : 1;
  } catch (err) {
    logger.fatal({ err }, 'scan --once failed');
    return 1;
  } finally {
    await app.stop({ graceMs: 0 });
  }
}
