/**
 * `npm run bench:service`: the whole service, end to end, through a real s3rver in its own process.
 *
 *   (a) 1,000 small catalogues in the source bucket → start the service → all done: files/s.
 *   (b) one large generated catalogue (1 GB; `BENCH_BIG_MB` to change), once per CONVERT_THREADS
 *       setting in BENCH_THREADS (default "0,<cores>": on the main thread, then on the pool) → MB/s,
 *       the service's and s3rver's CPU apart and the service's peak RSS (VmHWM), against the
 *       converter alone (`file-transformer convert`) on the same file, also as a child process; then
 *       a second run per setting for the API's latency while it converts (GET /api/files, one
 *       request at a time), so the polling does not count in the first run's figures.
 *
 * The service runs as `node dist/src/cli/main.js serve` (what `npm start` runs), scan-only
 * (EVENTS=false), against the s3rver endpoint, with a fresh DATA_DIR per run. s3rver runs in a child
 * process (bench/support/s3rver-child.ts) so its CPU is measured apart. The large file is generated
 * once into .bench/ and reused.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { packageRoot } from '../src/package-root.js';
import { S3RVER_CREDENTIALS } from '../src/storage/embedded-s3.js';
import { createS3Client } from '../src/storage/s3-client.js';
import {
  CLI,
  cpuSeconds,
  type ServeProcess,
  serviceEnv,
  spawnServe,
  trackProcess,
} from '../test/support/service-process.js';
import { smallCatalogue } from '../test/support/small-catalogue.js';
import { bigCatalogue } from './support/big-catalogue.js';
import { percentile } from './support/percentile.js';

// The AWS SDK's multi-line Node 22 notice (emitted when the first client is made, so setting it here,
// after the imports, is early enough) would break the table output; same as src/cli/main.ts.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const SMALL_FILES = Number(process.env.BENCH_SMALL_FILES ?? 1000);
const BIG_MB = Number(process.env.BENCH_BIG_MB ?? 1024);
const TARGET = 'json-bucket';
/** How often the large file's runs ask whether it is done (the claim → done time is the ledger's). */
const BIG_POLL_MS = 500;
const THREAD_SETTINGS = (process.env.BENCH_THREADS ?? `0,${cpus().length}`).split(',').map((s) => s.trim());

async function startService(
  endpoint: string,
  sourceBucket: string,
  dataDir: string,
  convertThreads?: string,
): Promise<ServeProcess> {
  return spawnServe({
    ...serviceEnv({ endpoint, dataDir, sourceBucket, targetBucket: TARGET }),
    ...(process.env.BENCH_CONCURRENCY ? { CONCURRENCY: process.env.BENCH_CONCURRENCY } : {}),
    ...(convertThreads !== undefined ? { CONVERT_THREADS: convertThreads } : {}),
  });
}

