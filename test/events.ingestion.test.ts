/**
 * Event ingestion as `serve` wires it (src/app/events.ts, started by startApp): the embedded default (s3rver's
 * events → embedded queue → service), an SQS_QUEUE_URL queue, the webhook through the real API with
 * the token, and EVENTS=off.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApi } from '../src/api/server.js';
import { type App, startApp } from '../src/app/index.js';
import { loadConfig } from '../src/config/index.js';
import { encodeEventKey } from '../src/discovery/s3-events.js';
import { createLogger } from '../src/log.js';
import { createS3Client } from '../src/storage/s3-client.js';
import { outputKeyFor } from '../src/worker/naming.js';
import { startTestSqs, type TestSqs } from './support/fauxqs.js';
import { startS3rver, type TestS3 } from './support/s3rver.js';
import { startTestService, type TestService, waitFor, waitForFile } from './support/service.js';
import { smallCatalogue } from './support/small-catalogue.js';

const logger = createLogger('silent');
const TOKEN = 'ingestion-test-token';
const CATALOGUE = smallCatalogue(7, 1);

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => {});
});

async function scansOf(service: App) {
  return (await service.listScans()).map((s) => s.trigger);
}

/** The embedded default's config in a fresh directory (removed after the test). */
async function embeddedConfig(name: string, env: Record<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), `ft-ingest-${name}-`));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return loadConfig({
    envFile: null,
    cwd: dir,
    env: { DATA_DIR: join(dir, 'data'), EMBEDDED_S3_PORT: '0', LOG_LEVEL: 'warn', ...env },
  });
}

async function startEmbeddedService(config: ReturnType<typeof loadConfig>): Promise<App> {
  const service = await startApp(config, { logger, sqsWaitTimeSeconds: 2 });
  cleanups.push(() => service.stop({ graceMs: 1000 }));
  return service;
}

