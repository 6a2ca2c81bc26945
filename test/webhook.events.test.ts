/**
 * The S3 webhook over real HTTP, into the real SQLite ledger: MinIO- and SNS-shaped bodies, auth with
 * and without the token, bad bodies, SNS subscription handshakes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installAuth } from '../src/api/auth.js';
import { apiErrorSchema, installErrorHandling } from '../src/api/errors.js';
import { eventsPlugin, isTrustedSubscribeUrl } from '../src/api/events.js';
import type { ServiceApi } from '../src/api/types.js';
import { encodeEventKey } from '../src/discovery/s3-events.js';
import { createKeyFilter } from '../src/discovery/types.js';
import { type Ledger, openLedger } from '../src/ledger/index.js';
import { createLogger } from '../src/log.js';
import { createMetrics, type Metrics } from '../src/metrics.js';

const TOKEN = 'webhook-test-token-1234';
const filter = {
  bucket: 'xml-bucket',
  matchesKey: createKeyFilter({ sourcePrefix: '', sourceSuffixes: ['.xml'] }),
};
const logger = createLogger('silent');

let ledger: Ledger;
let dataDir: string;
let metrics: Metrics;
let app: FastifyInstance | null;
let base: string;
let fetched: string[];

function minioBody(...keys: string[]) {
  return {
    EventName: 's3:ObjectCreated:Put',
    Key: `xml-bucket/${keys[0]}`,
    Records: keys.map((key, i) => ({
      eventVersion: '2.0',
      eventSource: 'minio:s3',
      awsRegion: '',
      eventTime: '2026-11-26T10:00:00.000Z',
      eventName: 's3:ObjectCreated:Put',
      userIdentity: { principalId: 'minioadmin' },
      requestParameters: { principalId: 'minioadmin', region: '', sourceIPAddress: '172.18.0.1' },
      responseElements: {
        'x-amz-request-id': '17B2C3D4E5F6A7B8',
        'x-minio-origin-endpoint': 'http://minio:9000',
      },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'Config',
        bucket: {
          name: 'xml-bucket',
          ownerIdentity: { principalId: 'minioadmin' },
          arn: 'arn:aws:s3:::xml-bucket',
        },
        object: {
          key: encodeEventKey(key),
          size: 1234,
          eTag: `etag${i}`,
          contentType: 'application/xml',
          userMetadata: { 'content-type': 'application/xml' },
          sequencer: `17B2C3D4E5F6A7B${i}`,
        },
      },
      source: { host: '172.18.0.1', port: '', userAgent: 'MinIO (linux; amd64) minio-go/v7.0.70' },
    })),
  };
}

async function startApp(
  options: {
    apiToken?: string;
    pluginToken?: boolean;
    subscribeAnswer?: () => Promise<number>;
    versionsPerSecond?: number;
  } = {},
) {
  // The API's own parts that apply to every route (auth hook, error shape), plus this plugin.
  const fastify = Fastify({ logger: false });
  fastify.addSchema(apiErrorSchema);
  installErrorHandling(fastify);
  installAuth(fastify, options.apiToken);
  await fastify.register(
    eventsPlugin({
      sink: { recordVersions: (v, by) => ledger.recordVersions(v, by) },
      filter,
      logger,
      metrics,
      apiToken: options.pluginToken ? options.apiToken : undefined,
      versionsPerSecond: options.versionsPerSecond,
      fetchUrl: async (url) => {
        fetched.push(url);
        const status = options.subscribeAnswer ? await options.subscribeAnswer() : 200;
        return { ok: status < 300, status };
      },
    }),
    { service: {} as ServiceApi },
  );
  base = await fastify.listen({ host: '127.0.0.1', port: 0 });
  app = fastify;
}

async function post(body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/api/events/s3`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function keys() {
  return (await ledger.listFiles(null, { limit: 100 })).files.map((f) => f.key).sort();
}

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'ft-webhook-'));
  ledger = await openLedger({ dataDir });
  metrics = createMetrics();
  fetched = [];
  app = null;
});

afterEach(async () => {
  await app?.close();
  await ledger.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('POST /api/events/s3', () => {
  it('records the versions of a MinIO notification before answering 200', async () => {
    await startApp();
    const res = await post(minioBody('in/partner feed (1).xml', 'c++/50% off ✓.xml'));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'recorded', versions: 2, recorded: 2 });
    expect(await keys()).toEqual(['c++/50% off ✓.xml', 'in/partner feed (1).xml']);
    const again = await post(minioBody('in/partner feed (1).xml'));
    expect(again.body).toMatchObject({ versions: 1, recorded: 0 });
  });

  it('takes SNS-wrapped notifications sent as text/plain', async () => {
    await startApp();
    const res = await fetch(`${base}/api/events/s3`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' },
      body: JSON.stringify({
        Type: 'Notification',
        MessageId: 'm',
        Message: JSON.stringify(minioBody('sns.xml')),
      }),
    });
    expect(res.status).toBe(200);
    expect(await keys()).toEqual(['sns.xml']);
  });

  it('answers 200 to a test event and records nothing', async () => {
    await startApp();
    const res = await post({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'xml-bucket' });
    expect(res).toEqual({ status: 200, body: { status: 'test-event' } });
    expect(await keys()).toEqual([]);
  });

  it('answers 400 to a body that is not JSON or not a notification', async () => {
    await startApp();
    const notJson = await post('{"Records": [');
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toBe('BadRequest');
    const notNotification = await post({ hello: 'world' });
    expect(notNotification.status).toBe(400);
    expect(String(notNotification.body.message)).toMatch(/not an S3 notification/);
  });

  it('answers 400 naming a record whose key is malformed, after recording the good ones', async () => {
    await startApp();
    const body = minioBody('good.xml', 'bad.xml');
    body.Records[1]!.s3.object.key = 'bad%ZZ.xml';
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(String(res.body.message)).toMatch(/record 1/);
    expect(await keys()).toEqual(['good.xml']);
  });

  it('answers 503 when the ledger cannot record, so the sender retries', async () => {
    await startApp();
    await ledger.close();
    const res = await post(minioBody('x.xml'));
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      error: 'ServiceUnavailable',
      message: 'the ledger is unavailable; send the notification again',
    });
    ledger = await openLedger({ dataDir });
    expect(await keys()).toEqual([]);
  });

  it('answers HEAD (MinIO checks the target is up)', async () => {
    await startApp({ apiToken: TOKEN });
    const res = await fetch(`${base}/api/events/s3`, { method: 'HEAD' });
    expect(res.status).toBe(200);
  });
});

describe('floods and amplification are bounded', () => {
  it('refuses a notification of more than 1,000 records as a whole, recording nothing', async () => {
    await startApp({ versionsPerSecond: 10_000 });
    const keysIn = Array.from({ length: 1001 }, (_, i) => `flood/${i}.xml`);
    const res = await post(minioBody(...keysIn));
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/1001 records in one notification; at most 1000/);
    expect(await keys()).toEqual([]);
  });

  it('answers a body of bad records with a short message (the first reasons and a count)', async () => {
    await startApp({ versionsPerSecond: 10_000 });
    const Records = Array.from({ length: 1000 }, (_, i) => ({
      eventName: 'ObjectCreated:Put',
      s3: { bucket: { name: 'xml-bucket' }, object: { key: `${'%ZZ'.repeat(100)}bad-${i}.xml`, eTag: 'e' } },
    }));
    const res = await post({ Records });
    expect(res.status).toBe(400);
    const message = String(res.body.message);
    expect(message).toMatch(/and 990 more$/);
    expect(message.length).toBeLessThan(3000);
  });

  it("records keys up to S3's 1,024 bytes and refuses longer ones", async () => {
    await startApp({ versionsPerSecond: 10_000 });
    const longest = `${'é'.repeat(510)}.xml`; // 1,024 bytes of UTF-8
    const tooLong = `${'é'.repeat(511)}.xml`; // 1,026 bytes
    const res = await post(minioBody(longest, tooLong));
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/record 1: key .* is longer than S3's 1024 bytes/);
    expect(await keys()).toEqual([longest]);
  });

  it('beyond its rate of object versions answers 429 with Retry-After, recording nothing of that body', async () => {
    // 0.2 versions a second: a burst of 5.
    await startApp({ versionsPerSecond: 0.2 });
    const first = await post(minioBody('r1.xml', 'r2.xml', 'r3.xml', 'r4.xml', 'r5.xml'));
    expect(first.status).toBe(200);
    const res = await fetch(`${base}/api/events/s3`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(minioBody('r6.xml', 'r7.xml', 'r8.xml')),
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await res.json()).toMatchObject({ error: 'TooManyRequests' });
    expect(await keys()).toEqual(['r1.xml', 'r2.xml', 'r3.xml', 'r4.xml', 'r5.xml']);
  });
});

describe('webhook auth', () => {
  it("with the API's bearer check: 401 without the token, 401 with a wrong one, 200 with it", async () => {
    await startApp({ apiToken: TOKEN });
    expect((await post(minioBody('a.xml'))).status).toBe(401);
    expect((await post(minioBody('a.xml'), { authorization: 'Bearer nope-nope-nope' })).status).toBe(401);
    expect(await keys()).toEqual([]);
    expect((await post(minioBody('a.xml'), { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    expect(await keys()).toEqual(['a.xml']);
  });

  it('with the token given to the plugin: bearer or Basic password (SNS) accepted, others refused', async () => {
    await startApp({ apiToken: TOKEN, pluginToken: true });
    expect((await post(minioBody('a.xml'))).status).toBe(401);
    const wrongBasic = `Basic ${Buffer.from('sns:wrong-password').toString('base64')}`;
    expect((await post(minioBody('a.xml'), { authorization: wrongBasic })).status).toBe(401);
    expect((await post(minioBody('a.xml'), { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    const basic = `Basic ${Buffer.from(`sns:${TOKEN}`).toString('base64')}`;
    expect((await post(minioBody('b.xml'), { authorization: basic })).status).toBe(200);
    expect(await keys()).toEqual(['a.xml', 'b.xml']);
    const unauthorized = (await metrics.webhookEventsTotal.get()).values.find(
      (v) => v.labels.outcome === 'unauthorized',
    );
    expect(unauthorized?.value).toBe(2);
  });

  it('without a token configured, anyone on loopback may post', async () => {
    await startApp();
    expect((await post(minioBody('open.xml'))).status).toBe(200);
  });
});

describe('SNS subscription handshake', () => {
  const confirmation = (subscribeUrl: string) => ({
    Type: 'SubscriptionConfirmation',
    MessageId: '165545c9-2a5c-472c-8df2-7ff2be2b3b1b',
    Token: '2336412f37f',
    TopicArn: 'arn:aws:sns:eu-west-1:123456789012:xml-uploads',
    Message: 'You have chosen to subscribe to the topic arn:aws:sns:eu-west-1:123456789012:xml-uploads.',
    SubscribeURL: subscribeUrl,
    Timestamp: '2026-11-26T10:00:00.000Z',
  });

  it('confirms by fetching an AWS SubscribeURL', async () => {
    await startApp();
    const url =
      'https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:x&Token=2336412f37f';
    const res = await post(confirmation(url));
    expect(res).toEqual({ status: 200, body: { status: 'subscription-confirmed' } });
    expect(fetched).toEqual([url]);
  });

  it('answers 503 when the SubscribeURL cannot be fetched or refuses, so SNS sends it again', async () => {
    const url = 'https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=t';
    await startApp({ subscribeAnswer: async () => 403 });
    const refused = await post(confirmation(url));
    expect(refused.status).toBe(503);
    expect(refused.body.message).toMatch(/could not confirm the SNS subscription/);
    await app?.close();
    await startApp({
      subscribeAnswer: async () => {
        throw new Error('getaddrinfo ENOTFOUND');
      },
    });
    expect((await post(confirmation(url))).status).toBe(503);
    expect(fetched).toEqual([url, url]);
  });

  it('only logs a SubscribeURL that is not https on an SNS host', async () => {
    await startApp();
    for (const url of [
      'http://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription',
      'https://sns.eu-west-1.amazonaws.com.evil.example/?Action=ConfirmSubscription',
      'https://169.254.169.254/latest/meta-data/',
    ]) {
      expect((await post(confirmation(url))).body).toEqual({ status: 'subscription-logged' });
    }
    expect(fetched).toEqual([]);
  });

  it('recognises only sns.<region>.amazonaws.com(.cn) over https as trusted', () => {
    expect(isTrustedSubscribeUrl('https://sns.us-east-1.amazonaws.com/?x=1')).toBe(true);
    expect(isTrustedSubscribeUrl('https://sns.cn-north-1.amazonaws.com.cn/?x=1')).toBe(true);
    expect(isTrustedSubscribeUrl('https://user@sns.us-east-1.amazonaws.com/')).toBe(false);
    expect(isTrustedSubscribeUrl('https://sns.us-east-1.amazonaws.com:8443/')).toBe(false);
    expect(isTrustedSubscribeUrl('https://s3.us-east-1.amazonaws.com/')).toBe(false);
    expect(isTrustedSubscribeUrl('not a url')).toBe(false);
  });
});
