/**
 * `npm run bench:latency`: how soon an upload's JSON appears, in the embedded default setup.
 *
 * Runs `node dist/src/cli/main.js serve` with no S3 settings (embedded s3rver + embedded fauxqs queue
 * fed by s3rver's events + SQLite ledger), the scan schedule far away (1000 h), so only events can
 * find the uploads. Then, one at a time: PutObject of a new key into the source bucket; from the moment
 * the PutObject answers ("upload complete") poll HeadObject on the target key every 10 ms until it
 * exists. Prints p50/p95/p99 for small files and for a typical 10,000-product file (~3.9 MB, generated
 * deterministically).
 *
 * Knobs: BENCH_LATENCY_N (uploads per case, default 200), BENCH_LATENCY_ITEMS (typical file, default 10000).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { S3RVER_CREDENTIALS } from '../src/storage/embedded-s3.js';
import { createS3Client } from '../src/storage/s3-client.js';
import { outputKeyFor } from '../src/worker/naming.js';
import { prng } from '../test/support/catalogue.js';
import { freePort, type ServeProcess, spawnServe } from '../test/support/service-process.js';
import { smallCatalogue } from '../test/support/small-catalogue.js';
import { percentile } from './support/percentile.js';

// The AWS SDK's multi-line Node 22 notice would break the table output; as in bench/service.bench.ts.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const UPLOADS = Number(process.env.BENCH_LATENCY_N ?? 200);
const TYPICAL_ITEMS = Number(process.env.BENCH_LATENCY_ITEMS ?? 10_000);
const POLL_MS = 10;
const SOURCE = 'xml-bucket';
const TARGET = 'json-bucket';

/** `serve` on embedded defaults, on free ports; ready once /health/ready answers 200. */
async function startEmbeddedService(dataDir: string): Promise<{ process: ServeProcess; s3Endpoint: string }> {
  const [s3Port, sqsPort] = [await freePort(), await freePort()];
  const serve = await spawnServe(
    {
      DATA_DIR: dataDir,
      HOST: '127.0.0.1',
      EMBEDDED_S3_PORT: String(s3Port),
      EMBEDDED_SQS_PORT: String(sqsPort),
      SCAN_INTERVAL_HOURS: '1000',
      LOG_LEVEL: 'warn',
    },
    60_000,
  );
  const deadline = Date.now() + 60_000;
  while (!(await fetch(`${serve.url}/health/ready`).catch(() => null))?.ok) {
    if (Date.now() > deadline) throw new Error(`service not ready within 60 s:\n${serve.output.join('')}`);
    await sleep(100);
  }
  return { process: serve, s3Endpoint: `http://127.0.0.1:${s3Port}` };
}

/**
 * A typical partner file: 10,000 products of ~350 bytes in the partner's style (`nsx:` prefix,
 * line-broken image URLs, 1-3 images, 1-2 prices). Deterministic (seeded).
 */
function typicalCatalogue(): { body: Buffer; items: number } {
  const rnd = prng(42);
  const words = ['Jeans', 'Bootleg', 'Front', 'Washed', 'Slim', 'Fit', 'Boot', 'Café', 'Größe', 'T&amp;C'];
  const pick = () => words[Math.floor(rnd() * words.length)]!;
  const parts = ['<nsx:items>\n'];
  for (let i = 0; i < TYPICAL_ITEMS; i++) {
    const id = 2_000_000 + i;
    const images = [1, 2, 3].filter((t) => t === 1 || rnd() < 0.25);
    const prices = rnd() < 0.7 ? ['EUR'] : ['EUR', 'DKK'];
    parts.push(
      ` <nsx:item id="${id}">\n  <nsx:category>${pick()}</nsx:category>\n` +
        `  <nsx:description>${pick()} ${pick()}</nsx:description>\n  <nsx:images>\n` +
        images
          .map((t) => `   <nsx:image type="${t}" url="https://sample.com/img\n   /${id}_${t}.jpg"/>\n`)
          .join('') +
        '  </nsx:images>\n  <nsx:prices>\n' +
        prices
          .map(
            (c) =>
              `   <nsx:price><nsx:currency>${c}</nsx:currency>` +
              `<nsx:value>${Math.floor(rnd() * 10_000)}.${Math.floor(rnd() * 90 + 10)}</nsx:value></nsx:price>\n`,
          )
          .join('') +
        '  </nsx:prices>\n </nsx:item>\n',
    );
  }
  parts.push('</nsx:items>\n');
  return { body: Buffer.from(parts.join('')), items: TYPICAL_ITEMS };
}

