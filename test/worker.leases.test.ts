/**
 * The worker pool's timers on fake time, with the real SQLite ledger: leases renewed while a
 * conversion outlives them, a conversion abandoned when its lease was taken over, and a file in
 * backoff claimed again when its retry is due, not before. Date is faked too, so the ledger's clock
 * (Date.now()) moves with the timers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { type FileRecord, type Ledger, openLedger } from '../src/ledger/index.js';
import { createLogger } from '../src/log.js';
import { WorkerPool, type WorkerPoolOptions } from '../src/worker/pool.js';

const OWNER = 'pool-under-test';
const LEASE_MS = 3000;
const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);

let dataDir: string;
let ledger: Ledger;
let pool: WorkerPool | null;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'ft-leases-'));
  ledger = await openLedger({ dataDir });
  pool = null;
  vi.useFakeTimers({ now: T0 });
  await ledger.recordVersions([{ bucket: 'xml-bucket', key: 'slow.xml', etag: 'e1' }], 'scan');
});

afterEach(async () => {
  if (pool) {
    const stopping = pool.stop(0);
    await vi.advanceTimersByTimeAsync(10);
    await stopping;
  }
  vi.useRealTimers();
  await ledger.close();
  await rm(dataDir, { recursive: true, force: true });
});

function startPool(process: WorkerPoolOptions['process'], pollMs = 60_000, concurrency = 1): WorkerPool {
  pool = new WorkerPool({
    ledger,
    owner: OWNER,
    concurrency,
    leaseMs: LEASE_MS,
    pollMs,
    logger: createLogger('silent'),
    process,
  });
  pool.start();
  return pool;
}

async function row(): Promise<FileRecord> {
  const [latest] = await ledger.getFileVersions('xml-bucket', 'slow.xml');
  return latest!;
}

/** Lets the pool's loop run (its ledger calls are promises) without moving the clock. */
async function settle(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

test('renews the lease of a conversion that outlives it, so no one else can claim the row', async () => {
  let finishConversion!: () => void;
  const claimed: number[] = [];
  startPool(async (r) => {
    claimed.push(Date.now());
    await new Promise<void>((resolve) => {
      finishConversion = resolve;
    });
    await ledger.finish(r.id, OWNER, 'done', { outputKey: 'slow.xml.json' });
  });
  await settle();
  expect(claimed).toEqual([T0]);
  expect(await row()).toMatchObject({ state: 'processing', leaseOwner: OWNER });

  // Four leases' worth of time: renewed every LEASE_MS / 3, the lease never runs out.
  await vi.advanceTimersByTimeAsync(4 * LEASE_MS);
  expect(Date.parse((await row()).leaseExpiresAt!)).toBe(T0 + 4 * LEASE_MS + LEASE_MS);
  expect(await ledger.claim('another-instance', 1, LEASE_MS)).toEqual([]);

  finishConversion();
  await settle();
  expect(await row()).toMatchObject({ state: 'done', attempts: 1, leaseOwner: null });
  expect(claimed).toEqual([T0]);
});

test('abandons a conversion whose lease was taken over (aborts it and records nothing)', async () => {
  let signal!: AbortSignal;
  startPool(async (_r, s) => {
    signal = s;
    await new Promise<void>((resolve) => s.addEventListener('abort', () => resolve(), { once: true }));
  });
  await settle();
  expect(signal.aborted).toBe(false);

  // Another instance saw the lease expire (its clock ahead, or this process paused) and took the row.
  const [stolen] = await ledger.claim('another-instance', 1, LEASE_MS, T0 + LEASE_MS);
  expect(stolen).toMatchObject({ leaseOwner: 'another-instance', attempts: 2 });

  // The next renewal (a third of a lease on) finds the row is no longer ours.
  await vi.advanceTimersByTimeAsync(LEASE_MS / 3 - 1);
  expect(signal.aborted).toBe(false);
  await vi.advanceTimersByTimeAsync(1);
  expect(signal.aborted).toBe(true);
  await settle();
  expect(pool!.inFlight).toBe(0);
  expect(await row()).toMatchObject({ state: 'processing', leaseOwner: 'another-instance', attempts: 2 });
});

test('claims a file in backoff again when its retry is due, not before (and not at the next poll)', async () => {
  const RETRY_IN_MS = 5000;
  const claimed: number[] = [];
  startPool(async (r) => {
    claimed.push(Date.now());
    if (claimed.length === 1) {
      await ledger.retryLater(
        r.id,
        OWNER,
        { error: 'flaky', errorCode: 'network' },
        Date.now() + RETRY_IN_MS,
      );
    } else {
      await ledger.finish(r.id, OWNER, 'done', {});
    }
  });
  await settle();
  expect(claimed).toEqual([T0]);
  expect(await row()).toMatchObject({ state: 'pending', attempts: 1, error: 'flaky' });

  await vi.advanceTimersByTimeAsync(RETRY_IN_MS - 1);
  expect(claimed).toEqual([T0]);
  // Due at T0 + 5000; the pool wakes at most 5 ms after that (its sleep is timed to the due row).
  await vi.advanceTimersByTimeAsync(1 + 5);
  expect(claimed).toHaveLength(2);
  expect(claimed[1]! - T0).toBeGreaterThanOrEqual(RETRY_IN_MS);
  expect(claimed[1]! - T0).toBeLessThanOrEqual(RETRY_IN_MS + 5);
  await settle();
  expect(await row()).toMatchObject({ state: 'done', attempts: 2 });
});

test('a pause longer than the lease does not make the pool claim its own conversion again', async () => {
  const claimed: string[] = [];
  // Two slots, so the pool has room to claim; the second version of the key must wait for the first.
  const pool = startPool(
    async (r, s) => {
      claimed.push(r.etag);
      await new Promise<void>((resolve) => s.addEventListener('abort', () => resolve(), { once: true }));
    },
    60_000,
    2,
  );
  await settle();
  expect(claimed).toEqual(['e1']);
  await ledger.recordVersions([{ bucket: 'xml-bucket', key: 'slow.xml', etag: 'e2' }], 'event');

  // The process was paused (a loaded machine) past its lease: the clock jumps, no renewal has run yet,
  // and the loop claims first. Another instance may take the row over now; this one must not.
  vi.setSystemTime(T0 + 2 * LEASE_MS);
  pool.wake();
  await settle();
  expect(claimed).toEqual(['e1']);
  expect(pool.inFlight).toBe(1);
  expect(await row()).toMatchObject({ etag: 'e2', state: 'pending' });
  const [first] = (await ledger.getFileVersions('xml-bucket', 'slow.xml')).filter((v) => v.etag === 'e1');
  expect(first).toMatchObject({ state: 'processing', attempts: 1, lostLeases: 0 });
});

test('a row claimed anew while its lost conversion still runs: the old one is aborted, one counted', async () => {
  const signals: AbortSignal[] = [];
  // Two slots: one held by the conversion that will be lost, one free to claim the row again.
  const pool = startPool(
    async (_r, s) => {
      signals.push(s);
      await new Promise<void>((resolve) => s.addEventListener('abort', () => resolve(), { once: true }));
    },
    60_000,
    2,
  );
  await settle();
  // Taken over by another instance (this one paused), which then gave it back for a retry, due now:
  // this pool claims it again before its own renewal noticed the loss.
  const [stolen] = await ledger.claim('another-instance', 1, LEASE_MS, T0 + LEASE_MS);
  await ledger.retryLater(stolen!.id, 'another-instance', { error: 'x', errorCode: 'network' }, T0);
  vi.setSystemTime(T0 + LEASE_MS);
  pool.wake();
  await settle();
  expect(signals).toHaveLength(2);
  expect(signals[0]!.aborted).toBe(true);
  expect(signals[1]!.aborted).toBe(false);
  expect(pool.inFlight).toBe(1);
});
