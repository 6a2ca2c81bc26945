/**
 * The error model (src/errors.ts, docs/errors.md): real failures from a real s3rver, a real fault
 * proxy in front of it and a closed port, classified by toTransformerError into a code, the HTTP
 * status, the store's own code, retryable or final, and the object; and our own bugs never retried.
 */
import { createServer } from 'node:net';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ObjectRef, type TransformerError, toTransformerError } from '../src/errors.js';
import { createS3Client } from '../src/storage/s3-client.js';
import { type FaultyS3, startFaultyS3 } from './support/faulty-s3.js';
import { S3RVER_CREDENTIALS } from './support/s3rver.js';

let s3: FaultyS3;
const clients: S3Client[] = [];

beforeAll(async () => {
  s3 = await startFaultyS3(['xml-bucket']);
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await s3.close();
});

function client(
  endpoint: string,
  credentials: { accessKeyId: string; secretAccessKey: string } = S3RVER_CREDENTIALS,
): S3Client {
  const c = createS3Client({ region: 'us-east-1', endpoint, credentials: { ...credentials } });
  clients.push(c);
  return c;
}

/** What `send` rejected with, classified. */
async function failureOf(promise: Promise<unknown>, object?: ObjectRef): Promise<TransformerError> {
  const err = await promise.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (e: unknown) => e,
  );
  return toTransformerError(err, object);
}

const fields = (e: TransformerError) => ({
  name: e.name,
  code: e.code,
  retryable: e.retryable,
  statusCode: e.statusCode,
  serviceCode: e.serviceCode,
});

describe('toTransformerError on real S3 failures', () => {
  it('a missing key is object-gone (final), and carries the object it was given', async () => {
    const object = { bucket: 'xml-bucket', key: 'nope.xml', etag: 'e1' };
    const e = await failureOf(
      s3.direct.send(new GetObjectCommand({ Bucket: 'xml-bucket', Key: 'nope.xml' })),
      object,
    );
    expect(fields(e)).toEqual({
      name: 'ObjectGoneError',
      code: 'object-gone',
      retryable: false,
      statusCode: 404,
      serviceCode: 'NoSuchKey',
    });
    expect(e.object).toEqual(object);
    expect((e.cause as Error).name).toBe('NoSuchKey');
  });

  it('a missing bucket is not a missing object: no-such-bucket, retried', async () => {
    const e = await failureOf(
      s3.direct.send(new GetObjectCommand({ Bucket: 'no-such-bucket', Key: 'a.xml' })),
    );
    expect(fields(e)).toEqual({
      name: 'TransientError',
      code: 'no-such-bucket',
      retryable: true,
      statusCode: 404,
      serviceCode: 'NoSuchBucket',
    });
  });

  it('a HEAD on a missing key (no error body) is object-gone', async () => {
    const e = await failureOf(
      s3.direct.send(new HeadObjectCommand({ Bucket: 'xml-bucket', Key: 'nope.xml' })),
    );
    expect(fields(e)).toMatchObject({ code: 'object-gone', retryable: false, statusCode: 404 });
  });

  it('unknown credentials are access-denied (final)', async () => {
    const e = await failureOf(
      client(s3.s3rver.endpoint, { accessKeyId: 'WRONG', secretAccessKey: 'WRONG' }).send(
        new GetObjectCommand({ Bucket: 'xml-bucket', Key: 'a.xml' }),
      ),
    );
    expect(fields(e)).toEqual({
      name: 'PermanentError',
      code: 'access-denied',
      retryable: false,
      statusCode: 403,
      serviceCode: 'InvalidAccessKeyId',
    });
  });

  it.each([
    [{ kind: 'slowDown' } as const, 'throttled', 503, 'SlowDown'],
    [{ kind: 'status', status: 500, code: 'InternalError' } as const, 'unavailable', 500, 'InternalError'],
    [{ kind: 'status', status: 403, code: 'AccessDenied' } as const, 'access-denied', 403, 'AccessDenied'],
    [
      { kind: 'status', status: 301, code: 'PermanentRedirect' } as const,
      'wrong-region',
      301,
      'PermanentRedirect',
    ],
  ])('an answer %j is %s', async (fault, code, statusCode, serviceCode) => {
    s3.proxy.clear();
    s3.proxy.inject({ fault });
    // Every request gets the fault, so the SDK's own retries end on the same answer.
    const c = client(s3.proxy.url);
    const e = await failureOf(c.send(new GetObjectCommand({ Bucket: 'xml-bucket', Key: 'a.xml' })));
    s3.proxy.clear();
    const retryable = code === 'throttled' || code === 'unavailable';
    expect(fields(e)).toMatchObject({ code, retryable, statusCode, serviceCode });
  });

  it('a refused connection is network, retried', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const e = await failureOf(
      client(`http://127.0.0.1:${port}`).send(new GetObjectCommand({ Bucket: 'xml-bucket', Key: 'a.xml' })),
    );
    expect(fields(e)).toEqual({
      name: 'TransientError',
      code: 'network',
      retryable: true,
      statusCode: null,
      serviceCode: 'ECONNREFUSED',
    });
  });
});

describe('toTransformerError on our own failures', () => {
  it.each([
    ['a ReferenceError', new ReferenceError('x is not defined')],
    ['a TypeError', new TypeError("Cannot read properties of undefined (reading 'etag')")],
    ['a plain Error', new Error('something unexpected')],
    ['a thrown string', 'oops'],
  ])('%s is internal and final: a bug retried is a bug hidden', (_what, err) => {
    const e = toTransformerError(err);
    expect(fields(e)).toEqual({
      name: 'PermanentError',
      code: 'internal',
      retryable: false,
      statusCode: null,
      serviceCode: null,
    });
    expect(e.cause).toBe(err);
  });

  it('passes a TransformerError through, giving it the object only when it has none', () => {
    const first = toTransformerError(new ReferenceError('x'));
    expect(toTransformerError(first)).toBe(first);
    expect(first.object).toBeNull();
    const object = { bucket: 'xml-bucket', key: 'a.xml', etag: 'e1' };
    expect(toTransformerError(first, object).object).toEqual(object);
    expect(toTransformerError(first, { bucket: 'other', key: 'b.xml' }).object).toEqual(object);
  });

  it('a busy SQLite ledger is unavailable, retried', () => {
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    expect(fields(toTransformerError(busy))).toMatchObject({
      code: 'unavailable',
      retryable: true,
      serviceCode: 'SQLITE_BUSY',
    });
  });
});
