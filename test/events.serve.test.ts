/**
 * `serve` as `npm start` runs it (a child process, embedded defaults): an upload to the embedded bucket
 * is converted from its event with no scan, the queue is part of readiness, and SIGTERM still stops
 * at once (the 20 s long poll is aborted). Needs `npm run build` (npm test does it).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { S3RVER_CREDENTIALS } from '../src/storage/embedded-s3.js';
import { createS3Client } from '../src/storage/s3-client.js';
import { outputKeyFor } from '../src/worker/naming.js';
import { waitFor } from './support/fauxqs.js';
import { freePort, type ServeProcess, spawnServe } from './support/service-process.js';
import { smallCatalogue } from './support/small-catalogue.js';

let serve: ServeProcess | null = null;
let dir: string | null = null;

afterEach(async () => {
  await serve?.kill();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function metric(url: string, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(pattern.exec(text)?.[1] ?? 0);
}

describe('serve on embedded defaults', () => {
  it('converts an upload from its event (no scan), reports the queue ready, stops promptly', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ft-events-serve-'));
    const s3Port = await freePort();
    serve = await spawnServe({
      DATA_DIR: join(dir, 'data'),
      HOST: '127.0.0.1',
      EMBEDDED_S3_PORT: String(s3Port),
      EMBEDDED_SQS_PORT: '0',
      SCAN_INTERVAL_HOURS: '1000',
      LOG_LEVEL: 'warn',
    });
    const url = serve.url;
    const ready = await waitFor('ready', async () => {
      const res = await fetch(`${url}/health/ready`);
      return res.ok ? ((await res.json()) as { checks: { name: string; ok: boolean }[] }) : null;
    });
    expect(ready.checks).toContainEqual(expect.objectContaining({ name: 'queue', ok: true }));

    const s3 = createS3Client({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${s3Port}`,
      credentials: S3RVER_CREDENTIALS,
    });
    try {
      const key = 'drop zone/feed + more (1).xml';
      await s3.send(new PutObjectCommand({ Bucket: 'xml-bucket', Key: key, Body: smallCatalogue(1) }));
      await waitFor('the JSON', () =>
        s3.send(new HeadObjectCommand({ Bucket: 'json-bucket', Key: outputKeyFor(key) })).catch(() => null),
      );
      const files = (await (await fetch(`${url}/api/files?prefix=drop`)).json()) as {
        files: { key: string; discoveredBy: string; state: string }[];
      };
      expect(files.files).toEqual([expect.objectContaining({ key, discoveredBy: 'event', state: 'done' })]);
      expect(
        await metric(url, /file_transformer_sqs_messages_total\{event="deleted"\} (\d+)/),
      ).toBeGreaterThan(0);
      expect(await metric(url, /file_transformer_scan_seconds_count (\d+)/)).toBe(1);
    } finally {
      s3.destroy();
    }

    const started = Date.now();
    expect(await serve.stop()).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
