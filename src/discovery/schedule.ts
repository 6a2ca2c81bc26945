import { Cron } from 'croner';
import type { Schedule } from '../config/types.js';

/** setTimeout's ceiling (~24.8 days); longer waits are taken in several steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs `tick` on the scan schedule: every N hours (counted from when the schedule was set, i.e. from
 * start-up, which itself runs the catch-up scan) or on a cron expression (croner, local time of the
 * process; set TZ for another zone). `set` replaces the schedule at once.
 *
 * Each run carries a slot name that is the same on every instance sharing a ledger, so they can agree
 * that exactly one of them runs it (the ledger's `createSlotScan`): a cron run is named by the time it
 * was due; an interval run by which N-hour window of the clock it falls in (each instance fires once
 * per window, whatever its start time, so the instance whose turn comes first in a window runs it).
 */
export class ScanScheduler {
  private timer: NodeJS.Timeout | null = null;
  private nextAt: number | null = null;
  private current: Schedule | null = null;

  constructor(private readonly tick: (slot: string) => void) {}

  get schedule(): Schedule | null {
    return this.current;
  }

  set(schedule: Schedule): void {
    this.stop();
    this.current = schedule;
    this.arm(Date.now());
  }

  nextRunAt(): Date | null {
    return this.nextAt === null ? null : new Date(this.nextAt);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.nextAt = null;
  }

  /** The next run after `from` (a previous run, or now) and its slot. */
  private next(from: number): { at: number; slot: string } | null {
    const s = this.current;
    if (!s) return null;
    if ('cron' in s) {
      // An unscheduled croner job: only its calendar arithmetic is used; the timer is ours.
      const at = new Cron(s.cron).nextRun(new Date(from))?.getTime();
      return at === undefined ? null : { at, slot: `cron:${new Date(at).toISOString()}` };
    }
    const every = s.intervalHours * 3_600_000;
    const at = from + every;
    return { at, slot: `every ${s.intervalHours}h:${Math.floor(at / every)}` };
  }

  private arm(from: number): void {
    const run = this.next(from);
    this.nextAt = run?.at ?? null;
    if (run === null) return;
    const wait = () => {
      this.timer = setTimeout(
        () => {
          if (Date.now() < run.at) return wait();
          this.arm(run.at);
          this.tick(run.slot);
        },
        Math.min(MAX_TIMER_MS, Math.max(0, run.at - Date.now())),
      );
    };
    wait();
  }
}
