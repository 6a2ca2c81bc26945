/**
 * PostgreSQL restarted under a running service (a failover, a minor-version upgrade): while it is
 * down the service reports not ready; it recovers by itself (new pool connections, LISTEN again)
 * and loses nothing: every file uploaded before, during and after is converted, and written once.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type FaultyS3, startFaultyS3 } from './support/faulty-s3.js';
import { createDatabase, type PostgresServer, startPostgresServer } from './support/postgres-server.js';
import { putObject, startTestService, type TestService, waitFor } from './support/service.js';
import { smallCatalogue } from './support/small-catalogue.js';

let server: PostgresServer;
let s3: FaultyS3;
let t: TestService;

beforeAll(async () => {
  [server, s3] = await Promise.all([startPostgresServer(), startFaultyS3()]);
  const db = await createDatabase(server.url);
  t = await startTestService({
    endpoint: s3.proxy.url,
    env: { DATABASE_URL: db.url, LEASE_SECONDS: '3', CONCURRENCY: '2' },
  });
});
afterAll(async () => {
  await t?.close();
  await s3?.close();
  await server?.stop();
});

const upload = (from: number, count: number) =>
  Promise.all(
    Array.from({ length: count }, (_, n) =>
      putObject(t.s3, 'xml-bucket', `restart/f${from + n}.xml`, smallCatalogue(from + n, 1)),
    ),
  );

async function scanAndDrain(): Promise<void> {
  // A scan can fail while the ledger is away: ask again until one completes.
  await waitFor(async () => {
    const scan = await t.service.requestScan().catch(() => null);
    if (!scan) return false;
    return (await t.service.waitForScan(scan.id))?.status === 'done';
  }, 60_000);
  await waitFor(async () => {
    const c = await t.service.ledger.countByState().catch(() => null);
    return c !== null && c.pending === 0 && c.processing === 0;
  }, 60_000);
}

it('reports not ready while PostgreSQL is down, recovers by itself, and loses nothing', async () => {
  await upload(0, 20);
  await scanAndDrain();
  expect((await t.service.health()).ok).toBe(true);

  // Files in flight when the server goes away.
  await upload(20, 20);
  const scan = await t.service.requestScan();
  const restarting = server.restart({ downMs: 3000 });
  const notReady = await waitFor(async () => {
    const health = await t.service.health();
    return health.ok ? null : health;
  }, 20_000);
  expect(notReady.checks.find((c) => c.name === 'ledger')).toMatchObject({ ok: false });
  await restarting;
  await t.service.waitForScan(scan.id).catch(() => null);

  // Back by itself: no restart of the service, no call to it.
  await waitFor(async () => (await t.service.health()).ok, 30_000);
  await upload(40, 10);
  await scanAndDrain();

  const files = (await t.service.listFiles({ prefix: 'restart/', limit: 1000 })).files;
  expect(files).toHaveLength(50);
  expect(files.filter((f) => f.state !== 'done')).toEqual([]);
  const writes = s3.proxy.log.filter(
    (r) => r.method === 'PUT' && r.status === 200 && r.path.startsWith('/json-bucket/restart/'),
  );
  expect(writes).toHaveLength(50);
  expect(new Set(writes.map((w) => w.path)).size).toBe(50);
}, 240_000);
