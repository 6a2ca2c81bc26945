/**
 * Uploads are signed with UNSIGNED-PAYLOAD where the link protects the bytes (src/storage/s3-client.ts):
 * checked on the wire through the proxy, and against a real s3rver, which verifies every signature.
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkProtectsPayload } from '../src/storage/s3-client.js';
import { uploadOutput } from '../src/worker/output-upload.js';
import { type FaultyS3, startFaultyS3 } from './support/faulty-s3.js';

const PART = 5 * 1024 * 1024;
let s3: FaultyS3;

beforeAll(async () => {
  s3 = await startFaultyS3(['json-bucket']);
});

afterAll(() => s3?.close());

async function* pieces(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let o = 0; o < data.length; o += size) yield data.subarray(o, o + size);
}

async function body(key: string): Promise<Buffer> {
  const res = await s3.throughProxy.send(new GetObjectCommand({ Bucket: 'json-bucket', Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

describe('uploads on a loopback link', () => {
  it('sends every part and single PUT unsigned, and s3rver accepts them with the right bytes', async () => {
    const data = Buffer.alloc(PART * 2 + 12_345, 'x');
    data.write('{"first":true}', 0);
    s3.proxy.log.length = 0;
    await uploadOutput(
      {
        s3: s3.throughProxy,
        bucket: 'json-bucket',
        key: 'multi.json',
        contentType: 'application/json',
        metadata: {},
        partSize: PART,
        queueSize: 2,
      },
      pieces(data, 300_000),
    );
    await s3.throughProxy.send(
      new PutObjectCommand({ Bucket: 'json-bucket', Key: 'single.json', Body: Buffer.from('{"a":1}') }),
    );

    const writes = s3.proxy.log.filter((r) => r.method === 'PUT');
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
    s3.proxy.log.length = 0;
    await body('single.json');
    const get = s3.proxy.log.find((r) => r.method === 'GET');
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
