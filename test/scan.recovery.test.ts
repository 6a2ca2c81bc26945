/**
 * The scanner recovers from any failed step (issue 8, item 4): when the ledger refuses to start a
 * scan (SQLITE_BUSY with several processes on one DATA_DIR), that scan fails, and the next request runs
 * a fresh scan instead of returning the dead one forever.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Scanner } from '../src/discovery/scanner.js';
import { openSqliteLedger } from '../src/ledger/sqlite/sqlite-ledger.js';
import type { Ledger } from '../src/ledger/types.js';
import { createLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { createS3Client } from '../src/storage/s3-client.js';
import { S3RVER_CREDENTIALS, startS3rver, type TestS3 } from './support/s3rver.js';
import { putObject } from './support/service.js';

let s3: TestS3;
beforeAll(async () => {
  s3 = await startS3rver();
});
afterAll(async () => s3?.close());

/** The real ledger, whose startScan fails the first `failures` times as a busy database does. */
function busyOnStart(ledger: Ledger, failures: number): Ledger {
  let left = failures;
  return {
    ...ledger,
    async startScan(id, now) {
      if (left-- > 0) throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
      return ledger.startScan(id, now);
    },
  };
}

test.each([
  ['the running scan', 1],
  ['the running scan and its queued follow-up', 2],
])('a failed start of %s does not wedge the scanner', async (_what, failures) => {
  const client = createS3Client({
    region: 'us-east-1',
    endpoint: s3.endpoint,
    credentials: S3RVER_CREDENTIALS,
  });
  const real = openSqliteLedger(':memory:');
  await real.migrate();
  const ledger = busyOnStart(real, failures);
  await putObject(client, 'xml-bucket', `recovery-${failures}.xml`, '<items/>');
  const scanner = new Scanner({
    s3: client,
    ledger,
    config: { sourceBucket: 'xml-bucket', sourcePrefix: '', sourceSuffixes: ['.xml'] },
    metrics: createMetrics(),
    logger: createLogger('silent'),
    owner: 'test',
  });
  try {
    // Two requests at once: the second queues behind the first.
    const [first, second] = await Promise.all([scanner.request('api'), scanner.request('api')]);
    await scanner.settled();
    expect((await real.getScan(first.id))?.status).toBe('failed');
    expect((await real.getScan(first.id))?.error).toMatch(/locked/);
    expect((await real.getScan(second.id))?.status).toBe(failures === 2 ? 'failed' : 'done');

    const next = await scanner.request('api');
    expect(next.id).not.toBe(first.id);
    expect(next.id).not.toBe(second.id);
    await scanner.wait(next.id);
    const done = await real.getScan(next.id);
    expect(done?.status).toBe('done');
  } finally {
    await scanner.stop();
    await real.close();
    client.destroy();
  }
});
