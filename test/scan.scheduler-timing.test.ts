/**
 * The scan schedule's timing (src/discovery/schedule.ts) on fake time: intervals to the millisecond,
 * cron expressions at their next match, intervals beyond setTimeout's ~24.8-day ceiling, and a new
 * schedule or stop() cancelling the old timer. No test here waits in real time.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ScanScheduler } from '../src/discovery/schedule.js';

const HOUR = 3_600_000;
/** A fixed local time (10:00), so the next match of a cron expression is known in any time zone. */
const T0 = new Date(2026, 10, 30, 10, 0, 0, 0).getTime();

let ticks: number[];
let scheduler: ScanScheduler;

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  ticks = [];
  scheduler = new ScanScheduler(() => ticks.push(Date.now()));
});

afterEach(() => {
  scheduler.stop();
  vi.useRealTimers();
});

describe('scan schedule', () => {
  it('ticks every N hours from when it was set, to the millisecond', async () => {
    scheduler.set({ intervalHours: 3 });
    expect(scheduler.nextRunAt()?.getTime()).toBe(T0 + 3 * HOUR);
    await vi.advanceTimersByTimeAsync(3 * HOUR - 1);
    expect(ticks).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(ticks).toEqual([T0 + 3 * HOUR]);
    expect(scheduler.nextRunAt()?.getTime()).toBe(T0 + 6 * HOUR);
    await vi.advanceTimersByTimeAsync(6 * HOUR);
    expect(ticks).toEqual([T0 + 3 * HOUR, T0 + 6 * HOUR, T0 + 9 * HOUR]);
  });

  it('waits out an interval longer than the setTimeout ceiling without ticking early', async () => {
    const hours = 24 * 40; // 40 days: setTimeout alone would fire after ~24.8 days (or at once)
    scheduler.set({ intervalHours: hours });
    await vi.advanceTimersByTimeAsync(hours * HOUR - 1);
    expect(ticks).toEqual([]);
    expect(scheduler.nextRunAt()?.getTime()).toBe(T0 + hours * HOUR);
    await vi.advanceTimersByTimeAsync(1);
    expect(ticks).toEqual([T0 + hours * HOUR]);
  });

  it('ticks on a cron expression at its next match (local time)', async () => {
    scheduler.set({ cron: '30 10 * * *' });
    const at = new Date(2026, 10, 30, 10, 30, 0, 0).getTime();
    expect(scheduler.nextRunAt()?.getTime()).toBe(at);
    await vi.advanceTimersByTimeAsync(at - T0 - 1000);
    expect(ticks).toEqual([]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(ticks).toEqual([at]);
    expect(scheduler.nextRunAt()?.getTime()).toBe(new Date(2026, 11, 1, 10, 30, 0, 0).getTime());
  });

  it('a new schedule replaces the old timer at once', async () => {
    scheduler.set({ intervalHours: 1 });
    await vi.advanceTimersByTimeAsync(HOUR / 2);
    scheduler.set({ cron: '0 12 * * *' });
    expect(scheduler.schedule).toEqual({ cron: '0 12 * * *' });
    // Past 11:00, when the interval would have ticked, on to just before the cron's noon.
    await vi.advanceTimersByTimeAsync(new Date(2026, 10, 30, 12, 0, 0, 0).getTime() - Date.now() - 1000);
    expect(ticks).toEqual([]);

    scheduler.set({ intervalHours: 2 });
    const setAt = Date.now();
    await vi.advanceTimersByTimeAsync(2 * HOUR);
    expect(ticks).toEqual([setAt + 2 * HOUR]);
  });

  it('stop() cancels the next run', async () => {
    scheduler.set({ intervalHours: 1 });
    scheduler.stop();
    expect(scheduler.nextRunAt()).toBeNull();
    await vi.advanceTimersByTimeAsync(5 * HOUR);
    expect(ticks).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
