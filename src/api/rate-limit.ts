/**
 * A token bucket: `burst` tokens, refilled at `perSecond`. The webhook takes one token per object
 * version it is asked to record, so a flood of events (for objects that do not exist, say) cannot put
 * thousands of rows ahead of real uploads: beyond the burst, senders get 429 and send again later, and
 * the scan finds anything they give up on.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes `n` tokens if there are that many; otherwise takes none and returns the seconds to wait. */
  take(n: number): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (n <= this.tokens) {
      this.tokens -= n;
      return { ok: true };
    }
    const missing = Math.min(n, this.burst) - this.tokens;
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(missing / this.perSecond)) };
  }
}