/** s3rver in its own process (its CPU is then its own), serving the given buckets from `directory`. */
async function startS3Process(
  directory: string,
  buckets: string[],
): Promise<{ endpoint: string; pid: number; completeSeconds(): number; stop(): Promise<void> }> {
  const script = join(packageRoot(), 'dist', 'bench', 'support', 's3rver-child.js');
  const child = spawn(process.execPath, [script, directory, ...buckets], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  let completeMs = 0;
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`s3rver child exited with ${code}`)));
    lines.on('line', (line) => {
      const message = JSON.parse(line) as { endpoint?: string; completeMs?: number };
      if (message.endpoint) resolve(message.endpoint);
      if (message.completeMs) completeMs += message.completeMs;
    });
  });
  const exited = once(child, 'exit');
  return {
    endpoint,
    pid: child.pid!,
    /** Time s3rver spent answering CompleteMultipartUpload so far (summed over requests). */
    completeSeconds: () => completeMs / 1000,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Polls the API one request at a time while `until` is pending; latencies in ms. */
async function probeApi(url: string, until: Promise<unknown>): Promise<number[]> {
  let running = true;
  void until.finally(() => {
    running = false;
  });
  const latencies: number[] = [];
  while (running) {
    const t0 = performance.now();
    const res = await fetch(`${url}/api/files?limit=20`).catch(() => null);
    if (res) await res.arrayBuffer();
    if (res?.ok) latencies.push(performance.now() - t0);
    await sleep(20);
  }
  return latencies;
}

/** Ledger rows by state, from the service's own gauge (one cheap request, whatever the row count). */
async function ledgerStates(url: string): Promise<Record<string, number>> {
  const res = await fetch(`${url}/metrics`).catch(() => null);
  if (!res?.ok) return {};
  const text = await res.text();
  const states: Record<string, number> = {};
  for (const m of text.matchAll(/^file_transformer_ledger_files\{state="(\w+)"\} (\d+)/gm)) {
    states[m[1]!] = Number(m[2]);
  }
  return states;
}

/**
 * Polls the ledger gauge every `pollMs`. Each poll is a /metrics request that costs the service ~2 ms
 * of its main thread (prom-client's default metrics): every 100 ms through a 1 GB run that was ~0.4 of
 * the service's CPU seconds, so the large file's runs, timed by the ledger anyway, poll less often.
 */
async function waitUntilFinished(
  service: ServeProcess,
  expected: number,
  timeoutMs: number,
  pollMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (service.child.exitCode !== null) throw new Error(`service exited with ${service.child.exitCode}`);
    const s = await ledgerStates(service.url);
    const finished = (s.done ?? 0) + (s.failed ?? 0) + (s.skipped ?? 0) + (s.gone ?? 0);
    if (finished >= expected) {
      if ((s.done ?? 0) < expected) throw new Error(`not all files converted: ${JSON.stringify(s)}`);
      return;
    }
    if (Date.now() > deadline) throw new Error(`timed out; ledger ${JSON.stringify(s)}`);
    await sleep(pollMs);
  }
}

/** Claim → outcome time of a key's latest version, from the ledger's own timings. */
async function conversionSeconds(url: string, key: string): Promise<number> {
  const res = await fetch(`${url}/api/files/${encodeURIComponent(key)}`);
  const { versions } = (await res.json()) as { versions: { startedAt: string; finishedAt: string }[] };
  const v = versions[0]!;
  return (Date.parse(v.finishedAt) - Date.parse(v.startedAt)) / 1000;
}

