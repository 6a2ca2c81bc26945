/**
 * The AWS Lambda entry point (bundled as `index.mjs`, handler `index.handler`): reads the service's
 * configuration variables once per cold start and exports `handler` (see ./handler.ts, docs/lambda.md).
 *
 * A wrong or missing variable fails the function's initialisation with one line naming it, as
 * `serve` does, instead of failing every invocation later.
 */

import { randomUUID } from 'node:crypto';
import { loadConfig } from '../config/index.js';
import type { Config } from '../config/types.js';
import { createConverter } from '../convert/index.js';
import { ConfigError } from '../errors.js';
import { openPostgresLedger } from '../ledger/postgres/postgres-ledger.js';
import type { Ledger } from '../ledger/types.js';
import { createLogger, type Logger } from '../log.js';
import { createS3Client } from '../storage/s3-client.js';
import { createHandler, type LambdaHandler } from './handler.js';
import { ledgerWork, type WorkRecorder } from './ledger-work.js';

function lambdaConfig(): Config {
  // No .env file: a function is configured through its environment only.
  const config = loadConfig({ env: process.env, envFile: null });
  if (config.embedded) {
    throw new ConfigError(
      'SOURCE_BUCKET',
      'expected a bucket name: set SOURCE_BUCKET and TARGET_BUCKET (a Lambda function has no embedded S3)',
    );
  }
  return config;
}

function start(): LambdaHandler {
  let config: Config;
  try {
    config = lambdaConfig();
  } catch (err) {
    if (err instanceof ConfigError) console.error(`file-transformer: configuration error: ${err.message}`);
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const handle = createHandler({
    config,
    s3: createS3Client(config.s3),
    logger,
    createConverter,
    recorder: config.databaseUrl ? sharedLedger(config.databaseUrl, logger) : undefined,
  });
  return handle;
}

/**
 * The service's PostgreSQL ledger, connected (and migrated, under the same advisory lock as the
 * servers) on the first invocation that needs it, then reused by the warm function. A connection
 * failure fails that version transiently; the next one tries again.
 */
function sharedLedger(url: string, logger: Logger): WorkRecorder {
  // Lease owner, as the servers write `host:pid:random`.
  const owner = `lambda:${process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? process.pid}:${randomUUID().slice(0, 8)}`;
  let opening: Promise<Ledger> | null = null;
  const ledger = (): Promise<Ledger> => {
    opening ??= (async () => {
      // Two connections: an invocation converts CONCURRENCY files, each writing a few short statements.
      const opened = openPostgresLedger({ url, poolSize: 2, logger });
      try {
        await opened.migrate();
        return opened;
      } catch (err) {
        opening = null;
        await opened.close().catch(() => {});
        throw err;
      }
    })();
    return opening;
  };
  return {
    handle: async (version, convert, log) => ledgerWork(await ledger(), owner).handle(version, convert, log),
  };
}

export const handler: LambdaHandler = start();
