/**
 * The Lambda function's work in the service's PostgreSQL ledger (DATABASE_URL), so functions and
 * servers form one fleet with one dashboard: the version an event names is recorded (a no-op when a
 * scan or a server recorded it first), taken under a lease like a server's worker takes it, converted,
 * and its outcome recorded with the same fencing. A version some other worker holds is not converted
 * twice: its message comes back later, when the ledger has its outcome.
 */
import type { EventVersion } from '../discovery/s3-events.js';
import { toTransformerError } from '../errors.js';
import type { FileRecord, Ledger } from '../ledger/types.js';
import type { Logger } from '../log.js';
import type { PipelineResult } from '../worker/pipeline.js';

/** A function never runs longer than this (Lambda's limit): a crashed invocation's lease lapses then. */
export const LAMBDA_MAX_RUN_MS = 15 * 60_000;

const FINAL: ReadonlySet<FileRecord['state']> = new Set(['done', 'failed', 'skipped', 'gone']);

/** Where an invocation's conversions are recorded (or nothing, for the stateless function). */
export interface WorkRecorder {
  /**
   * Runs `convert` when the ledger hands this version to the invocation, and records the outcome.
   * 'done': nothing more is needed from this message; 'retry': the message must come back (another
   * worker holds the version, or a transient failure). Rejects when the ledger itself fails.
   */
  handle(
    version: EventVersion,
    convert: (options: { force: boolean }) => Promise<PipelineResult>,
    logger: Logger,
  ): Promise<'done' | 'retry'>;
}

export function ledgerWork(ledger: Ledger, owner: string): WorkRecorder {
  return {
    async handle(version, convert, logger) {
      await ledger.recordVersions([version], 'event');
      const row = (await ledger.getFileVersions(version.bucket, version.key)).find(
        (r) => r.etag === version.etag,
      );
      if (!row) throw new Error(`the ledger lost ${version.key} (${version.etag}) right after recording it`);
      if (FINAL.has(row.state)) {
        logger.info({ fileId: row.id, state: row.state }, "the ledger already has this version's outcome");
        return 'done';
      }
      const claimed = await ledger.claimVersion(row.id, owner, LAMBDA_MAX_RUN_MS);
      if (!claimed) {
        logger.info({ fileId: row.id }, 'another worker is converting this file; the message will come back');
        return 'retry';
      }
      const log = logger.child({ fileId: claimed.id, attempt: claimed.attempts });
      let result: PipelineResult;
      try {
        result = await convert({ force: claimed.forced });
      } catch (err) {
        const e = toTransformerError(err);
        if (e.retryable) {
          await ledger.retryLater(claimed.id, owner, { error: e.message, errorCode: e.code }, Date.now());
          throw e;
        }
        await ledger.finish(claimed.id, owner, 'failed', { error: e.message, errorCode: e.code });
        throw e;
      }
      if (!(await ledger.finish(claimed.id, owner, result.state, result.outcome))) {
        log.warn({ state: result.state }, 'lease lost before the outcome was recorded');
      }
      return 'done';
    },
  };
}
