import { hostname } from 'node:os';
import { toTransformerError } from '../errors.js';
import type { Ledger, ScanRecord, ScanTrigger } from '../ledger/types.js';
import type { Logger } from '../log.js';
import { type ScanDeps, scanSourceBucket } from './scan.js';

/**
 * Runs scans one at a time and coalesces requests: while a scan runs, every new request joins a single
 * queued follow-up scan (a running listing may already be past a key uploaded since it began, so the
 * request cannot simply join the running scan). Requests return the scan's id at once; progress is in
 * the ledger's `scans` table. A scheduled scan is different: it is claimed in the ledger for its slot
 * first (so exactly one instance of a fleet runs it) and, when this instance wins it, queued as its own.
 */
export class Scanner {
  private running: number | null = null;
  /** The queued scan that further requests join (scheduled scans are never joined). */
  private joinable: ScanRecord | null = null;
  /** Scans not started yet, to cancel on stop. */
  private readonly waiting = new Map<number, ScanRecord>();
  /** Scans not yet ended, by id (removed when they end). */
  private readonly unfinished = new Map<number, Promise<void>>();
  /** The end of the chain: each scan starts when the one before it has ended. */
  private last: Promise<void> = Promise.resolve();
  private readonly controller = new AbortController();
  private stopped = false;

  constructor(
    private readonly deps: Omit<ScanDeps, 'signal'> & { ledger: Ledger; logger: Logger; owner: string },
  ) {}

  private serial: Promise<unknown> = Promise.resolve();

  request(trigger: ScanTrigger): Promise<ScanRecord> {
    return this.serialized(async () => {
      if (this.joinable) return this.joinable;
      return this.enqueue(await this.deps.ledger.createScan(trigger, this.deps.owner), true);
    });
  }

  /**
   * The scan of a schedule slot, if no instance sharing the ledger has taken that slot yet; null when
   * one has (it runs the scan, this instance does nothing).
   */
  requestSlot(trigger: ScanTrigger, slot: string): Promise<ScanRecord | null> {
    return this.serialized(async () => {
      const record = await this.deps.ledger.createSlotScan(trigger, this.deps.owner, slot);
      return record && this.enqueue(record, false);
    });
  }

  /** One request at a time, so two simultaneous requests cannot both create a follow-up scan. */
  private serialized<T>(create: () => Promise<T>): Promise<T> {
    const result = this.serial.then(() => {
      if (this.stopped) throw new Error('the service is stopping');
      return create();
    });
    this.serial = result.catch(() => {});
    return result;
  }

  private enqueue(record: ScanRecord, joinable: boolean): ScanRecord {
    const idle = this.running === null && this.waiting.size === 0;
    if (!idle) {
      this.waiting.set(record.id, record);
      if (joinable) this.joinable = record;
    }
    const done = this.last.then(async () => {
      if (this.joinable?.id === record.id) this.joinable = null;
      if (this.stopped) return;
      this.waiting.delete(record.id);
      this.running = record.id;
      try {
        await this.run(record.id);
      } finally {
        this.running = null;
      }
    });
    this.last = done.catch(() => {});
    this.track(record.id, done);
    return record;
  }

  /** Resolves when the scan has ended (done or failed); immediately for unknown ids. */
  async wait(id: number): Promise<void> {
    await this.unfinished.get(id);
  }

  /** Resolves when no scan of this process is queued or running. */
  async settled(): Promise<void> {
    while (this.unfinished.size > 0) await Promise.allSettled([...this.unfinished.values()]);
  }

  private track(id: number, done: Promise<void>): void {
    this.unfinished.set(id, done);
    done.finally(() => this.unfinished.delete(id)).catch(() => {});
  }

  /** Aborts the running listing; queued scans do not start. Their rows are marked failed. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.controller.abort();
    await this.settled();
    for (const record of this.waiting.values())
      await this.deps.ledger.finishScan(record.id, zero, 'cancelled: the service stopped');
    this.waiting.clear();
  }

  /**
   * Runs one scan. Never rejects: every step (starting, listing, recording the outcome) may fail, e.g.
   * SQLITE_BUSY with several processes on one DATA_DIR, and none of them may throw past the scan: a
   * failed start used to leave the scanner wedged, every later request joining a dead scan.
   */
  private async run(id: number): Promise<void> {
    const { ledger, logger } = this.deps;
    try {
      await ledger.startScan(id);
      const progress = await scanSourceBucket({ ...this.deps, signal: this.controller.signal }, id);
      await ledger.finishScan(id, progress, null);
    } catch (err) {
      const message = this.controller.signal.aborted
        ? 'interrupted: the service stopped'
        : toTransformerError(err).message;
      logger.error({ scanId: id, err }, 'scan failed');
      try {
        const row = await ledger.getScan(id);
        await ledger.finishScan(id, row ?? zero, message);
      } catch (recordErr) {
        // The next start marks it failed (failAbandonedScans); this process goes on scanning.
        logger.error({ scanId: id, err: recordErr }, 'could not record the failed scan');
      }
    }
  }
}

const zero = { listed: 0, matched: 0, recorded: 0 };

/** A scan that has not progressed for this long, run by another host, is taken as abandoned. */
const STALE_SCAN_MS = 15 * 60_000;

/**
 * At start-up: scans left queued or running by a process that is gone are marked failed
 * ("interrupted"), so they do not look as if they were still running. Scans of live processes sharing
 * the ledger (another instance, `scan --once`) are left alone. Owners are `host:pid:random`.
 */
export async function failAbandonedScans(ledger: Ledger, now = Date.now()): Promise<number> {
  let failed = 0;
  for (const scan of await ledger.unfinishedScans()) {
    if (!ownerGone(scan, now)) continue;
    await ledger.finishScan(scan.id, scan, 'interrupted: the process running this scan stopped');
    failed += 1;
  }
  return failed;
}

function ownerGone(scan: ScanRecord, now: number): boolean {
  if (!scan.owner) return true;
  const parts = scan.owner.split(':');
  const pid = Number(parts[parts.length - 2]);
  if (parts.slice(0, -2).join(':') === hostname() && Number.isInteger(pid)) {
    if (pid === process.pid) return false;
    try {
      process.kill(pid, 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }
  return scan.updatedAt === null || now - Date.parse(scan.updatedAt) > STALE_SCAN_MS;
}
