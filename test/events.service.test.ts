/**
 * Events end to end with the real service: s3rver as S3, fauxqs as SQS, the SQS source recording into
 * the service (ledger + workers). What an event does to conversion: once, even when duplicated,
 * raced by a scan, redelivered after a crash, or outlived by a slow conversion; `gone` when the
 * object was deleted first.
 */

import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { VersionSink } from '../src/contracts.js';
import { encodeEventKey } from '../src/discovery/s3-events.js';
import { SqsEventSource } from '../src/discovery/sqs.js';
import { createLogger } from '../src/log.js';
import type { Metrics } from '../src/metrics.js';
import { outputKeyFor } from '../src/worker/naming.js';
import { writeLargeCatalogue } from './support/catalogue.js';
import { FaultProxy } from './support/fault-proxy.js';
import { SQS_TEST_CREDENTIALS, startTestSqs, type TestSqs } from './support/fauxqs.js';
import { startS3rver, type TestS3 } from './support/s3rver.js';
import {
  getObjectWithMetadata,
  putObject,
  startTestService,
  type TestService,
  waitFor,
  waitForFile,
} from './support/service.js';
import { smallCatalogue } from './support/small-catalogue.js';

const logger = createLogger('silent');

function notification(...objects: { key: string; etag: string }[]) {
  return {
    Records: objects.map((o) => ({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      eventTime: new Date().toISOString(),
      eventName: 'ObjectCreated:Put',
      s3: { bucket: { name: 'xml-bucket' }, object: { key: encodeEventKey(o.key), eTag: o.etag, size: 1 } },
    })),
  };
}

async function count(
  metric: Metrics['filesTotal'] | Metrics['sqsMessagesTotal'],
  label: string,
): Promise<number> {
  const values = (await metric.get()).values;
  return values.find((v) => Object.values(v.labels).includes(label))?.value ?? 0;
}

let s3rver: TestS3;
let sqs: TestSqs;
let svc: TestService;
let proxy: FaultProxy | null;
let queueUrl: string;
let sources: SqsEventSource[];

async function start(options: { viaProxy?: boolean; visibilityTimeoutSeconds?: number } = {}) {
  s3rver = await startS3rver(['xml-bucket', 'json-bucket']);
  proxy = options.viaProxy ? await FaultProxy.start(s3rver.endpoint) : null;
  sqs = await startTestSqs();
  ({ queueUrl } = await sqs.createQueue('events', {
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 2,
    maxReceiveCount: 5,
  }));
  svc = await startTestService({
    endpoint: proxy?.url ?? s3rver.endpoint,
    env: { EVENTS: 'off', SCAN_INTERVAL_HOURS: '1000' },
  });
  await waitFor(async () => {
    const scan = await svc.service.getScan(svc.service.startupScan!.id);
    return scan?.status === 'done';
  });
}

async function startSource(sink: VersionSink = svc.service): Promise<SqsEventSource> {
  const source = new SqsEventSource({
    queueUrl,
    endpoint: sqs.endpoint,
    credentials: SQS_TEST_CREDENTIALS,
    filter: { bucket: 'xml-bucket', matchesKey: (key) => svc.service.matchesKey(key) },
    sink,
    logger,
    metrics: svc.service.metrics,
    waitTimeSeconds: 1,
    heartbeatMs: 300,
  });
  sources.push(source);
  await source.start();
  return source;
}

beforeEach(() => {
  sources = [];
  proxy = null;
});

afterEach(async () => {
  for (const s of sources) await s.stop();
  await svc?.close();
  await sqs?.close();
  await proxy?.close();
  await s3rver?.close();
});

