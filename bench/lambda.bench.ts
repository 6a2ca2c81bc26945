/**
 * `npm run bench:lambda`: the Lambda function from its zip converting one large catalogue (1 GB;
 * `BENCH_BIG_MB` to change) delivered as an SQS message, in a Node process whose V8 heap is capped
 * the way a 256 MB function's is (`--max-old-space-size`, `BENCH_HEAP_MB`, default 200), against a
 * real s3rver. Prints the time and the function process's peak RSS (its own `maxRSS`: Node, the
 * bundle, the converter and the upload's part buffers; s3rver runs in the bench process).
 *
 * Not a test: it takes minutes and its figures depend on the machine. Record them in
 * docs/benchmarks.md with the command.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createS3Client } from '../src/storage/s3-client.js';
import { buildLambda, invokeLambda, lambdaEnv, s3Notification, sqsEvent } from '../test/support/lambda.js';
import { S3RVER_CREDENTIALS, startS3rver } from '../test/support/s3rver.js';
import { bigCatalogue } from './support/big-catalogue.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const BIG_MB = Number(process.env.BENCH_BIG_MB ?? 1024);
const HEAP_MB = Number(process.env.BENCH_HEAP_MB ?? 200);
const SOURCE = 'xml-bucket';
const TARGET = 'json-bucket';
const KEY = 'big/catalogue.xml';

async function main(): Promise<void> {
  const { path, bytes } = await bigCatalogue(BIG_MB);
  const work = await mkdtemp(join(tmpdir(), 'ft-bench-lambda-'));
  const s3rver = await startS3rver([SOURCE, TARGET]);
  const s3 = createS3Client({
    region: 'us-east-1',
    endpoint: s3rver.endpoint,
    credentials: S3RVER_CREDENTIALS,
  });
  try {
    const { zip, functionDir } = await buildLambda(work);
    const upload = new Upload({
      client: s3,
      params: { Bucket: SOURCE, Key: KEY, Body: createReadStream(path) },
      partSize: 16 * 1024 * 1024,
      queueSize: 2,
    });
    const uploaded = await upload.done();
    const etag = (uploaded.ETag ?? '').replaceAll('"', '');
    const event = await sqsEvent({
      id: 'bench',
      body: await s3Notification({ bucket: SOURCE, key: KEY, etag, size: bytes }),
    });

    const started = performance.now();
    const run = await invokeLambda(
      functionDir,
      event,
      lambdaEnv({ SOURCE_BUCKET: SOURCE, TARGET_BUCKET: TARGET, S3_ENDPOINT: s3rver.endpoint }),
      { timeoutMs: 15 * 60_000, nodeArgs: [`--max-old-space-size=${HEAP_MB}`] },
    );
    const seconds = (performance.now() - started) / 1000;
    if (JSON.stringify(run.result) !== '{"batchItemFailures":[]}') {
      throw new Error(`the invocation failed: ${JSON.stringify(run.result ?? run.error)}\n${run.stderr}`);
    }
    const out = await s3.send(new HeadObjectCommand({ Bucket: TARGET, Key: `${KEY}.json` }));
    const mb = bytes / 1e6;
    const peakMiB = (run.maxRssKiB ?? Number.NaN) / 1024;
    process.stdout.write(
      `node ${process.version}, ${cpus().length} cores; zip ${((await stat(zip)).size / 1e6).toFixed(2)} MB\n` +
        `${mb.toFixed(0)} MB catalogue (${(bytes / 1024 ** 2).toFixed(0)} MiB) → ${((out.ContentLength ?? 0) / 1e6).toFixed(0)} MB JSON ` +
        `with --max-old-space-size=${HEAP_MB}: ${seconds.toFixed(1)} s incl. cold start, ` +
        `${(mb / seconds).toFixed(1)} MB/s, peak RSS ${peakMiB.toFixed(0)} MiB\n`,
    );
  } finally {
    s3.destroy();
    await s3rver.close();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
