/**
 * The Lambda function with DATABASE_URL: it records its work in the service's PostgreSQL ledger (a
 * fresh database on the run's server), so servers and functions share one fleet. The function runs
 * from its unzipped zip, as in lambda.handler.test.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Ledger } from '../src/ledger/index.js';
import { objectPath } from './support/fault-proxy.js';
import { type FaultyS3, startFaultyS3 } from './support/faulty-s3.js';
import {
  buildLambda,
  invokeLambda,
  lambdaEnv,
  type S3Object,
  s3Notification,
  sqsEvent,
} from './support/lambda.js';
import { ledgerStore, type TestLedgerStore } from './support/ledgers.js';
import { putObject } from './support/service.js';
import { smallCatalogue } from './support/small-catalogue.js';

const SOURCE = 'xml-bucket';
/** Each invocation is a cold start that also connects to PostgreSQL. */
const SLOW = 180_000;
const TARGET = 'json-bucket';

let work: string;
let functionDir: string;
let s3: FaultyS3;
let store: TestLedgerStore;
let ledger: Ledger;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ft-lambda-ledger-'));
  ({ functionDir } = await buildLambda(work));
  s3 = await startFaultyS3([SOURCE, TARGET]);
  store = await ledgerStore('postgres');
  ledger = await store.open(work);
});

afterAll(async () => {
  await ledger?.close();
  await store?.dispose();
  await s3?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

const env = () =>
  lambdaEnv({
    SOURCE_BUCKET: SOURCE,
    TARGET_BUCKET: TARGET,
    S3_ENDPOINT: s3.proxy.url,
    DATABASE_URL: store.databaseUrl!,
  });

async function upload(key: string, body: string): Promise<S3Object> {
  const etag = await putObject(s3.direct, SOURCE, key, body);
  return { bucket: SOURCE, key, etag, size: Buffer.byteLength(body) };
}

async function row(key: string) {
  const [version] = await ledger.getFileVersions(SOURCE, key);
  return version;
}

it(
  'records a converted version as done in the shared ledger; a duplicate delivery changes nothing',
  async () => {
    const object = await upload('fleet/a.xml', smallCatalogue(10, 3));
    const event = await sqsEvent({ id: 'm-a', body: await s3Notification(object) });
    expect((await invokeLambda(functionDir, event, env())).result).toEqual({ batchItemFailures: [] });
    const done = await row(object.key);
    expect(done).toMatchObject({
      etag: object.etag,
      state: 'done',
      attempts: 1,
      discoveredBy: 'event',
      itemsWritten: 3,
      outputKey: `${object.key}.json`,
    });

    const again = await invokeLambda(functionDir, event, env());
    expect(again.result).toEqual({ batchItemFailures: [] });
    expect(again.logs).toContainEqual(
      expect.objectContaining({ msg: "the ledger already has this version's outcome", state: 'done' }),
    );
    expect(await row(object.key)).toEqual(done);
    expect(s3.proxy.count('GET', objectPath(SOURCE, object.key))).toBe(1);
  },
  SLOW,
);

it(
  'leaves a version another worker is converting to that worker: its message comes back',
  async () => {
    const object = await upload('fleet/held.xml', smallCatalogue(20, 1));
    await ledger.recordVersions([object], 'scan');
    const [held] = await ledger.claim('server-1', 1, 60_000);
    expect(held).toMatchObject({ key: object.key, state: 'processing' });

    const run = await invokeLambda(
      functionDir,
      await sqsEvent({ id: 'm-held', body: await s3Notification(object) }),
      env(),
    );
    expect(run.result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-held' }] });
    expect(await row(object.key)).toMatchObject({ state: 'processing', leaseOwner: 'server-1', attempts: 1 });
    expect(s3.proxy.count('GET', objectPath(SOURCE, object.key))).toBe(0);
  },
  SLOW,
);

it(
  'a transient failure is recorded as pending with its error; the redelivery converts it',
  async () => {
    const object = await upload('fleet/throttled.xml', smallCatalogue(30, 2));
    s3.proxy.inject({ method: 'GET', path: objectPath(SOURCE, object.key), fault: { kind: 'slowDown' } });
    const event = await sqsEvent({ id: 'm-t', body: await s3Notification(object) });
    try {
      expect((await invokeLambda(functionDir, event, env())).result).toEqual({
        batchItemFailures: [{ itemIdentifier: 'm-t' }],
      });
    } finally {
      s3.proxy.clear();
    }
    expect(await row(object.key)).toMatchObject({ state: 'pending', attempts: 1, errorCode: 'throttled' });

    expect((await invokeLambda(functionDir, event, env())).result).toEqual({ batchItemFailures: [] });
    expect(await row(object.key)).toMatchObject({ state: 'done', attempts: 2, itemsWritten: 2 });
  },
  SLOW,
);
