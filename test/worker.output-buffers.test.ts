/**
 * Output memory is reused once the upload has copied it into its part buffers: on the thread pool the
 * batch buffers go back to the conversion thread, on the calling thread the converter's own output
 * buffers go back to it, and later output is written into them. Through the fault
 * proxy in front of a real s3rver, parts are held and failed (the SDK sends a part again from the
 * same buffer) while the conversion goes on: the object stored must still be the converter's output
 * byte for byte, so no buffer was written over while the upload could still read it.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createConverter } from '../src/convert/index.js';
import { createLogger } from '../src/log.js';
import type { ConverterFactory } from '../src/worker/converter.js';
import { convertVersion, type PipelineSettings, UPLOAD_PART_SIZE } from '../src/worker/pipeline.js';
import { ConvertThreadPool } from '../src/worker/thread-pool.js';
import { objectPath } from './support/fault-proxy.js';
import { type FaultyS3, startFaultyS3 } from './support/faulty-s3.js';
import { putObject } from './support/service.js';
import { smallCatalogue } from './support/small-catalogue.js';

const SOURCE = 'xml-bucket';
const TARGET = 'json-bucket';
const settings: PipelineSettings = {
  targetBucket: TARGET,
  reportBucket: TARGET,
  reportPrefix: '_reports/',
  strict: false,
  maxImageType: 100,
  maxFileBytes: 1024 * 1024 * 1024,
  maxItemBytes: 64 * 1024,
};

let s3: FaultyS3;

beforeAll(async () => {
  s3 = await startFaultyS3([SOURCE, TARGET]);
});

afterAll(async () => {
  await s3?.close();
});

/** The converter's output for `input` on this thread (the reference). */
async function convertedHere(input: Buffer): Promise<Buffer> {
  const { stream } = createConverter({ source: 'reference.xml' });
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(Buffer.from(chunk)));
  const ended = new Promise((resolve, reject) => stream.on('end', resolve).on('error', reject));
  stream.end(input);
  await ended;
  return Buffer.concat(chunks);
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * Converts `key` through the fault proxy with part 1's first try failed (the SDK sends it again from
 * its buffer while the conversion goes on) and part 2's answer held (the queue stays full for a while,
 * output waits in the readable side, then is copied and handed back); checks the stored object.
 */
async function convertWithPartsHeld(
  key: string,
  createConverter?: ConverterFactory,
): Promise<{ expected: Buffer }> {
  const input = Buffer.from(smallCatalogue(0, 100_000));
  const expected = await convertedHere(input);
  // Three parts or more, so output is copied into parts while earlier parts are still in flight.
  expect(expected.length).toBeGreaterThan(2 * UPLOAD_PART_SIZE);
  const { proxy, direct } = s3;
  const etag = await putObject(direct, SOURCE, key, input);
  const output = objectPath(TARGET, `${key}.json`);
  const failed = proxy.inject({
    method: 'PUT',
    path: objectPath(TARGET, `${key}.json`, 'partNumber=1&'),
    times: 1,
    fault: { kind: 'status', status: 500, code: 'InternalError' },
  });
  const held = proxy.inject({
    method: 'PUT',
    path: objectPath(TARGET, `${key}.json`, 'partNumber=2&'),
    times: 1,
    fault: { kind: 'delayAnswer', ms: 1500 },
  });
  const result = await convertVersion({
    s3: s3.throughProxy,
    settings,
    version: { bucket: SOURCE, key, etag, fresh: true },
    createConverter,
    logger: createLogger('silent'),
    signal: new AbortController().signal,
  });
  expect(result.state).toBe('done');
  const res = await direct.send(new GetObjectCommand({ Bucket: TARGET, Key: `${key}.json` }));
  const stored = Buffer.from(await res.Body!.transformToByteArray());
  expect(stored.length).toBe(expected.length);
  expect(sha256(stored)).toBe(sha256(expected));
  expect(failed.hits).toBe(1);
  expect(held.hits).toBe(1);
  // Part 1 twice, then the rest.
  expect(proxy.count('PUT', output)).toBeGreaterThanOrEqual(4);
  return { expected };
}

test('on the pool, output batch buffers are reused only once the upload is done with them, while parts are held and sent again', async () => {
  const pool = new ConvertThreadPool({ threads: 1 });
  try {
    const { expected } = await convertWithPartsHeld('output-buffers/pool.xml', pool.createConverter);
    // The reuse happened (or the test proves nothing). The first part's batches are all fresh: they
    // are kept as they are until the output proves larger than one part.
    const { batchesOut, buffersOut, bytesOut } = pool.traffic();
    expect(bytesOut).toBe(expected.length);
    expect(batchesOut - buffersOut).toBeGreaterThanOrEqual(5);
  } finally {
    await pool.close();
  }
});

test('on the calling thread, the converter reuses output chunks only once the upload is done with them', async () => {
  await convertWithPartsHeld('output-buffers/main-thread.xml');
});
