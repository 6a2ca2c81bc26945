/**
 * The worker's output upload (src/worker/output-upload.ts) against a real s3rver: one PUT up to one
 * part, exact parts in order above it, nothing visible when the body or the store fails.
 */
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../src/storage/s3-client.js';
import { type OutputUpload, uploadOutput } from '../src/worker/output-upload.js';
import { S3RVER_CREDENTIALS, startS3rver, type TestS3 } from './support/s3rver.js';

const PART = 5 * 1024 * 1024; // S3's smallest part size

let s3rver: TestS3;
let s3: S3Client;
let created: Map<string, string>;

beforeAll(async () => {
  s3rver = await startS3rver(['json-bucket']);
  s3 = createS3Client({ region: 'us-east-1', endpoint: s3rver.endpoint, credentials: S3RVER_CREDENTIALS });
  created = creations();
});

afterAll(async () => {
  s3.destroy();
  await s3rver.close();
});

function target(key: string, metadata: Record<string, string> = {}, bucket = 'json-bucket'): OutputUpload {
  return { s3, bucket, key, contentType: 'application/json', metadata, partSize: PART, queueSize: 2 };
}

/** Deterministic bytes that differ at every offset modulo 251, so a misplaced part would show. */
function bytes(length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (i * 7 + (i >> 13)) % 251;
  return b;
}

/** `data` in chunks of `size` (not a divisor of the part size, so parts straddle chunks). */
async function* chunked(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let o = 0; o < data.length; o += size) yield data.subarray(o, o + size);
}

async function read(key: string): Promise<{ body: Buffer; metadata: Record<string, string> }> {
  const res = await s3.send(new GetObjectCommand({ Bucket: 'json-bucket', Key: key }));
  const body = Buffer.from(await res.Body!.transformToByteArray());
  return { body, metadata: res.Metadata ?? {} };
}

/** The eventName s3rver reports for `key`'s creation: `ObjectCreated:Put`, or `:Post` for multipart. */
function creations(): Map<string, string> {
  const seen = new Map<string, string>();
  s3rver.server.on('event', (e: { Records: { eventName: string; s3: { object: { key: string } } }[] }) => {
    for (const r of e.Records) seen.set(r.s3.object.key, r.eventName);
  });
  return seen;
}

async function exists(key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: 'json-bucket', Key: key }));
    return true;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}

describe('uploadOutput', () => {
  it('writes a body up to one part in one PUT, with metadata added while the body was read', async () => {
    const data = bytes(PART); // exactly one part: still a single PUT
    const metadata: Record<string, string> = { 'source-etag': 'abc' };
    async function* body() {
      yield* chunked(data, 100_003);
      metadata['items-written'] = '42';
    }
    await uploadOutput(target('one.json', metadata), body());
    const got = await read('one.json');
    expect(got.body.equals(data)).toBe(true);
    expect(created.get('one.json')).toBe('ObjectCreated:Put');
    expect(got.metadata).toMatchObject({ 'source-etag': 'abc', 'items-written': '42' });
  });

  it('writes a larger body as a multipart upload of exact parts, byte for byte in order', async () => {
    const data = bytes(2 * PART + 17);
    await uploadOutput(target('three.json', { 'source-etag': 'abc' }), chunked(data, 100_003));
    const got = await read('three.json');
    expect(got.body.length).toBe(data.length);
    expect(got.body.equals(data)).toBe(true);
    expect(created.get('three.json')).toBe('ObjectCreated:Post'); // s3rver's name for a completed multipart
    expect(got.metadata).toMatchObject({ 'source-etag': 'abc' });
  });

  it('rejects with the body error after some parts and leaves nothing visible', async () => {
    const data = bytes(2 * PART + 1000);
    async function* body() {
      yield* chunked(data, 262_144);
      throw new Error('converter failed');
    }
    await expect(uploadOutput(target('broken.json'), body())).rejects.toThrow('converter failed');
    expect(await exists('broken.json')).toBe(false);
  });

  it("rejects with the store's error when the bucket is missing, for one PUT and for parts", async () => {
    await expect(
      uploadOutput(target('x.json', {}, 'no-such-bucket'), chunked(bytes(1000), 100)),
    ).rejects.toMatchObject({ name: 'NoSuchBucket' });
    await expect(
      uploadOutput(target('x.json', {}, 'no-such-bucket'), chunked(bytes(PART + 1), 65_536)),
    ).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });
});
