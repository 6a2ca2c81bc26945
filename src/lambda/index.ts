/**
 * The AWS Lambda entry point (bundled as `index.mjs`, handler `index.handler`): reads the service's
 * configuration variables once per cold start and exports `handler` (see ./handler.ts, docs/lambda.md).
 *
 * A wrong or missing variable fails the function's initialisation with one line naming it, as
 * `serve` does, instead of failing every invocation later.
 */
import { loadConfig } from '../config/index.js';
import type { Config } from '../config/types.js';
import { createConverter } from '../convert/index.js';
import { ConfigError } from '../errors.js';
import { createLogger } from '../log.js';
import { createS3Client } from '../storage/s3-client.js';
import { createHandler, type LambdaHandler } from './handler.js';

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
  return createHandler({ config, s3: createS3Client(config.s3), logger, createConverter });
}

export const handler: LambdaHandler = start();
