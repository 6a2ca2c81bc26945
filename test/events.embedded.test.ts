/**
 * The embedded event pipeline: real s3rver → forwarder (AWS notification format) → fauxqs → SQS source
 * → real SQLite ledger. Each upload must land in the ledger under its exact key and the ETag S3 reports,
 * so events and scans name the same version.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { Upload } from '@aws-sdk/lib-storage';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqsClient, SqsEventSource } from '../src/discovery/sqs.js';
import { createKeyFilter } from '../src/discovery/types.js';
import { type Ledger, normalizeEtag, openLedger } from '../src/ledger/index.js';
import { createLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { type EmbeddedEvents, startEmbeddedEvents } from '../src/storage/embedded-events.js';
import { createS3Client } from '../src/storage/s3-client.js';
import { waitFor } from './support/fauxqs.js';
import { S3RVER_CREDENTIALS, startS3rver, type TestS3 } from './support/s3rver.js';

const logger = createLogger('silent');
const filter = {
  bucket: 'xml-bucket',
  matchesKey: createKeyFilter({ sourcePrefix: '', sourceSuffixes: ['.xml'] }),
};

let s3rver: TestS3;
let s3: S3Client;
let events: EmbeddedEvents;
let ledger: Ledger;
let dataDir: string;
let source: SqsEventSource | null;

beforeEach(async () => {
  s3rver = await startS3rver(['xml-bucket', 'json-bucket']);
  s3 = createS3Client({ region: 'us-east-1', endpoint: s3rver.endpoint, credentials: S3RVER_CREDENTIALS });
  events = await startEmbeddedEvents({ s3: s3rver.server, bucket: 'xml-bucket', port: 0, logger });
  dataDir = await mkdtemp(join(tmpdir(), 'ft-embedded-events-'));
  ledger = await openLedger({ dataDir });
  source = null;
});

afterEach(async () => {
  await source?.stop();
  await events.stop();
  s3.destroy();
  await s3rver.close();
  await ledger.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function startSource() {
  source = new SqsEventSource({
    queueUrl: events.queueUrl,
    endpoint: events.endpoint,
    region: events.region,
    credentials: events.credentials,
    filter,
    sink: { recordVersions: (v, by) => ledger.recordVersions(v, by) },
    logger,
    metrics: createMetrics(),
    waitTimeSeconds: 1,
  });
  await source.start();
}

async function etagOf(key: string): Promise<string> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: 'xml-bucket', Key: key }));
  return normalizeEtag(head.ETag!);
}

async function ledgerVersions() {
  const files = (await ledger.listFiles(null, { limit: 100 })).files;
  return files
    .map((f) => ({ key: f.key, etag: f.etag, by: f.discoveredBy }))
    .sort((a, b) => (a.key < b.key ? -1 : 1));
}

describe('embedded events (s3rver → fauxqs → SQS source)', () => {
  it('records uploads under their exact keys and S3 ETags, whatever the characters', async () => {
    await startSource();
    const keys = ['plain.xml', 'with space (1).xml', 'c++/a+b.xml', '50% off.xml', 'Ökö/商品 ✓.xml'];
    for (const key of keys) {
      await s3.send(
        new PutObjectCommand({ Bucket: 'xml-bucket', Key: key, Body: `<products>${key}</products>` }),
      );
    }
    await waitFor('all recorded', async () => (await ledgerVersions()).length === keys.length);
    const expected = await Promise.all(
      keys.map(async (key) => ({ key, etag: await etagOf(key), by: 'event' })),
    );
    expect(await ledgerVersions()).toEqual(expected.sort((a, b) => (a.key < b.key ? -1 : 1)));
  });

  it('records copies (s3rver leaves their ETag out) and multipart uploads (ObjectCreated:Post)', async () => {
    await startSource();
    await s3.send(new PutObjectCommand({ Bucket: 'xml-bucket', Key: 'original.xml', Body: '<products/>' }));
    await s3.send(
      new CopyObjectCommand({ Bucket: 'xml-bucket', Key: 'copy.xml', CopySource: 'xml-bucket/original.xml' }),
    );
    const big = Buffer.alloc(6 * 1024 * 1024, 'x');
    await new Upload({
      client: s3,
      params: { Bucket: 'xml-bucket', Key: 'multipart.xml', Body: big },
      partSize: 5 * 1024 * 1024,
    }).done();
    await waitFor('three recorded', async () => (await ledgerVersions()).length === 3);
    expect(await ledgerVersions()).toEqual([
      { key: 'copy.xml', etag: await etagOf('copy.xml'), by: 'event' },
      { key: 'multipart.xml', etag: await etagOf('multipart.xml'), by: 'event' },
      { key: 'original.xml', etag: await etagOf('original.xml'), by: 'event' },
    ]);
  });

  it('forwards only the source bucket, in the AWS format (URL-encoded keys, eTag, size, sequencer)', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'json-bucket', Key: 'out.json', Body: '[]' }));
    await s3.send(new PutObjectCommand({ Bucket: 'xml-bucket', Key: 'a b+c.xml', Body: '<products/>' }));
    await s3.send(new DeleteObjectCommand({ Bucket: 'xml-bucket', Key: 'a b+c.xml' }));
    await events.flush();
    const sqsClient = createSqsClient(events);
    const res = await sqsClient.send(
      new ReceiveMessageCommand({ QueueUrl: events.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    sqsClient.destroy();
    const records = (res.Messages ?? []).flatMap((m) => JSON.parse(m.Body!).Records);
    expect(records.map((r: { eventName: string }) => r.eventName).sort()).toEqual([
      'ObjectCreated:Put',
      'ObjectRemoved:Delete',
    ]);
    const created = records.find((r: { eventName: string }) => r.eventName === 'ObjectCreated:Put');
    expect(created.s3.bucket.name).toBe('xml-bucket');
    expect(created.s3.object).toMatchObject({ key: 'a+b%2Bc.xml', size: 11 });
    expect(created.s3.object.eTag).toMatch(/^[0-9a-f]{32}$/);
    expect(created.s3.object.sequencer).toMatch(/^[0-9A-F]+$/);
    expect(Number.isNaN(Date.parse(created.eventTime))).toBe(false);
  });
});
