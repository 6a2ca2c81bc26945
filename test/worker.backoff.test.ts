import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../src/backoff.js';

describe('retry backoff (full jitter)', () => {
  it('grows exponentially from the base and stops at the cap', () => {
    const top = () => 0.999999;
    expect(backoffDelayMs(1, 1000, 300_000, top)).toBe(999);
    expect(backoffDelayMs(2, 1000, 300_000, top)).toBe(1999);
    expect(backoffDelayMs(5, 1000, 300_000, top)).toBe(15_999);
    expect(backoffDelayMs(20, 1000, 300_000, top)).toBe(299_999);
  });

  it('spreads delays over the whole window', () => {
    expect(backoffDelayMs(3, 1000, 300_000, () => 0)).toBe(0);
    expect(backoffDelayMs(3, 1000, 300_000, () => 0.5)).toBe(2000);
  });
});
