/**
 * This instance's membership in the fleet that shares its ledger:
 * - a heartbeat into the ledger (who it is, since when, how many files it is converting), which
 *   every instance's GET /api/instances reads;
 * - wake-ups: a version recorded or released by another instance wakes this one's idle workers at
 *   once (PostgreSQL LISTEN/NOTIFY) instead of at the next poll;
 * - the schedule: a change made through any instance's API reaches this one at once (a notice) or,
 *   at the latest, at the next heartbeat (a notice can be missed while the connection is down; the
 *   SQLite ledger has no notices at all).
 */
import { hostname } from 'node:os';
import type { Ledger, LedgerNotice } from '../ledger/types.js';
import type { Logger } from '../log.js';

/** How often an instance writes its heartbeat; one silent for three of these is shown as silent. */
export const HEARTBEAT_MS = 5000;

export interface FleetMember {
  /** Stops the heartbeat and the notices, and records this instance as stopped. */
  leave(): Promise<void>;
}

export interface FleetOptions {
  ledger: Ledger;
  /** This instance's id: the owner of its leases and scans (`host:pid:random`). */
  owner: string;
  logger: Logger;
  /** Files this instance is converting right now. */
  inFlight: () => number;
  /** New work may be claimable. */
  wake: () => void;
  /** Re-reads the persisted schedule and applies it if it changed. */
  reloadSchedule: () => Promise<void>;
  heartbeatMs?: number;
}

export async function joinFleet(options: FleetOptions): Promise<FleetMember> {
  const { ledger, owner, logger } = options;
  const startedAt = Date.now();
  const beat = async () => {
    await ledger.heartbeat({
      id: owner,
      host: hostname(),
      pid: process.pid,
      startedAt,
      inFlight: options.inFlight(),
    });
    await options.reloadSchedule();
  };
  await beat();

  let beating: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    beating = beat().catch((err: unknown) => logger.warn({ err }, 'heartbeat failed (ledger unreachable?)'));
  }, options.heartbeatMs ?? HEARTBEAT_MS);
  timer.unref();

  const unsubscribe = ledger.subscribe((notice: LedgerNotice) => {
    if (notice === 'work') options.wake();
    else
      options.reloadSchedule().catch((err: unknown) => logger.warn({ err }, 'reloading the schedule failed'));
  });

  return {
    async leave() {
      clearInterval(timer);
      unsubscribe();
      await beating;
      await ledger
        .stopInstance(owner)
        .catch((err: unknown) => logger.warn({ err }, 'could not record the stop'));
    },
  };
}
