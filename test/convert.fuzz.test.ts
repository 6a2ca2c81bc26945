/**
 * A short, seeded run of the fuzzing campaign (fuzz/campaign.ts; the long one is `npm run fuzz`): mutated
 * and spliced catalogues, whole and at random chunk boundaries, against the saxes reference. No crash,
 * and every verdict and output equal to saxes's.
 */
import { describe, expect, it } from 'vitest';
import { runCampaign } from '../fuzz/campaign.js';

describe('fuzzing campaign, short seeded run', () => {
  it('agrees with saxes on every case, without a crash', async () => {
    const result = await runCampaign({ seed: 20261130, cases: 400, stopAtFirstFailure: true });
    expect(result.failures.map((f) => `${f.kind} at case ${f.case}: ${f.detail}`)).toEqual([]);
    expect(result.agreed).toBe(400);
    // The run reaches both outcomes and grows its corpus: the cases are not all alike.
    expect(result.converted).toBeGreaterThan(40);
    expect(result.failedFiles).toBeGreaterThan(40);
    expect(result.behaviours).toBeGreaterThan(10);
  }, 240_000);
});
