/**
 * Two instances on one PostgreSQL ledger, in this process: what makes them one fleet. Their poll
 * interval is ten minutes, so anything that happens within the test's seconds came from a notice.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApi } from '../src/api/server.js';
import type { Ledger } from '../src/ledger/index.js';
import { ledgerStore, type TestLedgerStore } from './support/ledgers.js';
import { startS3rver, type TestS3 } from './support/s3rver.js';
import { putObject, startTestService, type TestService, waitFor } from './support/service.js';

const CATALOGUE = '<items><item id="1"><category>A</category><description>B</description></item></items>';

let s3: TestS3;
let store: TestLedgerStore;
let a: TestService;
let b: TestService;
let outsider: Ledger;

beforeAll(async () => {
  s3 = await startS3rver();
  store = await ledgerStore('postgres');
  const start = () =>
    startTestService({ endpoint: s3.endpoint, env: store.env, config: { pollMs: 600_000 } });
  [a, b] = await Promise.all([start(), start()]);
  outsider = await store.open(a.dataDir);
});
afterAll(async () => {
  await outsider?.close();
  await a?.close();
  await b?.close();
  await store?.dispose();
  await s3?.close();
});

it('converts a version recorded by another process at once, not at the next poll', async () => {
  const etag = await putObject(a.s3, 'xml-bucket', 'fleet/woken.xml', CATALOGUE);
  // Recorded straight into the ledger: neither service hears of it but through PostgreSQL.
  await outsider.recordVersions([{ bucket: 'xml-bucket', key: 'fleet/woken.xml', etag }], 'event');
  const done = await waitFor(async () => {
    const [row] = await a.service.getFileVersions('fleet/woken.xml');
    return row?.state === 'done' ? row : null;
  }, 30_000);
  expect(done).toMatchObject({ itemsWritten: 1, outputKey: 'fleet/woken.xml.json' });
});

it('applies a schedule set through one instance on every instance, without a restart', async () => {
  await a.service.setSchedule({ cron: '0 5 * * *' });
  const seen = await waitFor(async () => {
    const s = await b.service.getSchedule();
    return s.cron === '0 5 * * *' ? s : null;
  }, 20_000);
  expect(seen).toMatchObject({ cron: '0 5 * * *', intervalHours: null, source: 'settings' });
});

it('runs each scheduled scan on exactly one instance', async () => {
  // A cron may fire at most once a minute, so this waits for the next minute's run, for which both
  // instances' timers fire with the same slot.
  await b.service.setSchedule({ cron: '* * * * *' });
  await waitFor(async () => (await a.service.getSchedule()).cron === '* * * * *', 20_000);
  const first = await waitFor(async () => {
    const scans = (await a.service.listScans(100)).filter((s) => s.trigger === 'schedule');
    return scans[0] ?? null;
  }, 90_000);
  // Give the slower of the two timers time to try for the same slot.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  await a.service.setSchedule({ cron: '0 5 * * *' });
  const scans = (await b.service.listScans(100)).filter((s) => s.trigger === 'schedule');
  expect(first.slot).toMatch(/^cron:/);
  expect(scans.filter((s) => s.slot === first.slot)).toHaveLength(1);
}, 120_000);

it('shows the whole fleet on every instance: GET /api/instances', async () => {
  const api = await buildApi(b.service, {});
  try {
    const res = await api.inject({ method: 'GET', url: '/api/instances' });
    expect(res.statusCode).toBe(200);
    const { instances } = res.json() as { instances: Record<string, unknown>[] };
    const live = instances.filter((i) => i.status === 'running');
    expect(live.map((i) => i.pid)).toEqual([process.pid, process.pid]);
    expect(live.filter((i) => i.self)).toHaveLength(1);
    expect(live[0]).toMatchObject({ host: expect.any(String), filesInFlight: 0 });
    expect(Date.parse(String(live[0]!.lastHeartbeatAt))).toBeGreaterThan(Date.now() - 60_000);
  } finally {
    await api.close();
  }
  const bId = (await b.service.listInstances()).find((i) => i.self)!.id;
  await b.close();
  const after = await a.service.listInstances();
  expect(after.find((i) => i.id === bId)).toMatchObject({ status: 'stopped', filesInFlight: 0 });
});
