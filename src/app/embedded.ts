/**
 * The embedded default's storage: an s3rver in DATA_DIR/s3 holding every configured bucket, and the
 * partner's sample uploaded once as `test-file.xml`, so `npm start` converts something on a machine
 * with no AWS account.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config/types.js';
import { ConfigError, ObjectGoneError, toTransformerError } from '../errors.js';
import type { Logger } from '../log.js';
import { packageRoot } from '../package-root.js';
import { type EmbeddedS3, S3RVER_CREDENTIALS, startEmbeddedS3 } from '../storage/embedded-s3.js';

/** The partner's sample, uploaded by the embedded default as `test-file.xml` when absent. */
export const SEED_KEY = 'test-file.xml';

/**
 * A port given in the configuration that is already taken is a configuration mistake: the one
 * readable line names the variable. Any other error passes through unchanged.
 */
export function explainPortInUse(err: unknown, variable: string, port: number): unknown {
  if ((err as { code?: unknown } | null)?.code !== 'EADDRINUSE') return err;
  return new ConfigError(
    variable,
    `expected a free port, but 127.0.0.1:${port} is in use (another serve on this machine? ` +
      `${variable}=0 picks any free port)`,
  );
}

/**
 * Starts s3rver with the source, target and report buckets and fills in `config.s3` (endpoint, and
 * s3rver's credentials unless a key pair was configured) so every client built after this talks to it.
 */
export async function startEmbeddedStorage(config: Config, logger: Logger): Promise<EmbeddedS3> {
  const buckets = [...new Set([config.sourceBucket, config.targetBucket, config.reportBucket])];
  const embedded = await startEmbeddedS3({
    directory: join(config.dataDir, 's3'),
    host: '127.0.0.1',
    port: config.embeddedS3Port,
    buckets,
    credentials: config.s3.credentials,
  }).catch((err: unknown) => {
    throw explainPortInUse(err, 'EMBEDDED_S3_PORT', config.embeddedS3Port);
  });
  config.s3.endpoint = embedded.endpoint;
  config.s3.credentials ??= { ...S3RVER_CREDENTIALS };
  logger.info(
    {
      endpoint: embedded.endpoint,
      sourceBucket: config.sourceBucket,
      targetBucket: config.targetBucket,
      accessKeyId: config.s3.credentials.accessKeyId,
      secretKey:
        config.s3.credentials.secretAccessKey === S3RVER_CREDENTIALS.secretAccessKey ? 'S3RVER' : '[set]',
      dataDir: join(config.dataDir, 's3'),
    },
    'embedded S3 (s3rver) started: point any S3 client here with forcePathStyle',
  );
  return embedded;
}

/** Puts the partner's sample in the source bucket once, as the predecessor did. */
export async function seedSample(s3: S3Client, config: Config, logger: Logger): Promise<void> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: config.sourceBucket, Key: SEED_KEY }));
    return;
  } catch (err) {
    if (!(toTransformerError(err) instanceof ObjectGoneError)) throw err;
  }
  const body = await readFile(join(packageRoot(), 'samples', 'seed-sample.xml'));
  await s3.send(
    new PutObjectCommand({
      Bucket: config.sourceBucket,
      Key: SEED_KEY,
      Body: body,
      ContentType: 'application/xml',
    }),
  );
  logger.info({ bucket: config.sourceBucket, key: SEED_KEY }, 'uploaded the partner sample');
}
