import { Cron } from 'croner';
import type { Schedule } from '../config/types.js';

/** setTimeout's ceiling (~24.8 days); longer intervals are waited for in several steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs `tick` on the scan schedule: every N hours (counted from when the schedule was set, i.e. from
 * start-up, which itself runs the catch-up scan) or on a cron expression (croner, local time of the
 * process; set TZ for another zone). `set` replaces the schedule at once.
 */
export class ScanScheduler {
  private timer: NodeJS.Timeout | null = null;
  private cron: Cron | null = null;
  private nextAt: number | null = null;
  private current: Schedule | null = null;

  constructor(private readonly tick: () => void) {}

  get schedule(): Schedule | null {
    return this.current;
  }

  set(schedule: Schedule): void {
    this.stop();
    this.current = schedule;
    if ('cron' in schedule) {
      this.cron = new Cron(schedule.cron, { protect: true }, () => this.tick());
    } else {
      this.armInterval(Date.now() + schedule.intervalHours * 3_600_000);
    }
  }

  nextRunAt(): Date | null {
    if (this.cron) return this.cron.nextRun() ?? null;
    return this.nextAt === null ? null : new Date(this.nextAt);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.cron?.stop();
    this.cron = null;
    this.nextAt = null;
  }

  private armInterval(at: number): void {
    this.nextAt = at;
    this.timer = setTimeout(
      () => {
        if (Date.now() < at) return this.armInterval(at);
        const current = this.current;
        if (current && 'intervalHours' in current) this.armInterval(at + current.intervalHours * 3_600_000);
        this.tick();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now())),
    );
  }
}
