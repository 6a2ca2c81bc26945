/**
 * The Lambda function from its zip: unzipped into a clean directory and invoked by a fresh Node process
 * with AWS's sample events, against a real s3rver (behind the fault proxy where a test needs S3 to
 * fail). What the service's workers write, it writes: the JSON with `source-etag`, and the report of a
 * bad file.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objectPath } from './support/fault-proxy.js';
import { type FaultyS3, startFaultyS3 } from './support/faulty-s3.js';
import {
  buildLambda,
  eventBridgeEvent,
  invokeLambda,
  lambdaEnv,
  type S3Object,
  s3Notification,
  s3TestEvent,
  snsWrapped,
  sqsEvent,
} from './support/lambda.js';
import { getObjectWithMetadata, putObject } from './support/service.js';
import { smallCatalogue } from './support/small-catalogue.js';

const SOURCE = 'xml-bucket';
const TARGET = 'json-bucket';

let work: string;
let functionDir: string;
let s3: FaultyS3;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ft-lambda-'));
  ({ functionDir } = await buildLambda(work));
  s3 = await startFaultyS3([SOURCE, TARGET]);
});

afterAll(async () => {
  await s3?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The function's configuration: the service's variables, S3 reached through the fault proxy. */
const env = (extra: Record<string, string> = {}) =>
  lambdaEnv({ SOURCE_BUCKET: SOURCE, TARGET_BUCKET: TARGET, S3_ENDPOINT: s3.proxy.url, ...extra });

async function upload(key: string, body: string): Promise<S3Object> {
  const etag = await putObject(s3.direct, SOURCE, key, body);
  return { bucket: SOURCE, key, etag, size: Buffer.byteLength(body) };
}

async function products(key: string): Promise<{ ids: string[]; metadata: Record<string, string> }> {
  const out = await getObjectWithMetadata(s3.direct, TARGET, `${key}.json`);
  return {
    ids: (JSON.parse(out.body) as { product_id: string }[]).map((p) => p.product_id),
    metadata: out.metadata,
  };
}

async function headStatus(bucket: string, key: string): Promise<number> {
  try {
    await s3.direct.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return 200;
  } catch (err) {
    return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0;
  }
}