/** ms from PutObject's answer to the target object existing (HeadObject every 10 ms). */
async function uploadToVisible(s3: S3Client, key: string, body: string | Buffer): Promise<number> {
  await s3.send(new PutObjectCommand({ Bucket: SOURCE, Key: key, Body: body }));
  const started = performance.now();
  const target = outputKeyFor(key);
  for (;;) {
    try {
      await s3.send(new HeadObjectCommand({ Bucket: TARGET, Key: target }));
      return performance.now() - started;
    } catch (err) {
      if ((err as { name?: string }).name !== 'NotFound') throw err;
    }
    if (performance.now() - started > 30_000) throw new Error(`${key}: no JSON after 30 s`);
    await sleep(POLL_MS);
  }
}

interface Figures {
  case: string;
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

async function measure(
  s3: S3Client,
  label: string,
  prefix: string,
  bodyOf: (i: number) => string | Buffer,
): Promise<Figures> {
  const ms: number[] = [];
  for (let i = 0; i < UPLOADS; i++) {
    ms.push(await uploadToVisible(s3, `${prefix}/${String(i).padStart(4, '0')}.xml`, bodyOf(i)));
  }
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    case: label,
    n: ms.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1]!,
  };
}

async function main(): Promise<void> {
  const typical = typicalCatalogue();
  const dir = await mkdtemp(join(tmpdir(), 'ft-bench-latency-'));
  const service = await startEmbeddedService(join(dir, 'data'));
  const s3 = createS3Client({
    region: 'us-east-1',
    endpoint: service.s3Endpoint,
    credentials: S3RVER_CREDENTIALS,
  });
  const results: Figures[] = [];
  try {
    // A few uploads first so connection set-up and JIT warm-up are not in the figures.
    for (let i = 0; i < 5; i++) await uploadToVisible(s3, `warmup/${i}.xml`, smallCatalogue(i, 10));
    results.push(
      await measure(s3, 'small file (10 items, ~3 KB)', 'small', (i) => smallCatalogue(i * 100, 10)),
    );
    const mb = (typical.body.length / 1024 / 1024).toFixed(1);
    results.push(
      await measure(s3, `typical file (${typical.items} items, ${mb} MB)`, 'typical', () => typical.body),
    );
  } finally {
    s3.destroy();
    await service.process.stop();
    await rm(dir, { recursive: true, force: true });
  }

  const fmt = (v: number) => `${v.toFixed(0)} ms`;
  process.stdout.write(
    `\nUpload complete → JSON visible, embedded default (s3rver + fauxqs + service), ${UPLOADS} uploads each, ` +
      `one at a time, HeadObject polled every ${POLL_MS} ms:\n\n`,
  );
  process.stdout.write('| case | n | p50 | p95 | p99 | max |\n|---|---|---|---|---|---|\n');
  for (const r of results) {
    process.stdout.write(
      `| ${r.case} | ${r.n} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(r.p99)} | ${fmt(r.max)} |\n`,
    );
  }
  const small = results[0]!;
  const ok = small.p50 < 300 && small.p99 < 1000;
  process.stdout.write(`\nTarget (small files p50 < 300 ms, p99 < 1 s): ${ok ? 'met' : 'NOT met'}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:latency failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