describe('event ingestion as serve runs it', () => {
  it('embedded default: an upload to the embedded bucket is converted from its event, without a scan', async () => {
    const config = await embeddedConfig('embedded', { EMBEDDED_SQS_PORT: '0', SCAN_INTERVAL_HOURS: '1000' });
    expect(config.embedded).toBe(true);
    const service = await startEmbeddedService(config);
    const ingestion = service.events;
    expect(ingestion.embedded).not.toBeNull();
    await waitForFile(service, 'test-file.xml');

    const s3 = createS3Client(service.config.s3);
    cleanups.push(async () => s3.destroy());
    const key = 'incoming/partner feed (2).xml';
    await s3.send(new PutObjectCommand({ Bucket: config.sourceBucket, Key: key, Body: CATALOGUE }));
    const row = await waitForFile(service, key);
    expect(row).toMatchObject({ state: 'done', discoveredBy: 'event', attempts: 1 });
    await s3.send(new HeadObjectCommand({ Bucket: config.targetBucket, Key: outputKeyFor(key) }));
    expect(await scansOf(service)).toEqual(['startup']);
    expect(await ingestion.readinessChecks[0]!.check()).toBeUndefined();
  });

  it('embedded default: a taken EMBEDDED_SQS_PORT is a configuration error naming it', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => blocker.close(r)));
    const taken = (blocker.address() as AddressInfo).port;
    const config = await embeddedConfig('port', { EMBEDDED_SQS_PORT: String(taken) });
    await expect(startApp(config, { logger })).rejects.toMatchObject({
      name: 'ConfigError',
      variable: 'EMBEDDED_SQS_PORT',
    });
  });

  describe('against a service on s3rver', () => {
    let s3rver: TestS3;
    let sqs: TestSqs;
    let svc: TestService;

    /** s3rver and fauxqs; the service comes after, as its env may name a queue. */
    async function startBackends() {
      s3rver = await startS3rver(['xml-bucket', 'json-bucket']);
      cleanups.push(() => s3rver.close());
      sqs = await startTestSqs();
      cleanups.push(() => sqs.close());
    }

    async function startService(env: Record<string, string>) {
      svc = await startTestService({
        endpoint: s3rver.endpoint,
        env: { SCAN_INTERVAL_HOURS: '1000', ...env },
        deps: { sqsWaitTimeSeconds: 1 },
      });
      cleanups.push(() => svc.close());
    }

    async function startAll(env: Record<string, string>) {
      await startBackends();
      await startService(env);
    }

    it('consumes SQS_QUEUE_URL (with SQS_ENDPOINT) using the S3 region and credentials', async () => {
      await startBackends();
      const { queueUrl } = await sqs.createQueue('prod-like');
      await startService({ EVENTS: 'on', SQS_QUEUE_URL: queueUrl, SQS_ENDPOINT: sqs.endpoint });
      const ingestion = svc.service.events;
      expect(ingestion.source).not.toBeNull();
      const put = await svc.s3.send(
        new PutObjectCommand({ Bucket: 'xml-bucket', Key: 'q.xml', Body: CATALOGUE }),
      );
      await sqs.send(queueUrl, {
        Records: [
          {
            eventName: 'ObjectCreated:Put',
            eventTime: new Date().toISOString(),
            s3: { bucket: { name: 'xml-bucket' }, object: { key: encodeEventKey('q.xml'), eTag: put.ETag } },
          },
        ],
      });
      expect(await waitForFile(svc.service, 'q.xml')).toMatchObject({ state: 'done', discoveredBy: 'event' });
      // The queue is part of readiness.
      const app = await buildApi(svc.service, { plugins: ingestion.plugins });
      cleanups.push(() => app.close());
      const ready = (await app.inject({ method: 'GET', url: '/health/ready' })).json();
      expect(ready.checks).toContainEqual(expect.objectContaining({ name: 'queue', ok: true }));
    });

    it('serves the webhook through the API, behind the token', async () => {
      await startAll({ EVENTS: 'on', API_TOKEN: TOKEN });
      const ingestion = svc.service.events;
      expect(ingestion.source).toBeNull();
      const app: FastifyInstance = await buildApi(svc.service, {
        apiToken: TOKEN,
        plugins: ingestion.plugins,
      });
      cleanups.push(() => app.close());
      const put = await svc.s3.send(
        new PutObjectCommand({ Bucket: 'xml-bucket', Key: 'w h.xml', Body: CATALOGUE }),
      );
      const payload = {
        EventName: 's3:ObjectCreated:Put',
        Records: [
          {
            eventSource: 'minio:s3',
            eventName: 's3:ObjectCreated:Put',
            eventTime: new Date().toISOString(),
            s3: {
              bucket: { name: 'xml-bucket' },
              object: { key: encodeEventKey('w h.xml'), eTag: put.ETag },
            },
          },
        ],
      };
      const denied = await app.inject({ method: 'POST', url: '/api/events/s3', payload });
      expect(denied.statusCode).toBe(401);
      expect(await svc.service.getFileVersions('w h.xml')).toEqual([]);
      const ok = await app.inject({
        method: 'POST',
        url: '/api/events/s3',
        payload,
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toMatchObject({ status: 'recorded', versions: 1, recorded: 1 });
      expect(await waitForFile(svc.service, 'w h.xml')).toMatchObject({
        state: 'done',
        discoveredBy: 'event',
      });
    });

    it('stops start-up with a configuration error naming SQS_QUEUE_URL when the queue does not exist', async () => {
      await startBackends();
      const { queueUrl } = await sqs.createQueue('exists');
      await expect(
        startService({ EVENTS: 'on', SQS_QUEUE_URL: `${queueUrl}-typo`, SQS_ENDPOINT: sqs.endpoint }),
      ).rejects.toMatchObject({
        name: 'ConfigError',
        variable: 'SQS_QUEUE_URL',
      });
    });

    it('EVENTS=off: no queue, no webhook', async () => {
      await startAll({ EVENTS: 'off' });
      const ingestion = svc.service.events;
      expect(ingestion).toMatchObject({ plugins: [], readinessChecks: [], source: null, embedded: null });
      const app = await buildApi(svc.service, { plugins: ingestion.plugins });
      cleanups.push(() => app.close());
      const res = await app.inject({ method: 'POST', url: '/api/events/s3', payload: { Records: [] } });
      expect(res.statusCode).toBe(404);
      await waitFor(async () => (await scansOf(svc.service)).length === 1);
    });
  });
});
