/**
 * The SQS source against fauxqs (real HTTP SQS) and the real SQLite ledger: what it records, what it
 * deletes, what it leaves for the dead-letter queue, and how it keeps in-flight messages invisible.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueDoesNotExist } from '@aws-sdk/client-sqs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ObjectVersion, VersionSink } from '../src/contracts.js';
import { encodeEventKey } from '../src/discovery/s3-events.js';
import { SqsEventSource } from '../src/discovery/sqs.js';
import { createKeyFilter } from '../src/discovery/types.js';
import { type Ledger, openLedger } from '../src/ledger/index.js';
import { createLogger } from '../src/log.js';
import { createMetrics, type Metrics } from '../src/metrics.js';
import { SQS_TEST_CREDENTIALS, startTestSqs, type TestSqs, waitFor } from './support/fauxqs.js';

const filter = {
  bucket: 'xml-bucket',
  matchesKey: createKeyFilter({ sourcePrefix: '', sourceSuffixes: ['.xml'] }),
};
const logger = createLogger('silent');

function notification(...objects: { key: string; etag: string; eventName?: string; size?: number }[]) {
  return {
    Records: objects.map((o, i) => ({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventTime: new Date(Date.now() - 1000 + i).toISOString(),
      eventName: o.eventName ?? 'ObjectCreated:Put',
      s3: {
        s3SchemaVersion: '1.0',
        bucket: { name: 'xml-bucket', arn: 'arn:aws:s3:::xml-bucket' },
        object: { key: encodeEventKey(o.key), size: o.size ?? 100, eTag: o.etag, sequencer: `00${i}` },
      },
    })),
  };
}

async function counter(metrics: Metrics, event: string): Promise<number> {
  const values = (await metrics.sqsMessagesTotal.get()).values;
  return values.find((v) => v.labels.event === event)?.value ?? 0;
}

let sqs: TestSqs;
let ledger: Ledger;
let dataDir: string;
let metrics: Metrics;
let sources: SqsEventSource[];
let queueName: string;
let queueUrl: string;

beforeEach(async () => {
  sqs = await startTestSqs();
  dataDir = await mkdtemp(join(tmpdir(), 'ft-sqs-'));
  ledger = await openLedger({ dataDir });
  metrics = createMetrics();
  sources = [];
  queueName = `events-${Math.random().toString(36).slice(2, 8)}`;
  ({ queueUrl } = await sqs.createQueue(queueName, { visibilityTimeoutSeconds: 1, maxReceiveCount: 3 }));
});

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(sources.map((s) => s.stop()));
  await sqs.close();
  await ledger.close();
  await rm(dataDir, { recursive: true, force: true });
});

const ledgerSink = (): VersionSink => ({ recordVersions: (v, by) => ledger.recordVersions(v, by) });

async function startSource(
  options: Partial<ConstructorParameters<typeof SqsEventSource>[0]> = {},
): Promise<SqsEventSource> {
  const source = new SqsEventSource({
    queueUrl,
    endpoint: sqs.endpoint,
    region: 'us-east-1',
    credentials: SQS_TEST_CREDENTIALS,
    filter,
    sink: ledgerSink(),
    logger,
    metrics,
    waitTimeSeconds: 1,
    ...options,
  });
  sources.push(source);
  await source.start();
  return source;
}

async function rows() {
  return (await ledger.listFiles(null, { limit: 1000 })).files;
}

async function queueEmpty(): Promise<boolean> {
  const q = await sqs.inspect(queueName);
  return q.ready + q.inflight === 0;
}

describe('SQS event source', () => {
  it('records every version of a multi-record message with its event time, then deletes the message', async () => {
    await startSource();
    await sqs.send(queueUrl, notification({ key: 'a.xml', etag: 'e1' }, { key: 'dir/b c.xml', etag: 'e2' }));
    await waitFor('message deleted', queueEmpty);
    const files = await rows();
    expect(files.map((f) => [f.key, f.etag, f.discoveredBy, f.state]).sort()).toEqual([
      ['a.xml', 'e1', 'event', 'pending'],
      ['dir/b c.xml', 'e2', 'event', 'pending'],
    ]);
    expect(files.every((f) => f.eventTime !== null)).toBe(true);
    expect(await counter(metrics, 'received')).toBe(1);
    expect(await counter(metrics, 'deleted')).toBe(1);
  });

  it('records a duplicated message once and deletes both copies', async () => {
    await startSource();
    const body = notification({ key: 'dup.xml', etag: 'e1' });
    await sqs.send(queueUrl, body);
    await sqs.send(queueUrl, body);
    await waitFor('both deleted', async () => (await counter(metrics, 'deleted')) === 2);
    expect((await rows()).map((f) => f.key)).toEqual(['dup.xml']);
    expect(await queueEmpty()).toBe(true);
  });

  it('records versions of one key arriving in reverse order as two versions', async () => {
    await startSource();
    await sqs.send(queueUrl, notification({ key: 'k.xml', etag: 'newer' }));
    await sqs.send(queueUrl, notification({ key: 'k.xml', etag: 'older' }));
    await waitFor('both deleted', async () => (await counter(metrics, 'deleted')) === 2);
    expect((await ledger.getFileVersions('xml-bucket', 'k.xml')).map((f) => f.etag).sort()).toEqual([
      'newer',
      'older',
    ]);
  });

  it('reads SNS- and EventBridge-wrapped messages', async () => {
    await startSource();
    await sqs.send(queueUrl, {
      Type: 'Notification',
      MessageId: 'm-1',
      TopicArn: 'arn:aws:sns:us-east-1:123456789012:uploads',
      Message: JSON.stringify(notification({ key: 'via sns.xml', etag: 'e-sns' })),
    });
    await sqs.send(queueUrl, {
      version: '0',
      'detail-type': 'Object Created',
      source: 'aws.s3',
      time: '2026-11-26T10:00:00Z',
      detail: {
        bucket: { name: 'xml-bucket' },
        object: { key: 'via eventbridge.xml', size: 10, etag: 'e-eb', sequencer: '01' },
        reason: 'PutObject',
      },
    });
    await waitFor('both deleted', async () => (await counter(metrics, 'deleted')) === 2);
    expect((await rows()).map((f) => f.key).sort()).toEqual(['via eventbridge.xml', 'via sns.xml']);
  });

  it('deletes s3:TestEvent messages without recording anything', async () => {
    await startSource();
    await sqs.send(queueUrl, { Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'xml-bucket' });
    await waitFor('deleted', async () => (await counter(metrics, 'deleted')) === 1);
    expect(await rows()).toEqual([]);
    expect(await queueEmpty()).toBe(true);
  });

  it('logs and deletes an SNS SubscriptionConfirmation that reached the queue, without fetching it', async () => {
    await startSource();
    await sqs.send(queueUrl, {
      Type: 'SubscriptionConfirmation',
      TopicArn: 'arn:aws:sns:us-east-1:210987654321:uploads',
      SubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=t',
      Token: 't',
    });
    await waitFor('deleted', async () => (await counter(metrics, 'deleted')) === 1);
    expect(await rows()).toEqual([]);
    expect(await counter(metrics, 'failed')).toBe(0);
  });

  it('deletes messages whose records are all ignored (deletions, other buckets, other suffixes)', async () => {
    await startSource();
    await sqs.send(
      queueUrl,
      notification(
        { key: 'x.xml', etag: 'e', eventName: 'ObjectRemoved:Delete' },
        { key: 'x.txt', etag: 'e' },
      ),
    );
    await waitFor('deleted', async () => (await counter(metrics, 'deleted')) === 1);
    expect(await rows()).toEqual([]);
  });

  it('leaves malformed messages in the queue: seen again after the visibility timeout, then redriven to the DLQ', async () => {
    // Fake time for the queue's visibility clock (fauxqs reads Date.now()): each timeout passes when
    // the test says so, so every count below is exact.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    await startSource();
    await sqs.send(queueUrl, 'this is not json');
    await sqs.send(queueUrl, { hello: 'world' });
    // Each is received, counted failed, not deleted; after each 1 s visibility timeout it comes back.
    // maxReceiveCount 3: the third receive is the last one (counted as a redrive).
    for (let receive = 1; receive <= 3; receive++) {
      if (receive > 1) await vi.advanceTimersByTimeAsync(1000);
      await waitFor(
        `receive ${receive} of each`,
        async () => (await counter(metrics, 'failed')) === 2 * receive,
      );
      const snapshot = await sqs.inspect(queueName);
      expect(snapshot.bodies.sort()).toEqual(['this is not json', '{"hello":"world"}'].sort());
      expect(snapshot.receiveCounts).toEqual([receive, receive]);
      expect(snapshot.inflight).toBe(2);
      expect(await counter(metrics, 'received')).toBe(2 * receive);
      expect(await counter(metrics, 'redrive')).toBe(receive === 3 ? 2 : 0);
    }
    // The next receive would be the fourth: fauxqs moves them to the dead-letter queue instead.
    await vi.advanceTimersByTimeAsync(1000);
    await waitFor('both in the DLQ', async () => (await sqs.inspect(`${queueName}-dlq`)).bodies.length === 2);
    expect(await counter(metrics, 'received')).toBe(6);
    expect(await counter(metrics, 'deleted')).toBe(0);
    expect(await rows()).toEqual([]);
  });

  it('records the good records of a partly bad message but leaves the message for the DLQ', async () => {
    await startSource();
    const body = notification({ key: 'good.xml', etag: 'g' });
    const bad = structuredClone(body.Records[0]!);
    bad.s3.object.key = 'bad%ZZ.xml';
    body.Records.push(bad);
    await sqs.send(queueUrl, body);
    await waitFor('recorded', async () => (await rows()).length === 1);
    await waitFor('failed once', async () => (await counter(metrics, 'failed')) >= 1);
    expect((await rows())[0]!.key).toBe('good.xml');
    expect(await counter(metrics, 'deleted')).toBe(0);
    expect((await sqs.inspect(queueName)).bodies).toHaveLength(1);
  });

  it('keeps a message invisible with heartbeats while recording outlives the visibility timeout', async () => {
    // Virtual time for the heartbeat timer and for the queue's visibility clock alike (fauxqs runs in
    // this process and reads Date.now()); its long-poll timeouts and all I/O stay real.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slowSink: VersionSink = {
      async recordVersions(versions, by) {
        await gate;
        return ledger.recordVersions(versions, by);
      },
    };
    await startSource({ sink: slowSink, heartbeatMs: 500 });
    await sqs.send(queueUrl, notification({ key: 'slow.xml', etag: 's' }));
    await waitFor('received', async () => (await counter(metrics, 'received')) === 1);
    // Three visibility timeouts (1 s each) pass while the sink is stuck; every 500 ms beat pushes the
    // message's deadline to a full timeout from then.
    try {
      expect((await sqs.inspect(queueName)).visibilityDeadlines).toEqual([Date.now() + 1000]);
      for (let beat = 1; beat <= 6; beat++) {
        await vi.advanceTimersByTimeAsync(500);
        const renewed = Date.now() + 1000;
        await waitFor(`heartbeat ${beat}`, async () => {
          const [deadline] = (await sqs.inspect(queueName)).visibilityDeadlines;
          return deadline === renewed;
        });
      }
      const during = await sqs.inspect(queueName);
      expect(during.inflight).toBe(1);
      expect(during.receiveCounts).toEqual([1]);
    } finally {
      // Also on failure: stop() waits for the message in hand.
      release();
    }
    await waitFor('deleted', async () => (await counter(metrics, 'deleted')) === 1);
    expect(await counter(metrics, 'received')).toBe(1);
    expect((await rows()).map((f) => f.key)).toEqual(['slow.xml']);
  });

  it('receives no more messages than it has free slots', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const seen: ObjectVersion[][] = [];
    const blockingSink: VersionSink = {
      async recordVersions(versions, by) {
        seen.push(versions);
        await gate;
        return ledger.recordVersions(versions, by);
      },
    };
    await startSource({ sink: blockingSink, maxInFlight: 2, heartbeatMs: 250 });
    for (let i = 0; i < 5; i++) await sqs.send(queueUrl, notification({ key: `f${i}.xml`, etag: `e${i}` }));
    await waitFor('two in hand', () => seen.length === 2);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const snapshot = await sqs.inspect(queueName);
    expect(snapshot.inflight).toBe(2);
    expect(snapshot.ready).toBe(3);
    release();
    await waitFor('all deleted', async () => (await counter(metrics, 'deleted')) === 5);
    expect(await rows()).toHaveLength(5);
  });

  it('leaves a message whose recording failed, and the redelivery records nothing twice', async () => {
    // Fake time for the queue's visibility clock: the redelivery comes when the test moves it on.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    // First consumer: records, then "dies" before deleting (the sink throws after committing).
    const crashingSink: VersionSink = {
      async recordVersions(versions, by) {
        await ledger.recordVersions(versions, by);
        throw new Error('process killed before DeleteMessage');
      },
    };
    // Short polls: a long poll cut by stop() would still wait inside fauxqs, and take the message for
    // the stopped consumer when the test moves the clock on.
    const first = await startSource({ sink: crashingSink, waitTimeSeconds: 0 });
    await sqs.send(queueUrl, notification({ key: 'once.xml', etag: 'o' }));
    await waitFor('failed', async () => (await counter(metrics, 'failed')) === 1);
    await first.stop();
    // Left in the queue, invisible for a short while (the source shortens the timeout to 1 s here).
    const left = await sqs.inspect(queueName);
    expect(left).toMatchObject({ inflight: 1, receiveCounts: [1], visibilityDeadlines: [Date.now() + 1000] });

    const newCounts: number[] = [];
    await startSource({
      sink: {
        async recordVersions(versions, by) {
          const n = await ledger.recordVersions(versions, by);
          newCounts.push(n);
          return n;
        },
      },
    });
    await vi.advanceTimersByTimeAsync(1000);
    await waitFor('redelivered and deleted', async () => (await counter(metrics, 'deleted')) === 1);
    expect(newCounts).toEqual([0]);
    expect(await rows()).toHaveLength(1);
    expect(await queueEmpty()).toBe(true);
  });

  it('stop() ends a 20 s long poll at once', async () => {
    const source = await startSource({ waitTimeSeconds: 20 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    await source.stop();
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('is ready when the queue answers, not ready when it does not exist', async () => {
    const source = await startSource();
    await expect(source.readinessCheck().check()).resolves.toBeUndefined();
    const missing = new SqsEventSource({
      queueUrl: `${queueUrl}-missing`,
      endpoint: sqs.endpoint,
      credentials: SQS_TEST_CREDENTIALS,
      filter,
      sink: ledgerSink(),
      logger,
      metrics,
    });
    // The queue's own answer (not a network or credentials failure).
    const noQueue = { name: 'QueueDoesNotExist', $metadata: { httpStatusCode: 400 } };
    await expect(missing.readinessCheck().check()).rejects.toBeInstanceOf(QueueDoesNotExist);
    await expect(missing.readinessCheck().check()).rejects.toMatchObject(noQueue);
    await expect(missing.start()).rejects.toMatchObject(noQueue);
    await missing.stop();
  });
});
