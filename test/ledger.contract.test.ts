import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Ledger } from '../src/ledger/index.js';
import { MIGRATIONS as POSTGRES_MIGRATIONS } from '../src/ledger/postgres/migrations.js';
import { MIGRATIONS as SQLITE_MIGRATIONS } from '../src/ledger/sqlite/migrations.js';
import { LEDGER_KINDS, ledgerStore, rawQuery, type TestLedgerStore } from './support/ledgers.js';

const T0 = Date.UTC(2026, 0, 1);
const LEASE = 60_000;
const v = (key: string, etag: string) => ({ bucket: 'xml-bucket', key, etag });
const ids = (rows: Record<string, unknown>[]) => rows.map((r) => Number(r.id));

it('SQLite and PostgreSQL share one migration numbering', () => {
  const outline = (ms: typeof SQLITE_MIGRATIONS) => ms.map((m) => [m.id, m.name]);
  expect(outline(POSTGRES_MIGRATIONS)).toEqual(outline(SQLITE_MIGRATIONS));
});

/** The contract every Ledger implementation meets, run against each store. */
describe.each(LEDGER_KINDS)('ledger (%s)', (kind) => {
  let dir: string;
  let store: TestLedgerStore;
  let ledger: Ledger;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ft-ledger-'));
    store = await ledgerStore(kind);
    ledger = await store.open(dir);
  });
  afterEach(async () => {
    await ledger.close();
    await store.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('applies each migration once, even when several instances start at once on an empty store', async () => {
    await ledger.recordVersions([v('a.xml', 'e1')], 'scan', T0);
    await ledger.close();
    await store.dispose();
    store = await ledgerStore(kind);
    const fleet = await Promise.all(Array.from({ length: 5 }, () => store.open(dir)));
    await Promise.all(fleet.map((l) => l.close()));
    ledger = await store.open(dir);
    await ledger.migrate();
    const applied = await rawQuery(store, dir, 'SELECT id FROM migrations ORDER BY id');
    expect(ids(applied)).toEqual(SQLITE_MIGRATIONS.map((m) => m.id));
    if (kind === 'sqlite') {
      // The same data directory: what was recorded before the re-open is still there.
      expect((await ledger.countByState()).pending).toBe(1);
      expect(await rawQuery(store, dir, 'PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    }
  });

  it('refuses to start on a schema newer than it knows, naming both versions', async () => {
    await rawQuery(
      store,
      dir,
      "INSERT INTO migrations (id, name, applied_at) VALUES (999, 'from the future', 0)",
    );
    await expect(store.open(dir)).rejects.toMatchObject({
      name: 'LedgerSchemaError',
      message: expect.stringMatching(/migration 999, newer than this release knows \(\d+\)/),
    });
  });

  it('records a version once: inserting it again changes nothing', async () => {
    expect(await ledger.recordVersions([v('a.xml', '"e1"'), v('b.xml', 'e2')], 'scan', T0)).toBe(2);
    const [claimed] = await ledger.claim('w1', 1, LEASE, T0);
    await ledger.finish(claimed!.id, 'w1', 'done', { itemsWritten: 3 }, T0 + 1);
    // Same versions again, from an event and a scan, ETag quoted or not.
    expect(await ledger.recordVersions([v('a.xml', 'e1'), v('b.xml', '"e2"')], 'event', T0 + 2)).toBe(0);
    const a = (await ledger.getFileVersions('xml-bucket', 'a.xml'))[0]!;
    expect(a).toMatchObject({
      etag: 'e1',
      state: 'done',
      itemsWritten: 3,
      discoveredBy: 'scan',
      attempts: 1,
    });
    // A new ETag of the same key is a new row.
    expect(await ledger.recordVersions([v('a.xml', 'e3')], 'event', T0 + 3)).toBe(1);
    expect((await ledger.getFileVersions('xml-bucket', 'a.xml')).map((f) => f.etag)).toEqual(['e3', 'e1']);
  });

  it('claims each due row once, leases it, and lets it be claimed again only when the lease expires', async () => {
    await ledger.recordVersions([v('a.xml', 'e1'), v('b.xml', 'e2'), v('c.xml', 'e3')], 'scan', T0);
    const first = await ledger.claim('w1', 2, LEASE, T0);
    const second = await ledger.claim('w2', 5, LEASE, T0);
    expect(first.map((f) => f.key)).toEqual(['a.xml', 'b.xml']);
    expect(second.map((f) => f.key)).toEqual(['c.xml']);
    expect(first[0]).toMatchObject({ state: 'processing', leaseOwner: 'w1', attempts: 1 });
    expect(await ledger.claim('w3', 5, LEASE, T0 + LEASE - 1)).toEqual([]);

    // w1 renews a's lease; b's lease runs out and w3 takes b over.
    expect(await ledger.renewLease(first[0]!.id, 'w1', LEASE, T0 + LEASE - 1)).toBe(true);
    const taken = await ledger.claim('w3', 5, LEASE, T0 + LEASE);
    expect(taken.map((f) => [f.key, f.attempts, f.leaseOwner])).toEqual([
      ['b.xml', 2, 'w3'],
      ['c.xml', 2, 'w3'],
    ]);
    // The old owner is fenced out: its renewal and outcome are refused.
    expect(await ledger.renewLease(first[1]!.id, 'w1', LEASE, T0 + LEASE)).toBe(false);
    expect(await ledger.finish(first[1]!.id, 'w1', 'done', {}, T0 + LEASE)).toBeNull();
    expect(
      await ledger.finish(taken[0]!.id, 'w3', 'done', { outputKey: 'b.xml.json' }, T0 + LEASE),
    ).toMatchObject({
      state: 'done',
      outputKey: 'b.xml.json',
      leaseOwner: null,
    });
  });

  it('never claims two versions of one key at once', async () => {
    await ledger.recordVersions([v('a.xml', 'old'), v('a.xml', 'new'), v('b.xml', 'x')], 'scan', T0);
    const claimed = await ledger.claim('w1', 10, LEASE, T0);
    expect(claimed.map((f) => `${f.key}@${f.etag}`)).toEqual(['a.xml@old', 'b.xml@x']);
    expect(await ledger.claim('w2', 10, LEASE, T0)).toEqual([]);
    await ledger.finish(claimed[0]!.id, 'w1', 'skipped', { error: 'superseded' }, T0 + 1);
    expect((await ledger.claim('w2', 10, LEASE, T0 + 2)).map((f) => f.etag)).toEqual(['new']);
  });

  it('never gives an owner back its own expired rows, nor another version of their keys', async () => {
    await ledger.recordVersions([v('a.xml', 'old'), v('b.xml', 'x')], 'scan', T0);
    const mine = await ledger.claim('w1', 10, LEASE, T0);
    await ledger.recordVersions([v('a.xml', 'new')], 'event', T0 + 1);
    // w1 paused past its leases: it is still converting them, so its own claim finds nothing...
    expect(await ledger.claim('w1', 10, LEASE, T0 + 2 * LEASE)).toEqual([]);
    // ...while another instance takes them over (and still not two versions of a.xml).
    const taken = await ledger.claim('w2', 10, LEASE, T0 + 2 * LEASE);
    expect(taken.map((f) => [f.key, f.etag, f.attempts, f.lostLeases])).toEqual([
      ['a.xml', 'old', 2, 1],
      ['b.xml', 'x', 2, 1],
    ]);
    expect(mine.map((f) => f.id)).toEqual(taken.map((f) => f.id));
  });

  it('backs off: a retried row is not due before its time, and keeps its error', async () => {
    await ledger.recordVersions([v('a.xml', 'e1')], 'scan', T0);
    const [row] = await ledger.claim('w1', 1, LEASE, T0);
    expect(
      await ledger.retryLater(
        row!.id,
        'w1',
        { error: 'SlowDown', errorCode: 'throttled' },
        T0 + 5000,
        T0 + 10,
      ),
    ).toBe(true);
    expect(await ledger.nextDueAt()).toBe(T0 + 5000);
    expect(await ledger.claim('w1', 1, LEASE, T0 + 4999)).toEqual([]);
    const again = await ledger.claim('w1', 1, LEASE, T0 + 5000);
    expect(again[0]).toMatchObject({ attempts: 2, error: 'SlowDown', errorCode: 'throttled' });
  });

  it('claims one given version, backoff or not, unless it is final or another live lease holds its key', async () => {
    await ledger.recordVersions([v('a.xml', 'e1'), v('a.xml', 'e2'), v('b.xml', 'e3')], 'event', T0);
    const [a1, a2] = await ledger
      .getFileVersions('xml-bucket', 'a.xml')
      .then((r) => r.sort((x, y) => x.id - y.id));
    const [b] = await ledger.getFileVersions('xml-bucket', 'b.xml');
    const claimed = await ledger.claimVersion(a1!.id, 'fn-1', LEASE, T0);
    expect(claimed).toMatchObject({ id: a1!.id, state: 'processing', leaseOwner: 'fn-1', attempts: 1 });
    // Its key is being converted: neither the same row nor another version of the key is takeable.
    expect(await ledger.claimVersion(a1!.id, 'fn-2', LEASE, T0 + 1)).toBeNull();
    expect(await ledger.claimVersion(a2!.id, 'fn-2', LEASE, T0 + 1)).toBeNull();
    // A transient failure's backoff does not hold back the caller whose retry is its own timer.
    await ledger.retryLater(
      a1!.id,
      'fn-1',
      { error: 'SlowDown', errorCode: 'throttled' },
      T0 + 60_000,
      T0 + 2,
    );
    expect(await ledger.claimVersion(a1!.id, 'fn-2', LEASE, T0 + 3)).toMatchObject({
      attempts: 2,
      leaseOwner: 'fn-2',
    });
    // An expired lease is takeable; a final row never is.
    expect(await ledger.claimVersion(a1!.id, 'fn-3', LEASE, T0 + 3 + LEASE)).toMatchObject({ attempts: 3 });
    await ledger.finish(a1!.id, 'fn-3', 'done', { itemsWritten: 1 }, T0 + 4 + LEASE);
    expect(await ledger.claimVersion(a1!.id, 'fn-4', LEASE, T0 + 5 + LEASE)).toBeNull();
    expect(await ledger.claimVersion(b!.id, 'fn-4', LEASE, T0 + 5 + LEASE)).toMatchObject({
      state: 'processing',
    });
  });

  it('gives released rows back as pending, due now, without counting the interrupted attempt', async () => {
    await ledger.recordVersions([v('a.xml', 'e1'), v('b.xml', 'e2')], 'scan', T0);
    await ledger.claim('w1', 2, LEASE, T0);
    expect(await ledger.releaseLeases('other', undefined, T0 + 1)).toBe(0);
    expect(await ledger.releaseLeases('w1', undefined, T0 + 1)).toBe(2);
    const again = await ledger.claim('w2', 5, LEASE, T0 + 1);
    expect(again.map((f) => f.attempts)).toEqual([1, 1]);
  });

  it('requeues a finished version, forced, unless it is being processed', async () => {
    await ledger.recordVersions([v('a.xml', 'e1')], 'scan', T0);
    const [row] = await ledger.claim('w1', 1, LEASE, T0);
    expect((await ledger.requeue(row!.id, T0 + 1))?.state).toBe('processing');
    await ledger.finish(row!.id, 'w1', 'failed', { error: 'bad xml' }, T0 + 2);
    const requeued = await ledger.requeue(row!.id, T0 + 3);
    expect(requeued).toMatchObject({ state: 'pending', forced: true, attempts: 0, error: null });
    const [claimed] = await ledger.claim('w1', 1, LEASE, T0 + 3);
    expect(claimed?.forced).toBe(true);
    const done = await ledger.finish(claimed!.id, 'w1', 'done', {}, T0 + 4);
    expect(done?.forced).toBe(false);
    expect(await ledger.requeue(9999)).toBeNull();
  });

  it('lists pages newest first with exact, case-sensitive prefix and state filters', async () => {
    const keys = ['in/a.xml', 'in/b.xml', 'IN/c.xml', 'in/d.xml', 'out/e.xml'];
    await ledger.recordVersions(
      keys.map((k, i) => v(k, `e${i}`)),
      'scan',
      T0,
    );
    const p1 = await ledger.listFiles('xml-bucket', { prefix: 'in/', limit: 2 });
    expect(p1.files.map((f) => f.key)).toEqual(['in/d.xml', 'in/b.xml']);
    const p2 = await ledger.listFiles('xml-bucket', { prefix: 'in/', limit: 2, cursor: p1.nextCursor });
    expect(p2.files.map((f) => f.key)).toEqual(['in/a.xml']);
    expect(p2.nextCursor).toBeNull();
    expect((await ledger.listFiles('xml-bucket', { state: 'done' })).files).toEqual([]);
    expect((await ledger.listFiles('other-bucket', {})).files).toEqual([]);
  });

  it('lists pages oldest first with the same filters, the cursor then being the last id seen', async () => {
    const keys = ['in/a.xml', 'in/b.xml', 'IN/c.xml', 'in/d.xml', 'out/e.xml'];
    await ledger.recordVersions(
      keys.map((k, i) => v(k, `e${i}`)),
      'scan',
      T0,
    );
    const p1 = await ledger.listFiles('xml-bucket', { prefix: 'in/', limit: 2, order: 'oldest' });
    expect(p1.files.map((f) => f.key)).toEqual(['in/a.xml', 'in/b.xml']);
    const p2 = await ledger.listFiles('xml-bucket', {
      prefix: 'in/',
      limit: 2,
      order: 'oldest',
      cursor: p1.nextCursor,
    });
    expect(p2.files.map((f) => f.key)).toEqual(['in/d.xml']);
    expect(p2.nextCursor).toBeNull();
  });

  it('returns rows finished in a time window, oldest first, with their upload time and counts', async () => {
    const uploaded = T0 - 60_000;
    await ledger.recordVersions([{ ...v('a.xml', 'e1'), lastModified: new Date(uploaded) }], 'scan', T0);
    await ledger.recordVersions([{ ...v('b.xml', 'e2'), eventTime: new Date(uploaded + 1) }], 'event', T0);
    await ledger.recordVersions([v('c.xml', 'e3'), v('d.xml', 'e4')], 'scan', T0);
    const rows = await ledger.claim('w1', 4, LEASE, T0);
    const byKey = new Map(rows.map((r) => [r.key, r.id]));
    await ledger.finish(byKey.get('b.xml')!, 'w1', 'failed', { error: 'bad' }, T0 + 2_000);
    await ledger.finish(byKey.get('a.xml')!, 'w1', 'done', { itemsWritten: 5, itemsRejected: 1 }, T0 + 1_000);
    await ledger.finish(byKey.get('c.xml')!, 'w1', 'done', { itemsWritten: 2 }, T0 + 3_600_000);
    // d.xml is still processing: not finished, not listed.

    expect(await ledger.finishedBetween(T0, T0 + 3_600_000)).toEqual([
      { state: 'done', finishedAt: T0 + 1_000, uploadedAt: uploaded, itemsWritten: 5, itemsRejected: 1 },
      {
        state: 'failed',
        finishedAt: T0 + 2_000,
        uploadedAt: uploaded + 1,
        itemsWritten: null,
        itemsRejected: null,
      },
    ]);
    const later = await ledger.finishedBetween(T0 + 2_001, T0 + 7_200_000);
    expect(later).toEqual([
      { state: 'done', finishedAt: T0 + 3_600_000, uploadedAt: null, itemsWritten: 2, itemsRejected: null },
    ]);
  });

  it('keeps scans and settings', async () => {
    const scan = await ledger.createScan('api', 'host:1:a', T0);
    expect(scan).toMatchObject({ status: 'queued', trigger: 'api', listed: 0, owner: 'host:1:a' });
    await ledger.startScan(scan.id, T0 + 1);
    await ledger.updateScan(scan.id, { listed: 10, matched: 8, recorded: 3 });
    expect(await ledger.getScan(scan.id)).toMatchObject({ status: 'running', listed: 10, recorded: 3 });
    const other = await ledger.createScan('schedule', 'host:2:b', T0 + 2);
    expect((await ledger.unfinishedScans()).map((s) => s.id)).toEqual([scan.id, other.id]);
    await ledger.finishScan(other.id, { listed: 0, matched: 0, recorded: 0 }, 'interrupted', T0 + 3);
    expect(await ledger.getScan(other.id)).toMatchObject({ status: 'failed', error: 'interrupted' });
    await ledger.finishScan(scan.id, { listed: 12, matched: 9, recorded: 4 }, null, T0 + 4);
    expect(await ledger.getScan(scan.id)).toMatchObject({ status: 'done', listed: 12, error: null });

    expect(await ledger.getSetting('schedule')).toBeNull();
    await ledger.setSetting('schedule', '{"cron":"0 * * * *"}');
    await ledger.setSetting('schedule', '{"intervalHours":2}');
    expect(await ledger.getSetting('schedule')).toBe('{"intervalHours":2}');
  });

  it('hands each row to exactly one of several instances claiming at once', async () => {
    const keys = Array.from({ length: 120 }, (_, i) => v(`k${String(i).padStart(3, '0')}.xml`, `e${i}`));
    await ledger.recordVersions(keys, 'scan', T0);
    const fleet = await Promise.all(Array.from({ length: 4 }, () => store.open(dir)));
    try {
      const claimedBy = new Map<number, string>();
      await Promise.all(
        fleet.map(async (instance, i) => {
          for (;;) {
            const rows = await instance.claim(`w${i}`, 3, LEASE, T0);
            if (rows.length === 0) return;
            for (const row of rows) {
              expect(claimedBy.get(row.id)).toBeUndefined();
              claimedBy.set(row.id, `w${i}`);
              expect(await instance.finish(row.id, `w${i}`, 'done', {}, T0 + 1)).not.toBeNull();
            }
          }
        }),
      );
      expect(claimedBy.size).toBe(120);
      expect((await ledger.countByState()).done).toBe(120);
    } finally {
      await Promise.all(fleet.map((l) => l.close()));
    }
  });

  it('records each version once when several instances record overlapping batches at once', async () => {
    const fleet = await Promise.all(Array.from({ length: 3 }, () => store.open(dir)));
    try {
      const all = Array.from({ length: 300 }, (_, i) => v(`k${i}.xml`, `e${i}`));
      // Each instance records the whole set, in its own order (as events and scans would).
      const orders = [all, [...all].reverse(), [...all.slice(150), ...all.slice(0, 150)]];
      const inserted = await Promise.all(fleet.map((l, i) => l.recordVersions(orders[i]!, 'event', T0)));
      expect(inserted.reduce((a, b) => a + b, 0)).toBe(300);
      expect((await ledger.countByState()).pending).toBe(300);
    } finally {
      await Promise.all(fleet.map((l) => l.close()));
    }
  });

  it('creates the scan of a schedule slot once, whichever instance asks first', async () => {
    const other = await store.open(dir);
    try {
      const [a, b] = await Promise.all([
        ledger.createSlotScan('schedule', 'host:1:a', 'every 3h:1000', T0),
        other.createSlotScan('schedule', 'host:2:b', 'every 3h:1000', T0),
      ]);
      const won = [a, b].filter((s) => s !== null);
      expect(won).toHaveLength(1);
      expect(won[0]).toMatchObject({ trigger: 'schedule', status: 'queued', slot: 'every 3h:1000' });
      expect(await other.createSlotScan('schedule', 'host:2:b', 'every 3h:1001', T0)).toMatchObject({
        owner: 'host:2:b',
      });
      // Scans without a slot are never in each other's way.
      expect((await ledger.createScan('api', 'host:1:a', T0)).slot).toBeNull();
      expect((await other.createScan('api', 'host:2:b', T0)).slot).toBeNull();
    } finally {
      await other.close();
    }
  });

  it('keeps instances from their heartbeats, and their graceful stops', async () => {
    const beat = (id: string, startedAt: number, inFlight: number, now: number) =>
      ledger.heartbeat({ id, host: 'h', pid: 7, startedAt, inFlight }, now);
    await beat('h:7:a', T0, 0, T0);
    await beat('h:8:b', T0 + 10, 0, T0 + 10);
    await beat('h:7:a', T0, 3, T0 + 5000);
    expect(await ledger.listInstances(T0)).toEqual([
      {
        id: 'h:7:a',
        host: 'h',
        pid: 7,
        startedAt: new Date(T0).toISOString(),
        heartbeatAt: new Date(T0 + 5000).toISOString(),
        inFlight: 3,
        stoppedAt: null,
      },
      expect.objectContaining({ id: 'h:8:b', inFlight: 0 }),
    ]);
    // Only instances heard from since the given time.
    expect((await ledger.listInstances(T0 + 20)).map((i) => i.id)).toEqual(['h:7:a']);
    await ledger.stopInstance('h:7:a', T0 + 6000);
    expect((await ledger.listInstances(T0))[0]).toMatchObject({
      inFlight: 0,
      stoppedAt: new Date(T0 + 6000).toISOString(),
    });
  });

  it.runIf(kind === 'postgres')(
    'tells the other instances at once when work is recorded or released and when a setting changes',
    async () => {
      const other = await store.open(dir);
      const heard: string[] = [];
      const unsubscribe = other.subscribe((notice) => heard.push(notice));
      try {
        // The listener connects in the background; a setting proves it listens.
        await waitUntil(async () => {
          await ledger.setSetting('probe', String(Date.now()));
          return heard.includes('settings');
        });
        heard.length = 0;
        await ledger.recordVersions([v('a.xml', 'e1')], 'event', T0);
        await waitUntil(() => heard.includes('work'));
        heard.length = 0;
        // Recording nothing new tells nobody.
        await ledger.recordVersions([v('a.xml', 'e1')], 'event', T0);
        const [row] = await ledger.claim('w1', 1, LEASE, T0);
        expect(await ledger.releaseLeases('w1', undefined, T0 + 1)).toBe(1);
        await waitUntil(() => heard.includes('work'));
        expect(heard).toEqual(['work']);
        expect(row?.key).toBe('a.xml');
      } finally {
        unsubscribe();
        await other.close();
      }
    },
  );
});

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
