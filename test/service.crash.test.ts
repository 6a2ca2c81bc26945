/**
 * kill -9 in the middle of a conversion. The real service (`node dist/src/cli/main.js serve`, built by
 * `npm test`) converts a large catalogue whose download the fault proxy slows down; once part of the
 * output has been uploaded (multipart) the process is killed with SIGKILL. No partial output may be
 * visible; after a restart the expired lease is reclaimed and every file ends converted exactly once,
 * with the bytes a direct conversion gives.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { convertChunks } from '../src/convert/index.js';
import { writeLargeCatalogue } from './support/catalogue.js';
import { objectPath } from './support/fault-proxy.js';
import { type FaultyS3, startFaultyS3 } from './support/faulty-s3.js';
import { putObject, waitFor } from './support/service.js';
import { type ServeProcess, serviceEnv, spawnServe } from './support/service-process.js';
import { smallCatalogue } from './support/small-catalogue.js';

const SOURCE = 'xml-bucket';
const TARGET = 'json-bucket';
const BIG_KEY = 'big/catalogue.xml';
const SMALL_KEYS = ['small/a.xml', 'small/b.xml', 'small/c.xml'];
/** Large enough that the output needs several 8 MiB parts (multipart upload). */
const BIG_BYTES = 28 * 1024 * 1024;

let s3: FaultyS3;
let work: string;
let bigPath: string;
let service: ServeProcess | null = null;

async function startService(): Promise<ServeProcess> {
  return spawnServe({
    ...serviceEnv({ endpoint: s3.proxy.url, dataDir: join(work, 'data') }),
    // A crashed instance's rows come back after this long.
    LEASE_SECONDS: '2',
    RETRY_BASE_SECONDS: '0.05',
    LOG_LEVEL: 'info',
  });
}

interface Row {
  key: string;
  state: string;
  attempts: number;
  itemsWritten: number | null;
}

async function versions(url: string, key: string): Promise<Row[]> {
  const res = await fetch(`${url}/api/files/${encodeURIComponent(key)}`);
  if (res.status === 404) return [];
  return ((await res.json()) as { versions: Row[] }).versions;
}

async function targetKeys(): Promise<string[]> {
  const res = await s3.direct.send(new ListObjectsV2Command({ Bucket: TARGET }));
  return (res.Contents ?? []).map((o) => o.Key!).sort();
}

async function sha256OfObject(key: string): Promise<string> {
  const res = await s3.direct.send(new GetObjectCommand({ Bucket: TARGET, Key: key }));
  const hash = createHash('sha256');
  for await (const chunk of res.Body as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest('hex');
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ft-crash-'));
  bigPath = join(work, 'big.xml');
  await writeLargeCatalogue(bigPath, BIG_BYTES, 3);
  s3 = await startFaultyS3();
  await new Upload({
    client: s3.direct,
    params: { Bucket: SOURCE, Key: BIG_KEY, Body: createReadStream(bigPath) },
  }).done();
  for (const [i, key] of SMALL_KEYS.entries())
    await putObject(s3.direct, SOURCE, key, smallCatalogue(i * 100, 4));
});

afterAll(async () => {
  await service?.kill();
  await s3?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

test('kill -9 mid-conversion: no partial output, and after a restart every file converted exactly once', async () => {
  // The first download of the big file trickles (~28 s for the whole file): the kill lands mid-way.
  s3.proxy.inject({
    method: 'GET',
    path: objectPath(SOURCE, BIG_KEY),
    times: 1,
    fault: { kind: 'slowBody', bytesPerSecond: 1024 * 1024, chunkBytes: 64 * 1024 },
  });
  const partUpload = objectPath(TARGET, `${BIG_KEY}.json`, 'partNumber=');
  const completions = objectPath(TARGET, `${BIG_KEY}.json`, 'uploadId=');

  service = await startService();
  const first = service;
  // Small files done, and at least one part of the big output uploaded: the kill interrupts an
  // upload in progress, not only a download.
  await waitFor(
    async () => {
      for (const key of SMALL_KEYS) if ((await versions(first.url, key))[0]?.state !== 'done') return false;
      return s3.proxy.count('PUT', partUpload) >= 1;
    },
    60_000,
    'the small files and a first part of the big output',
  );
  const [inFlight] = await versions(first.url, BIG_KEY);
  expect(inFlight).toMatchObject({ state: 'processing', attempts: 1 });

  await first.kill();
  expect(first.child.signalCode).toBe('SIGKILL');

  // Nothing of the big file is visible: its parts belong to a multipart upload never completed.
  expect(await targetKeys()).toEqual(SMALL_KEYS.map((k) => `${k}.json`));
  expect(s3.proxy.count('POST', completions)).toBe(0);

  service = await startService();
  const second = service;
  const done = await waitFor(
    async () => {
      const [row] = await versions(second.url, BIG_KEY);
      return row?.state === 'done' ? row : null;
    },
    90_000,
    'the big file to be converted after the restart',
  );
  // Claimed once by the killed process and once more after its lease expired.
  expect(done.attempts).toBe(2);

  expect(await targetKeys()).toEqual([BIG_KEY, ...SMALL_KEYS].map((k) => `${k}.json`).sort());
  // Exactly once: one completed upload of the big output, one PUT of each small output, one ledger
  // row per key.
  expect(s3.proxy.count('POST', completions)).toBe(1);
  for (const key of SMALL_KEYS) {
    expect(s3.proxy.count('PUT', objectPath(TARGET, `${key}.json`))).toBe(1);
    const rows = await versions(second.url, key);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ state: 'done', attempts: 1 });
  }
  expect(await versions(second.url, BIG_KEY)).toHaveLength(1);

  // The bytes are those of a direct conversion of the same file.
  const expected = await convertChunks(createReadStream(bigPath, { highWaterMark: 1 << 20 }));
  expect(expected.json).not.toBeNull();
  expect(done.itemsWritten).toBe(expected.report.itemsWritten);
  const expectedHash = createHash('sha256').update(expected.json!).digest('hex');
  expect(await sha256OfObject(`${BIG_KEY}.json`)).toBe(expectedHash);

  expect(await second.stop()).toBe(0);
}, 240_000);
