/**
 * The chaos campaign (bench/chaos.ts, `npm run chaos`) in a short seeded version, on each ledger: the
 * built service against s3rver behind the fault proxy and fauxqs, killed with SIGKILL, S3 cut off and
 * restarted, events duplicated and delayed; then every uploaded key is checked from the buckets (exact
 * JSON or report, nothing stray, nothing written twice) and against the ledger.
 */
import { describe, expect, test } from 'vitest';
import { formatFigures, runCampaign } from '../bench/chaos.js';
import { LEDGER_KINDS, ledgerStore } from './support/ledgers.js';

describe.each(LEDGER_KINDS)('on the %s ledger', (kind) => {
  test('a short seeded campaign loses nothing, duplicates nothing and does not hang', async () => {
    const store = await ledgerStore(kind);
    try {
      const result = await runCampaign({
        seed: 7,
        files: 60,
        kills: 2,
        uploadSeconds: 10,
        outageSeconds: 3,
        faultRate: 0.08,
        rssBoundMiB: 512,
        drainSeconds: 120,
        databaseUrl: store.databaseUrl,
        log: () => {},
      });
      expect(result.problems, formatFigures(result.figures)).toEqual([]);
      const figure = (name: string) => result.figures.find(([k]) => k === name)?.[1];
      expect(figure('ledger')).toBe(kind === 'postgres' ? 'PostgreSQL' : 'SQLite');
      expect(figure('versions uploaded')).toBe(60);
      expect(figure('service starts')).toBe(3);
      expect(figure('S3 server restarts')).toBe(1);
      expect(figure('losses')).toBe(0);
      expect(figure('versions written twice')).toBe(0);
      expect(figure('wrong outputs')).toBe(0);
      expect(figure('stray or partial outputs')).toBe(0);
      expect(figure('hang')).toBe('no');
    } finally {
      await store.dispose();
    }
  }, 300_000);
});