async function uploadSmall(client: S3Client, bucket: string, count: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `small/${String(i).padStart(5, '0')}.xml`,
          Body: smallCatalogue(i),
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

interface Row {
  case: string;
  figure: string;
  detail: string;
}

/** CPU seconds the s3rver process has used so far. */
async function s3rverCpu(pid: number): Promise<number> {
  return (await cpuSeconds(pid)) ?? Number.NaN;
}

async function benchSmall(s3: S3Process, client: S3Client, rows: Row[]): Promise<void> {
  const bucket = 'bench-small';
  await uploadSmall(client, bucket, SMALL_FILES);
  const dataDir = await mkdtemp(join(tmpdir(), 'ft-bench-small-'));
  const started = performance.now();
  const cpuBefore = await s3rverCpu(s3.pid);
  const service = await startService(s3.endpoint, bucket, dataDir);
  const tracked = trackProcess(service.child.pid!);
  try {
    await waitUntilFinished(service, SMALL_FILES, 30 * 60_000);
  } finally {
    const seconds = (performance.now() - started) / 1000;
    const { peakMiB, cpuSeconds } = tracked.stop();
    const storeCpu = (await s3rverCpu(s3.pid)) - cpuBefore;
    await service.stop();
    await rm(dataDir, { recursive: true, force: true });
    rows.push({
      case: `${SMALL_FILES} small files (10 items each), start-up scan → all done`,
      figure: `${(SMALL_FILES / seconds).toFixed(1)} files/s`,
      detail:
        `${seconds.toFixed(1)} s incl. process start; peak RSS ${peakMiB.toFixed(0)} MiB; ` +
        `CPU: service ${cpuSeconds.toFixed(1)} s, s3rver ${storeCpu.toFixed(1)} s (own process)`,
    });
  }
}

/** Runs a child to completion, following its peak RSS and CPU time. */
async function timedChild(args: string[]): Promise<{ seconds: number; peakMiB: number; cpuSeconds: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const tracked = trackProcess(child.pid!);
  const [code] = (await once(child, 'exit')) as [number | null];
  const usage = tracked.stop();
  if (code !== 0) throw new Error(`${args.join(' ')} exited with ${code}`);
  return { seconds: (performance.now() - started) / 1000, ...usage };
}

type S3Process = Awaited<ReturnType<typeof startS3Process>>;

async function benchBig(s3: S3Process, client: S3Client, rows: Row[]): Promise<void> {
  const bucket = 'bench-big';
  const { path, bytes } = await bigCatalogue(BIG_MB);
  const mb = bytes / 1024 / 1024;
  const upload = new Upload({
    client,
    params: { Bucket: bucket, Key: 'big/catalogue.xml', Body: createReadStream(path) },
    partSize: 16 * 1024 * 1024,
    queueSize: 2,
  });
  await upload.done();

  const out = join(tmpdir(), `ft-bench-convert-${process.pid}.json`);
  const alone = await timedChild([CLI, 'convert', path, '--output', out]);
  await rm(out, { force: true });
  rows.push({
    case: `${mb.toFixed(0)} MB file, converter alone (file-transformer convert, local file → local file)`,
    figure: `${(mb / alone.seconds).toFixed(1)} MB/s`,
    detail: `${alone.seconds.toFixed(1)} s; peak RSS ${alone.peakMiB.toFixed(0)} MiB; CPU ${alone.cpuSeconds.toFixed(1)} s; load ${loadavg()[0]!.toFixed(1)}`,
  });

  for (const threads of THREAD_SETTINGS) {
    const where = threads === '0' ? 'main thread' : `${threads} conversion threads`;
    // Two runs per setting: the ratio to the converter alone from a run with nothing else asking the
    // service for work, then the API's latency from a run where it is polled throughout.
    const quiet = await serviceRun(s3, client, bucket, threads, false);
    rows.push({
      case: `same file through the service, CONVERT_THREADS=${threads} (${where})`,
      figure: `${(mb / quiet.ledgerSeconds).toFixed(1)} MB/s`,
      detail:
        `claim → done ${quiet.ledgerSeconds.toFixed(1)} s (${quiet.seconds.toFixed(1)} s incl. process start), ` +
        `${(quiet.ledgerSeconds / alone.seconds).toFixed(2)}x the converter alone; of which s3rver joining ` +
        `the parts (CompleteMultipartUpload) ${quiet.completeSeconds.toFixed(1)} s, so the service's own ` +
        `${((quiet.ledgerSeconds - quiet.completeSeconds) / alone.seconds).toFixed(2)}x; ` +
        `peak RSS ${quiet.peakMiB.toFixed(0)} MiB; CPU: service ${quiet.cpuSeconds.toFixed(1)} s ` +
        `(${(quiet.cpuSeconds / alone.cpuSeconds).toFixed(2)}x the converter's; its main thread ` +
        `${quiet.mainThreadCpuSeconds.toFixed(1)} s), s3rver ${quiet.storeCpu.toFixed(1)} s ` +
        `(own process); load ${quiet.load}`,
    });
    const probed = await serviceRun(s3, client, bucket, threads, true);
    const latencies = probed.latencies.sort((a, b) => a - b);
    rows.push({
      case: `API latency while converting, CONVERT_THREADS=${threads} (GET /api/files, ${latencies.length} requests)`,
      figure: `p99 ${percentile(latencies, 99).toFixed(0)} ms`,
      detail:
        `p50 ${percentile(latencies, 50).toFixed(1)} ms, p95 ${percentile(latencies, 95).toFixed(0)} ms, ` +
        `max ${(latencies.at(-1) ?? Number.NaN).toFixed(0)} ms; that run: claim → done ` +
        `${probed.ledgerSeconds.toFixed(1)} s, CPU service ${probed.cpuSeconds.toFixed(1)} s; load ${probed.load}`,
    });
  }
}

interface ServiceRun {
  seconds: number;
  ledgerSeconds: number;
  /** Of ledgerSeconds, the wait for s3rver's CompleteMultipartUpload (it joins the parts on disk). */
  completeSeconds: number;
  peakMiB: number;
  cpuSeconds: number;
  /** Of cpuSeconds, the service's main thread (HTTP in and out, the ledger, the API). */
  mainThreadCpuSeconds: number;
  storeCpu: number;
  latencies: number[];
  load: string;
}

/** One conversion of the large file by a fresh service; `probe`: poll the API all the while. */
async function serviceRun(
  s3: S3Process,
  client: S3Client,
  bucket: string,
  threads: string,
  probe: boolean,
): Promise<ServiceRun> {
  // The previous run's output would make this one "already converted" (same source ETag).
  await client.send(new DeleteObjectCommand({ Bucket: TARGET, Key: 'big/catalogue.xml.json' }));
  const dataDir = await mkdtemp(join(tmpdir(), 'ft-bench-big-'));
  const load = loadavg()[0]!.toFixed(1);
  const started = performance.now();
  const cpuBefore = await s3rverCpu(s3.pid);
  const completeBefore = s3.completeSeconds();
  const service = await startService(s3.endpoint, bucket, dataDir, threads);
  const tracked = trackProcess(service.child.pid!);
  let ledgerSeconds = Number.NaN;
  let latencies: number[] = [];
  let seconds = Number.NaN;
  let usage = { peakMiB: 0, cpuSeconds: 0, mainThreadCpuSeconds: 0 };
  let storeCpu = 0;
  try {
    const finished = waitUntilFinished(service, 1, 60 * 60_000, BIG_POLL_MS);
    if (probe) latencies = await probeApi(service.url, finished);
    await finished;
    ledgerSeconds = await conversionSeconds(service.url, 'big/catalogue.xml');
  } finally {
    seconds = (performance.now() - started) / 1000;
    usage = tracked.stop();
    storeCpu = (await s3rverCpu(s3.pid)) - cpuBefore;
    await service.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
  const completeSeconds = s3.completeSeconds() - completeBefore;
  return { seconds, ledgerSeconds, completeSeconds, ...usage, storeCpu, latencies, load };
}

function printTable(rows: Row[]): void {
  const widths = [
    Math.max(4, ...rows.map((r) => r.case.length)),
    Math.max(6, ...rows.map((r) => r.figure.length)),
  ];
  const line = (a: string, b: string, c: string) =>
    `| ${a.padEnd(widths[0]!)} | ${b.padEnd(widths[1]!)} | ${c} |`;
  console.log(line('case', 'figure', 'detail'));
  console.log(`|${'-'.repeat(widths[0]! + 2)}|${'-'.repeat(widths[1]! + 2)}|---|`);
  for (const r of rows) console.log(line(r.case, r.figure, r.detail));
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} missing: run npm run build first`);
  const directory = await mkdtemp(join(tmpdir(), 'ft-bench-s3-'));
  const s3 = await startS3Process(directory, ['bench-small', 'bench-big', TARGET]);
  const client = createS3Client({
    region: 'us-east-1',
    endpoint: s3.endpoint,
    credentials: S3RVER_CREDENTIALS,
  });
  const rows: Row[] = [];
  const only = process.env.BENCH_ONLY;
  try {
    console.log(
      `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model}), ` +
        `CONCURRENCY=${process.env.BENCH_CONCURRENCY ?? 'default'}, load average ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}`,
    );
    if (only !== 'big') await benchSmall(s3, client, rows);
    if (only !== 'small') await benchBig(s3, client, rows);
  } finally {
    client.destroy();
    await s3.stop();
    await rm(directory, { recursive: true, force: true });
  }
  printTable(rows);
  console.log(
    `load average at the end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
