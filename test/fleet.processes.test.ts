/**
 * Many instances as real processes: three `serve` on one PostgreSQL, one s3rver behind the fault
 * proxy (which sees every completed write), files announced in bursts through webhook calls spread
 * over the instances and found by a scan, one instance `kill -9`'d mid-way and restarted. Checked from
 * the target bucket and the proxy, not from the ledger's word: every good version written exactly
 * once with the right JSON, nothing for broken files, every instance did part of the work.
 *
 * `npm test` runs it on FLEET_FILES=150 files (the suite must stay under ten minutes on two cores);
 * `npm run test:fleet` runs the full 2,000.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { MIGRATIONS } from '../src/ledger/postgres/migrations.js';
import { type FaultyS3, startFaultyS3 } from './support/faulty-s3.js';
import { createDatabase } from './support/postgres-server.js';
import { getText, putObject, waitFor } from './support/service.js';
import { type ServeProcess, serviceEnv, spawnServe } from './support/service-process.js';
import { smallCatalogue } from './support/small-catalogue.js';

const FILES = Number(process.env.FLEET_FILES ?? 150);
const INSTANCES = 3;
/** Every 25th file is broken: it must fail, and leave no output. */
const broken = (i: number) => i % 25 === 7;
const keyOf = (i: number) => `fleet/f${String(i).padStart(5, '0')}.xml`;
const BROKEN_XML = '<items><item id="1"><category>A</category></item>';

let s3: FaultyS3;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  s3 = await startFaultyS3();
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  await s3?.close();
});

async function instanceEnv(databaseUrl: string): Promise<Record<string, string>> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ft-fleet-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  return {
    ...serviceEnv({ endpoint: s3.proxy.url, dataDir }),
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: '4',
    EVENTS: 'true',
    LOG_LEVEL: 'info',
    LEASE_SECONDS: '4',
    CONCURRENCY: '4',
    SCAN_INTERVAL_HOURS: '24',
  };
}

function awsRecord(key: string, etag: string) {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    eventTime: new Date().toISOString(),
    eventName: 'ObjectCreated:Put',
    s3: { bucket: { name: 'xml-bucket' }, object: { key: encodeURIComponent(key), eTag: etag, size: 600 } },
  };
}

async function announce(instance: ServeProcess, versions: { key: string; etag: string }[]): Promise<void> {
  const res = await fetch(`${instance.url}/api/events/s3`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ Records: versions.map((v) => awsRecord(v.key, v.etag)) }),
  });
  expect(res.status).toBeLessThan(300);
}

async function stats(instance: ServeProcess): Promise<Record<string, number>> {
  const res = await fetch(`${instance.url}/api/stats`);
  return ((await res.json()) as { files: Record<string, number> }).files;
}

async function listKeys(bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.direct.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) keys.push(o.Key!);
    token = page.NextContinuationToken;
  } while (token);
  return keys.sort();
}

/** Completed writes of one object, as the proxy saw them (PUT, or a completed multipart upload). */
function completedWrites(): Map<string, number> {
  const writes = new Map<string, number>();
  for (const r of s3.proxy.log) {
    if (r.status === undefined || r.status >= 300) continue;
    const [path, query = ''] = r.path.split('?');
    const single = r.method === 'PUT' && !query.includes('partNumber');
    const completed = r.method === 'POST' && query.includes('uploadId');
    if (!(single || completed) || !path!.startsWith('/json-bucket/fleet/')) continue;
    const key = decodeURIComponent(path!.slice('/json-bucket/'.length));
    writes.set(key, (writes.get(key) ?? 0) + 1);
  }
  return writes;
}

