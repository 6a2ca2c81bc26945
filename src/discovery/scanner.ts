import { hostname } from 'node:os';
import { toTransformerError } from '../errors.js';
import type { Ledger, ScanRecord, ScanTrigger } from '../ledger/types.js';
import type { Logger } from '../log.js';
import { type ScanDeps, scanSourceBucket } from './scan.js';

/**
 * Runs scans one at a time and coalesces requests: while a scan runs, every new request joins a single
 * queued follow-up scan (a running listing may already be past a key uploaded since it began, so the
 * request cannot simply join the running scan). Requests return the scan's id at once; progress is in
 * the ledger's `scans` table.
 */
export class Scanner {
  private running: { id: number; done: Promise<void> } | null = null;
  private queued: { record: ScanRecord; done: Promise<void> } | null = null;
  /** Scans not yet ended, by id (removed when they end). */
  private readonly unfinished = new Map<number, Promise<void>>();
  private readonly controller = new AbortController();
  private stopped = false;

  constructor(
    private readonly deps: Omit<ScanDeps, 'signal'> & { ledger: Ledger; logger: Logger; owner: string },
  ) {}

  private serial: Promise<unknown> = Promise.resolve();

  request(trigger: ScanTrigger): Promise<ScanRecord> {
    // One request at a time, so two simultaneous requests cannot both create a follow-up scan.
    const result = this.serial.then(() => this.enqueue(trigger));
    this.serial = result.catch(() => {});
    return result;
  }

  private async enqueue(trigger: ScanTrigger): Promise<ScanRecord> {
    if (this.stopped) throw new Error('the service is stopping');
    if (this.queued) return this.queued.record;
    const record = await this.deps.ledger.createScan(trigger, this.deps.owner);
    if (!this.running) {
      this.running = { id: record.id, done: this.run(record.id) };
      this.track(record.id, this.running.done);
      return record;
    }
    const previous = this.running.done;
    const done = previous.then(() => {
      this.queued = null;
      if (this.stopped) return;
      this.running = { id: record.id, done: this.run(record.id) };
      return this.running.done;
    });
    this.queued = { record, done };
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

  /** Aborts the running listing; a queued scan does not start. Their rows are marked failed. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.controller.abort();
    await this.settled();
    if (this.queued)
      await this.deps.ledger.finishScan(this.queued.record.id, zero, 'cancelled: the service stopped');
  }

  private async run(id: number): Promise<void> {
    const { ledger, logger } = this.deps;
    await ledger.startScan(id);
    try {
      const progress = await scanSourceBucket({ ...this.deps, signal: this.controller.signal }, id);
      await ledger.finishScan(id, progress, null);
    } catch (err) {
      const message = this.controller.signal.aborted
        ? 'interrupted: the service stopped'
        : toTransformerError(err).message;
      logger.error({ scanId: id, err }, 'scan failed');
      const row = await ledger.getScan(id);
      await ledger.finishScan(id, row ?? zero, message);
    } finally {
      if (this.running?.id === id) this.running = null;
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