describe('the zip', () => {
  it('holds index.mjs alone, with no native module, and runs where no node_modules can be found', async () => {
    expect(await readdir(functionDir)).toEqual(['index.mjs']);
    const code = await readFile(join(functionDir, 'index.mjs'), 'utf8');
    expect(code).not.toMatch(/better[-_]sqlite3|\.node["']/);
    // Every invocation below imports it from here: nothing above it could lend it a dependency.
    for (let dir = functionDir; dir !== dirname(dir); dir = dirname(dir)) {
      expect(existsSync(join(dir, 'node_modules')), dir).toBe(false);
    }
  });
});

describe('SQS events', () => {
  it('converts S3 notifications delivered plain, through SNS and through EventBridge, acknowledging all', async () => {
    const plain = await upload('sqs/plain file.xml', smallCatalogue(100, 2));
    const viaSns = await upload('sqs/sns.xml', smallCatalogue(200, 3));
    const viaEventBridge = await upload('sqs/eventbridge+1.xml', smallCatalogue(300, 1));
    const event = await sqsEvent(
      { id: 'm-plain', body: await s3Notification(plain) },
      { id: 'm-sns', body: await snsWrapped(await s3Notification(viaSns)) },
      { id: 'm-eventbridge', body: await eventBridgeEvent(viaEventBridge) },
      { id: 'm-test', body: await s3TestEvent(SOURCE) },
    );
    const run = await invokeLambda(functionDir, event, env());
    expect(run.result).toEqual({ batchItemFailures: [] });
    expect(run.logs.filter((l) => (l.level as number) >= 40)).toEqual([]);
    expect(await products(plain.key)).toEqual({
      ids: ['100', '101'],
      metadata: { 'source-etag': plain.etag, 'items-written': '2', 'items-rejected': '0' },
    });
    expect((await products(viaSns.key)).ids).toEqual(['200', '201', '202']);
    expect((await products(viaEventBridge.key)).ids).toEqual(['300']);
    expect(run.logs.filter((l) => l.msg === 'file done').map((l) => l.key)).toEqual(
      expect.arrayContaining([plain.key, viaSns.key, viaEventBridge.key]),
    );
  });

  it('a broken file gets its report and no JSON, and its message is not delivered again', async () => {
    const broken = await upload('sqs/broken.xml', '<nsx:items><nsx:item id="1"><nsx:category>x');
    const run = await invokeLambda(
      functionDir,
      await sqsEvent({ id: 'm-broken', body: await s3Notification(broken) }),
      env(),
    );
    expect(run.result).toEqual({ batchItemFailures: [] });
    expect(await headStatus(TARGET, `${broken.key}.json`)).toBe(404);
    const report = await getObjectWithMetadata(s3.direct, TARGET, `_reports/${broken.key}.report.json`);
    expect(report.metadata['source-etag']).toBe(broken.etag);
    expect(JSON.parse(report.body)).toMatchObject({
      etag: broken.etag,
      error: { message: expect.any(String) },
    });
    expect(run.logs).toContainEqual(expect.objectContaining({ msg: 'file failed', key: broken.key }));
  });

  it('an object deleted before it was read is final: gone, acknowledged', async () => {
    const missing: S3Object = {
      bucket: SOURCE,
      key: 'sqs/deleted.xml',
      etag: 'd41d8cd98f00b204e9800998ecf8427e',
      size: 9,
    };
    const run = await invokeLambda(
      functionDir,
      await sqsEvent({ id: 'm-gone', body: await s3Notification(missing) }),
      env(),
    );
    expect(run.result).toEqual({ batchItemFailures: [] });
    expect(run.logs).toContainEqual(expect.objectContaining({ msg: 'file gone', key: missing.key }));
    expect(await headStatus(TARGET, `${missing.key}.json`)).toBe(404);
  });

  it('a transient S3 fault fails only its own message (partial batch failure); redelivered, it converts', async () => {
    const healthy = await upload('sqs/healthy.xml', smallCatalogue(400, 2));
    const throttled = await upload('sqs/throttled.xml', smallCatalogue(500, 2));
    // More 503s than the SDK's 3 attempts, on the throttled object's GET only.
    const rule = s3.proxy.inject({
      method: 'GET',
      path: objectPath(SOURCE, throttled.key),
      fault: { kind: 'slowDown' },
    });
    const event = await sqsEvent(
      { id: 'm-healthy', body: await s3Notification(healthy) },
      { id: 'm-throttled', body: await s3Notification(throttled) },
    );
    try {
      const first = await invokeLambda(functionDir, event, env());
      expect(first.result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-throttled' }] });
      expect(rule.hits).toBe(3);
      expect(await headStatus(TARGET, `${throttled.key}.json`)).toBe(404);
      expect((await products(healthy.key)).ids).toEqual(['400', '401']);
    } finally {
      s3.proxy.clear();
    }
    // SQS delivers the failed message again once S3 is back.
    const again = await invokeLambda(
      functionDir,
      await sqsEvent({ id: 'm-throttled', body: await s3Notification(throttled) }),
      env(),
    );
    expect(again.result).toEqual({ batchItemFailures: [] });
    expect((await products(throttled.key)).ids).toEqual(['500', '501']);
  });

  it('a duplicate delivery finds the version converted and does not convert it again', async () => {
    const object = await upload('sqs/twice.xml', smallCatalogue(600, 2));
    const event = await sqsEvent({ id: 'm-twice', body: await s3Notification(object) });
    expect((await invokeLambda(functionDir, event, env())).result).toEqual({ batchItemFailures: [] });
    const gets = () => s3.proxy.count('GET', objectPath(SOURCE, object.key));
    const puts = () => s3.proxy.count('PUT', objectPath(TARGET, `${object.key}.json`));
    expect([gets(), puts()]).toEqual([1, 1]);

    const duplicate = await invokeLambda(functionDir, event, env());
    expect(duplicate.result).toEqual({ batchItemFailures: [] });
    expect([gets(), puts()]).toEqual([1, 1]);
    expect(duplicate.logs).toContainEqual(
      expect.objectContaining({
        msg: 'target already holds this version; recording it as done',
        key: object.key,
      }),
    );
  });

  it('a message that is not a notification is left for the dead-letter queue; the rest of the batch converts', async () => {
    const fine = await upload('sqs/fine.xml', smallCatalogue(700, 1));
    const event = await sqsEvent(
      { id: 'm-garbage', body: '{"Records": [' },
      { id: 'm-fine', body: await s3Notification(fine) },
    );
    const run = await invokeLambda(functionDir, event, env());
    expect(run.result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-garbage' }] });
    expect((await products(fine.key)).ids).toEqual(['700']);
  });

  it('ignores keys outside SOURCE_PREFIX / SOURCE_SUFFIXES, like the service', async () => {
    const other = await upload('sqs/notes.txt', smallCatalogue(800, 1));
    const run = await invokeLambda(
      functionDir,
      await sqsEvent({ id: 'm-txt', body: await s3Notification(other) }),
      env(),
    );
    expect(run.result).toEqual({ batchItemFailures: [] });
    expect(await headStatus(TARGET, `${other.key}.json`)).toBe(404);
  });
});

describe('direct S3 invocations', () => {
  it('converts the objects of an S3 event', async () => {
    const object = await upload('direct/a.xml', smallCatalogue(900, 3));
    const run = await invokeLambda(functionDir, await s3Notification(object), env());
    expect(run.result).toEqual({ versions: 1 });
    expect((await products(object.key)).ids).toEqual(['900', '901', '902']);
  });

  it('rejects the invocation on a transient fault, so Lambda retries the event', async () => {
    const object = await upload('direct/b.xml', smallCatalogue(950, 1));
    s3.proxy.inject({
      method: 'GET',
      path: objectPath(SOURCE, object.key),
      fault: { kind: 'status', status: 500, code: 'InternalError' },
    });
    try {
      const run = await invokeLambda(functionDir, await s3Notification(object), env());
      expect(run.error).toMatch(/transient/);
    } finally {
      s3.proxy.clear();
    }
  });
});

describe('start-up', () => {
  it('a missing bucket variable stops initialisation with one line naming it', async () => {
    const run = await invokeLambda(functionDir, await sqsEvent(), lambdaEnv({}));
    expect(run.code).not.toBe(0);
    expect(run.result).toBeUndefined();
    expect(run.stderr.split('\n')[0]).toBe(
      'file-transformer: configuration error: SOURCE_BUCKET: expected a bucket name: set SOURCE_BUCKET and TARGET_BUCKET (a Lambda function has no embedded S3)',
    );
  });

  it('a wrong value stops initialisation naming the variable', async () => {
    const run = await invokeLambda(functionDir, await sqsEvent(), env({ MAX_IMAGE_TYPE: 'lots' }));
    expect(run.code).not.toBe(0);
    expect(run.stderr.split('\n')[0]).toMatch(/^file-transformer: configuration error: MAX_IMAGE_TYPE: /);
  });
});