it(`converts ${FILES} files exactly once across ${INSTANCES} instances, one killed and restarted`, async () => {
  const db = await createDatabase(inject('postgresUrl'), 'fleet');
  cleanups.push(() => db.drop());
  const envs = await Promise.all(Array.from({ length: INSTANCES }, () => instanceEnv(db.url)));
  const instances = await Promise.all(envs.map((env) => spawnServe(env, 60_000)));
  const outputs: string[][] = instances.map((i) => i.output);
  cleanups.push(async () => Promise.all(instances.map((i) => i.stop())));

  // Upload everything first (straight to s3rver), then announce it in bursts.
  const versions: { key: string; etag: string }[] = [];
  for (let i = 0; i < FILES; i += 50) {
    const batch = Array.from({ length: Math.min(50, FILES - i) }, (_, n) => i + n);
    versions.push(
      ...(await Promise.all(
        batch.map(async (n) => ({
          key: keyOf(n),
          etag: await putObject(
            s3.direct,
            'xml-bucket',
            keyOf(n),
            broken(n) ? BROKEN_XML : smallCatalogue(n, 1),
          ),
        })),
      )),
    );
  }
  // Two thirds through webhook bursts of 25, spread over the instances; the rest only by a scan.
  const announced = versions.slice(0, Math.floor((FILES * 2) / 3));
  const bursts: { key: string; etag: string }[][] = [];
  for (let i = 0; i < announced.length; i += 25) bursts.push(announced.slice(i, i + 25));
  const half = Math.floor(bursts.length / 2);
  for (const [n, burst] of bursts.slice(0, half).entries()) await announce(instances[n % INSTANCES]!, burst);

  // Mid-way: instance 1 dies without a word, and comes back.
  await waitFor(async () => (await stats(instances[0]!)).done! >= FILES / 6, 120_000);
  await instances[1]!.kill();
  for (const [n, burst] of bursts.slice(half).entries())
    await announce(instances[n % 2 === 0 ? 0 : 2]!, burst);
  instances[1] = await spawnServe(envs[1]!, 60_000);
  outputs.push(instances[1].output);
  const scan = await fetch(`${instances[2]!.url}/api/scans`, { method: 'POST' });
  expect(scan.status).toBe(202);

  const final = await waitFor(
    async () => {
      const s = await stats(instances[0]!);
      return s.pending === 0 && s.processing === 0 && s.done! + s.failed! === FILES ? s : null;
    },
    Math.max(180_000, FILES * 300),
  );
  const good = versions.filter((_, n) => !broken(n));
  expect(final).toMatchObject({ done: good.length, failed: FILES - good.length });

  // The target bucket: exactly the good files' JSON, each written once.
  expect(await listKeys('json-bucket', 'fleet/')).toEqual(good.map((v) => `${v.key}.json`).sort());
  const writes = completedWrites();
  expect([...writes.values()].filter((n) => n !== 1)).toEqual([]);
  expect(writes.size).toBe(good.length);
  for (let n = 0; n < FILES; n += broken(n + 1) ? 1 : 7) {
    if (broken(n)) continue;
    expect(JSON.parse(await getText(s3.direct, 'json-bucket', `${keyOf(n)}.json`))).toEqual([
      {
        product_id: String(n),
        product_category: 'Jeans',
        product_description: `Bootleg Front Washed ${n}`,
        product_images: { image_1: `https://sample.com/img/${n}_1.jpg` },
        prices: [{ currency: 'EUR', value: '49.95' }],
      },
    ]);
  }
  // Every instance did part of the work (the killed one before it died), by its own log.
  const doneBy = outputs.map(
    (lines) =>
      lines
        .join('')
        .split('\n')
        .filter((l) => l.includes('"msg":"file done"')).length,
  );
  for (const n of doneBy.slice(0, INSTANCES)) expect(n).toBeGreaterThan(0);
  console.log(`files done per process (0, 1 killed, 2, 1 restarted): ${doneBy.join(', ')}`);
}, 900_000);

it('starts five instances at once on an empty database: each migration applied once, all ready', async () => {
  const db = await createDatabase(inject('postgresUrl'), 'fleet5');
  cleanups.push(() => db.drop());
  const envs = await Promise.all(Array.from({ length: 5 }, () => instanceEnv(db.url)));
  const five = await Promise.all(envs.map((env) => spawnServe({ ...env, LOG_LEVEL: 'warn' }, 90_000)));
  try {
    for (const instance of five) {
      const ready = await waitFor(async () => (await fetch(`${instance.url}/health/ready`)).ok, 30_000);
      expect(ready).toBe(true);
    }
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT id FROM migrations ORDER BY id');
      expect(rows.map((r) => r.id)).toEqual(MIGRATIONS.map((m) => m.id));
    } finally {
      await client.end();
    }
    const res = await fetch(`${five[0]!.url}/api/instances`);
    const { instances } = (await res.json()) as { instances: { status: string }[] };
    expect(instances.filter((i) => i.status === 'running')).toHaveLength(5);
  } finally {
    expect(await Promise.all(five.map((i) => i.stop()))).toEqual([0, 0, 0, 0, 0]);
  }
}, 300_000);
