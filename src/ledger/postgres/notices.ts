/**
 * LISTEN for the fleet's notices on a connection of its own (a pooled connection cannot keep a
 * LISTEN). When that connection is lost (PostgreSQL restarted, failed over, a network cut) it is
 * opened again with backoff, and every listener then gets one notice of each kind: whatever was
 * announced while nobody listened is picked up by a claim and a settings read.
 */
import pg from 'pg';
import type { Logger } from '../../log.js';
import type { LedgerNotice } from '../types.js';
import { briefError } from './brief-error.js';

/** The channel; the payload is the notice (`work`, `settings`). */
export const NOTICE_CHANNEL = 'file_transformer';

const NOTICES: readonly LedgerNotice[] = ['work', 'settings'];
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 10_000;
/** A query on the idle connection this often, so a silently dead one is noticed and replaced. */
const PROBE_MS = 30_000;

export interface NoticeListener {
  subscribe(listener: (notice: LedgerNotice) => void): () => void;
  close(): Promise<void>;
}

export function listenForNotices(config: pg.ClientConfig, logger?: Logger): NoticeListener {
  const listeners = new Set<(notice: LedgerNotice) => void>();
  let client: pg.Client | null = null;
  let connecting = false;
  let closed = false;
  let everConnected = false;
  let retryMs = RETRY_MIN_MS;
  let retryTimer: NodeJS.Timeout | null = null;
  let probeTimer: NodeJS.Timeout | null = null;

  const emit = (notice: LedgerNotice) => {
    for (const listener of listeners) listener(notice);
  };

  const reconnectLater = () => {
    if (closed || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      void connect();
    }, retryMs);
    retryTimer.unref();
    retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
  };

  const lost = (c: pg.Client, err?: unknown) => {
    if (client !== c) return;
    client = null;
    if (probeTimer) clearInterval(probeTimer);
    probeTimer = null;
    c.end().catch(() => {});
    if (!closed) logger?.warn({ err: briefError(err) }, 'ledger notices: connection lost; reconnecting');
    reconnectLater();
  };

  async function connect(): Promise<void> {
    if (closed || client || connecting) return;
    connecting = true;
    const c = new pg.Client({ ...config, application_name: 'file-transformer (listen)' });
    c.on('notification', (message) => {
      const notice = message.payload as LedgerNotice;
      if (NOTICES.includes(notice)) emit(notice);
    });
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c));
    try {
      await c.connect();
      await c.query(`LISTEN ${NOTICE_CHANNEL}`);
    } catch (err) {
      connecting = false;
      c.end().catch(() => {});
      if (!closed) logger?.warn({ err: briefError(err) }, 'ledger notices: cannot listen yet; retrying');
      reconnectLater();
      return;
    }
    connecting = false;
    if (closed) {
      await c.end().catch(() => {});
      return;
    }
    client = c;
    retryMs = RETRY_MIN_MS;
    probeTimer = setInterval(() => {
      c.query('SELECT 1').catch((err: unknown) => lost(c, err));
    }, PROBE_MS);
    probeTimer.unref();
    if (everConnected) {
      logger?.info('ledger notices: listening again');
      for (const notice of NOTICES) emit(notice);
    }
    everConnected = true;
  }

  return {
    subscribe(listener) {
      listeners.add(listener);
      void connect();
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      if (probeTimer) clearInterval(probeTimer);
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}
