import { TransientError } from '../errors.js';
import type { FileRecord, Ledger } from '../ledger/types.js';
import type { Logger } from '../log.js';

/**
 * The abort reason of a conversion whose bytes stopped moving: a transient failure (retried with
 * backoff), unlike a graceful stop or a lost lease, after which the row is released or not ours.
 */
export class ConversionStalledError extends TransientError {
  constructor(idleMs: number) {
    super(`stalled: no bytes moved for ${Math.round(idleMs / 1000)} s; aborted to retry`, {
      code: 'timeout',
    });
    this.name = 'ConversionStalledError';
  }
}

/** A conversion in flight that has not moved for longer than the stall timeout (readiness reports it). */
export interface StuckConversion {
  fileId: number;
  key: string;
  idleMs: number;
}

export interface WorkerPoolOptions {
  ledger: Ledger;
  owner: string;
  concurrency: number;
  leaseMs: number;
  /** Longest sleep when nothing wakes the pool (backoff timers and lease expiries are timed exactly). */
  pollMs: number;
  /** A conversion whose bytes have not moved for this long is aborted (ConversionStalledError); default 120 s. */
  stallMs?: number;
  logger: Logger;
  /**
   * Converts one claimed row and records its outcome; rejects only when the ledger fails (logged here). Calls `progress()` whenever
   * bytes move (the watchdog's heartbeat).
   */
  process: (row: FileRecord, signal: AbortSignal, progress: () => void) => Promise<void>;
  /** The clock (tests move it). */
  now?: () => number;
}

interface Task {
  row: FileRecord;
  controller: AbortController;
  done: Promise<void>;
  lastProgressAt: number;
}

/**
 * A bounded pool of conversions. It claims as many rows as it has free slots, sleeps until woken
 * (`wake()` after rows are recorded, a slot freeing up) or until the earliest backoff/lease timer in
 * the ledger, and renews the lease of every row it is converting.
 */
export class WorkerPool {
  private readonly tasks = new Map<number, Task>();
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private woken = false;
  private wakeUp: (() => void) | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private watchdogTimer: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private readonly stallMs: number;

  constructor(private readonly options: WorkerPoolOptions) {
    this.now = options.now ?? Date.now;
    this.stallMs = options.stallMs ?? 120_000;
  }

  get inFlight(): number {
    return this.tasks.size;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.renewTimer = setInterval(() => void this.renewLeases(), Math.max(250, this.options.leaseMs / 3));
    this.watchdogTimer = setInterval(() => this.abortStalled(), Math.max(100, this.stallMs / 4));
    this.watchdogTimer.unref();
    this.loopDone = this.loop();
  }

  /** New work may be claimable: claim now instead of at the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /**
   * Stops claiming, lets conversions in flight finish for up to `graceMs`, then aborts the rest and
   * gives their rows back to the ledger (pending, due now) so the next start picks them up at once.
   */
  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake();
    await this.loopDone;
    const all = Promise.all([...this.tasks.values()].map((t) => t.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      const ids = [...this.tasks.keys()];
      for (const t of this.tasks.values()) t.controller.abort();
      await all;
      const released = await this.options.ledger.releaseLeases(this.options.owner, ids);
      this.options.logger.info({ released }, 'stopped; unfinished files released back to pending');
    }
    if (this.renewTimer) clearInterval(this.renewTimer);
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    this.renewTimer = null;
    this.watchdogTimer = null;
  }

  /**
   * The watchdog: a conversion whose bytes have not moved for `stallMs` (a socket that stopped
   * without closing, a store that accepts and never answers) is aborted as stalled, so its row is
   * retried with backoff instead of holding a slot, with its lease renewed, forever.
   */
  abortStalled(): void {
    const now = this.now();
    for (const task of this.tasks.values()) {
      const idle = now - task.lastProgressAt;
      if (idle < this.stallMs || task.controller.signal.aborted) continue;
      this.options.logger.warn(
        { fileId: task.row.id, key: task.row.key, idleMs: idle },
        'conversion stalled; aborting it',
      );
      task.controller.abort(new ConversionStalledError(idle));
    }
  }

  /**
   * Conversions still in flight although nothing moved for longer than the stall timeout plus a
   * grace for the abort to take effect: work the watchdog could not give back (readiness fails).
   */
  stuck(): StuckConversion[] {
    const now = this.now();
    const limit = this.stallMs + Math.min(this.stallMs, 30_000);
    return [...this.tasks.values()]
      .filter((t) => now - t.lastProgressAt > limit)
      .map((t) => ({ fileId: t.row.id, key: t.row.key, idleMs: now - t.lastProgressAt }));
  }

  private async loop(): Promise<void> {
    const { ledger, owner, concurrency, leaseMs, logger } = this.options;
    while (this.running) {
      this.woken = false;
      const free = concurrency - this.tasks.size;
      if (free > 0) {
        let rows: FileRecord[] = [];
        try {
          rows = await ledger.claim(owner, free, leaseMs);
        } catch (err) {
          logger.error({ err }, 'claiming work failed');
        }
        for (const row of rows) this.launch(row);
        // A full batch suggests more is due: claim again as soon as a slot frees.
        if (rows.length > 0 && rows.length === free) continue;
      }
      await this.sleep(free > 0);
    }
  }

  private launch(row: FileRecord): void {
    const controller = new AbortController();
    const task: Task = { row, controller, done: Promise.resolve(), lastProgressAt: this.now() };
    task.done = this.options
      .process(row, controller.signal, () => {
        task.lastProgressAt = this.now();
      })
      .catch((err: unknown) => {
        this.options.logger.error({ fileId: row.id, err }, 'worker crashed on a file');
      })
      .finally(() => {
        // Only our own entry: the row may be ours again by now (lost, then claimed anew), under a new task.
        if (this.tasks.get(row.id) === task) this.tasks.delete(row.id);
        this.wake();
      });
    // A task still here for this row lost its lease (it aborts at its next renewal); it no longer counts.
    this.tasks.get(row.id)?.controller.abort();
    this.tasks.set(row.id, task);
  }

  private async sleep(hasFreeSlot: boolean): Promise<void> {
    if (this.woken || !this.running) return;
    let ms = this.options.pollMs;
    if (hasFreeSlot) {
      try {
        const due = await this.options.ledger.nextDueAt();
        if (due !== null) ms = Math.min(ms, Math.max(0, due - Date.now()) + 5);
      } catch {
        // keep the poll interval
      }
    }
    if (this.woken || !this.running) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
    this.wakeUp = null;
  }

  private async renewLeases(): Promise<void> {
    for (const task of this.tasks.values()) {
      try {
        const ok = await this.options.ledger.renewLease(
          task.row.id,
          this.options.owner,
          this.options.leaseMs,
        );
        if (!ok && !task.controller.signal.aborted) {
          this.options.logger.warn({ fileId: task.row.id }, 'lease lost; abandoning this conversion');
          task.controller.abort();
        }
      } catch (err) {
        this.options.logger.error({ err }, 'lease renewal failed');
      }
    }
  }
}