describe('events with the service', () => {
  it('converts an uploaded file once its event arrives, without a scan', async () => {
    await start();
    await startSource();
    const etag = await putObject(svc.s3, 'xml-bucket', 'new (1).xml', smallCatalogue(1));
    await sqs.send(queueUrl, notification({ key: 'new (1).xml', etag }));
    const row = await waitForFile(svc.service, 'new (1).xml');
    expect(row).toMatchObject({ state: 'done', discoveredBy: 'event', attempts: 1 });
    const out = await getObjectWithMetadata(svc.s3, 'json-bucket', outputKeyFor('new (1).xml'));
    expect(out.metadata['source-etag']).toBe(etag);
    expect((await svc.service.listScans()).map((s) => s.trigger)).toEqual(['startup']);
    const lag = (await svc.service.metrics.eventLagSeconds.get()).values.find((v) =>
      v.metricName?.endsWith('_count'),
    );
    expect(lag?.value).toBe(1);
  });

  it('does nothing for an event naming a version the ledger already converted', async () => {
    await start();
    await startSource();
    const etag = await putObject(svc.s3, 'xml-bucket', 'a.xml', smallCatalogue(2));
    await sqs.send(queueUrl, notification({ key: 'a.xml', etag }));
    await waitForFile(svc.service, 'a.xml');
    await sqs.send(queueUrl, notification({ key: 'a.xml', etag }));
    await sqs.send(queueUrl, notification({ key: 'a.xml', etag }, { key: 'a.xml', etag: `"${etag}"` }));
    await waitFor(async () => (await count(svc.service.metrics.sqsMessagesTotal, 'deleted')) === 3);
    await svc.service.drain();
    const versions = await svc.service.getFileVersions('a.xml');
    expect(versions).toHaveLength(1);
    expect(versions[0]).toMatchObject({ state: 'done', attempts: 1 });
    expect(await count(svc.service.metrics.filesTotal, 'done')).toBe(1);
  });

  it('ends an event for an object deleted before it was read as gone', async () => {
    await start();
    const etag = await putObject(svc.s3, 'xml-bucket', 'short-lived.xml', smallCatalogue(3));
    await svc.s3.send(new DeleteObjectCommand({ Bucket: 'xml-bucket', Key: 'short-lived.xml' }));
    await startSource();
    await sqs.send(queueUrl, notification({ key: 'short-lived.xml', etag }));
    const row = await waitForFile(svc.service, 'short-lived.xml');
    expect(row.state).toBe('gone');
    expect(row.attempts).toBe(1);
    expect(await count(svc.service.metrics.sqsMessagesTotal, 'deleted')).toBe(1);
  });

  it('converts once when events and a scan race for the same versions', async () => {
    await start();
    const keys = Array.from({ length: 8 }, (_, i) => `race/${i}.xml`);
    const etags = await Promise.all(
      keys.map((key, i) => putObject(svc.s3, 'xml-bucket', key, smallCatalogue(100 + i))),
    );
    await startSource();
    await Promise.all([
      ...keys.map((key, i) => sqs.send(queueUrl, notification({ key, etag: etags[i]! }))),
      svc.service.requestScan('api'),
    ]);
    for (const key of keys) await waitForFile(svc.service, key);
    await svc.service.drain();
    for (const key of keys) {
      const versions = await svc.service.getFileVersions(key);
      expect(versions).toHaveLength(1);
      expect(versions[0]).toMatchObject({ state: 'done', attempts: 1 });
    }
    expect(await count(svc.service.metrics.filesTotal, 'done')).toBe(keys.length);
  });

  it('ends with the newer version when the events of two versions arrive in reverse order', async () => {
    await start();
    const older = await putObject(svc.s3, 'xml-bucket', 'k.xml', smallCatalogue(10));
    const newer = await putObject(svc.s3, 'xml-bucket', 'k.xml', smallCatalogue(20));
    await startSource();
    await sqs.send(queueUrl, notification({ key: 'k.xml', etag: newer }));
    await waitForFile(svc.service, 'k.xml');
    await sqs.send(queueUrl, notification({ key: 'k.xml', etag: older }));
    await waitFor(async () => (await count(svc.service.metrics.sqsMessagesTotal, 'deleted')) === 2);
    await svc.service.drain();
    const out = await getObjectWithMetadata(svc.s3, 'json-bucket', outputKeyFor('k.xml'));
    expect(out.metadata['source-etag']).toBe(newer);
    expect(out.body).toContain('Washed 20');
    const states = Object.fromEntries(
      (await svc.service.getFileVersions('k.xml')).map((v) => [v.etag, v.state]),
    );
    expect(states[newer]).toBe('done');
    expect(states[older]).not.toBe('done');
  });

  it('converts a slow large file once although it outlives the visibility timeout', async () => {
    await start({ viaProxy: true, visibilityTimeoutSeconds: 1 });
    const file = join(s3rver.directory, 'large.xml.src');
    await writeLargeCatalogue(file, 600_000, 7);
    const body = await readFile(file);
    await rm(file);
    const etag = await putObject(svc.s3, 'xml-bucket', 'large.xml', body);
    // ~3 s to read: three visibility timeouts.
    proxy!.inject({
      method: 'GET',
      path: /large\.xml/,
      fault: { kind: 'slowBody', bytesPerSecond: 200_000 },
    });
    await startSource();
    await sqs.send(queueUrl, notification({ key: 'large.xml', etag }));
    await sqs.send(queueUrl, notification({ key: 'large.xml', etag }));
    const row = await waitForFile(svc.service, 'large.xml', undefined, 60_000);
    expect(row).toMatchObject({ state: 'done', attempts: 1 });
    expect(await count(svc.service.metrics.filesTotal, 'done')).toBe(1);
    expect(await count(svc.service.metrics.sqsMessagesTotal, 'deleted')).toBe(2);
    expect((await sqs.inspect('events')).bodies).toEqual([]);
    const head = await svc.s3.send(
      new HeadObjectCommand({ Bucket: 'json-bucket', Key: outputKeyFor('large.xml') }),
    );
    expect(head.Metadata?.['source-etag']).toBe(etag);
  });

  it('after a crash between converting and deleting, the redelivered message converts nothing again', async () => {
    await start({ visibilityTimeoutSeconds: 1 });
    const etag = await putObject(svc.s3, 'xml-bucket', 'crash.xml', smallCatalogue(20));
    // The first consumer records, waits for the JSON, then dies before DeleteMessage.
    const first = await startSource({
      async recordVersions(versions, by) {
        await svc.service.recordVersions(versions, by);
        await waitForFile(svc.service, 'crash.xml');
        throw new Error('killed before DeleteMessage');
      },
    });
    await sqs.send(queueUrl, notification({ key: 'crash.xml', etag }));
    await waitFor(async () => (await count(svc.service.metrics.sqsMessagesTotal, 'failed')) === 1);
    await first.stop();
    expect((await sqs.inspect('events')).bodies).toHaveLength(1);

    await startSource();
    await waitFor(async () => (await count(svc.service.metrics.sqsMessagesTotal, 'deleted')) === 1);
    await svc.service.drain();
    expect((await sqs.inspect('events')).bodies).toEqual([]);
    const versions = await svc.service.getFileVersions('crash.xml');
    expect(versions).toHaveLength(1);
    expect(versions[0]).toMatchObject({ state: 'done', attempts: 1 });
    expect(await count(svc.service.metrics.filesTotal, 'done')).toBe(1);
  });
});
