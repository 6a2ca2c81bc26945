/**
 * Uploads are signed with UNSIGNED-PAYLOAD where the link protects the bytes (src/storage/s3-client.ts):
 * checked on the wire through the proxy, and against a real s3rver, which verifies every signature.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client, linkProtectsPayload } from '../src/storage/s3-client.js';
import { uploadOutput } from '../src/worker/output-upload.js';
import { FaultProxy } from './support/fault-proxy.js';
import { S3RVER_CREDENTIALS, startS3rver, type TestS3 } from './support/s3rver.js';

const PART = 5 * 1024 * 1024;
let s3rver: TestS3;
let proxy: FaultProxy;
let s3: S3Client;

beforeAll(async () => {
  s3rver = await startS3rver(['json-bucket']);
  proxy = await FaultProxy.start(s3rver.endpoint);
  s3 = createS3Client({ region: 'us-east-1', endpoint: proxy.url, credentials: S3RVER_CREDENTIALS });
});

afterAll(async () => {
  s3.destroy();
  await proxy.close();
  await s3rver.close();
});

async function* pieces(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let o = 0; o < data.length; o += size) yield data.subarray(o, o + size);
}

async function body(key: string): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: 'json-bucket', Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

describe('uploads on a loopback link', () => {
  it('sends every part and single PUT unsigned, and s3rver accepts them with the right bytes', async () => {
    const data = Buffer.alloc(PART * 2 + 12_345, 'x');
    data.write('{"first":true}', 0);
    proxy.log.length = 0;
    await uploadOutput(
      {
        s3,
        bucket: 'json-bucket',
        key: 'multi.json',
        contentType: 'application/json',
        metadata: {},
        partSize: PART,
        queueSize: 2,
      },
      pieces(data, 300_000),
    );
    await s3.send(
      new PutObjectCommand({ Bucket: 'json-bucket', Key: 'single.json', Body: Buffer.from('{"a":1}') }),
    );

    const writes = proxy.log.filter((r) => r.method === 'PUT');
    expect(writes.map((r) => r.path.replace(/\?.*/, ''))).toEqual([
      '/json-bucket/multi.json',
      '/json-bucket/multi.json',
      '/json-bucket/multi.json',
      '/json-bucket/single.json',
    ]);
    expect(writes.map((r) => r.contentSha256)).toEqual(Array(4).fill('UNSIGNED-PAYLOAD'));
    expect((await body('multi.json')).equals(data)).toBe(true);
    expect((await body('single.json')).toString()).toBe('{"a":1}');
  });

  it('still hashes the requests that are not uploads (the signature covers their payload)', async () => {
    proxy.log.length = 0;
    await body('single.json');
    const get = proxy.log.find((r) => r.method === 'GET');
    expect(get?.contentSha256).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('linkProtectsPayload', () => {
  it('trusts HTTPS, the AWS default and this machine, not plain HTTP across a network', () => {
    expect(linkProtectsPayload(undefined)).toBe(true);
    expect(linkProtectsPayload('https://minio.example:9000')).toBe(true);
    expect(linkProtectsPayload('http://127.0.0.1:4568')).toBe(true);
    expect(linkProtectsPayload('http://localhost:4568')).toBe(true);
    expect(linkProtectsPayload('http://[::1]:4568')).toBe(true);
    expect(linkProtectsPayload('http://10.0.0.5:9000')).toBe(false);
    expect(linkProtectsPayload('http://minio.internal:9000')).toBe(false);
  });
});
