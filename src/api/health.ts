/**
 * Liveness and readiness. Liveness says only "the process answers" (restart me if not); readiness
 * runs every registered check (ledger, source bucket, target bucket; the queue when events are on)
 * and answers 503 naming the ones that failed, so a load balancer stops sending work here.
 */
import type { FastifyInstance } from 'fastify';
import type { ReadinessCheck } from '../contracts.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The readiness checks run by GET /health/ready; plugins push theirs (e.g. the SQS queue). */
    readinessChecks: ReadinessCheck[];
  }
}

/** How long one check may take before it counts as failed: a hung dependency is not ready. */
const CHECK_TIMEOUT_MS = 5_000;

export interface CheckOutcome {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

export interface ReadinessReport {
  ok: boolean;
  /** Names of the checks that failed. */
  failed: string[];
  checks: CheckOutcome[];
}

/** Runs the checks at once, each bounded by CHECK_TIMEOUT_MS: the one readiness runner. */
export async function runReadinessChecks(checks: readonly ReadinessCheck[]): Promise<ReadinessReport> {
  const outcomes = await Promise.all(checks.map(runCheck));
  const failed = outcomes.filter((c) => !c.ok).map((c) => c.name);
  return { ok: failed.length === 0, failed, checks: outcomes };
}

async function runCheck(check: ReadinessCheck): Promise<CheckOutcome> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
    });
    const result = await Promise.race([check.check(), timeout]);
    const ms = Math.round(performance.now() - started);
    if (result === false) return { name: check.name, ok: false, ms, error: 'check reported not ready' };
    return { name: check.name, ok: true, ms };
  } catch (err) {
    const ms = Math.round(performance.now() - started);
    return { name: check.name, ok: false, ms, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

const checkSchema = {
  type: 'object',
  required: ['name', 'ok'],
  properties: {
    name: { type: 'string' },
    ok: { type: 'boolean' },
    ms: { type: 'number' },
    error: { type: 'string' },
  },
} as const;

const readySchema = {
  type: 'object',
  required: ['status', 'checks'],
  properties: {
    status: { type: 'string', enum: ['ready', 'not ready'] },
    failed: { type: 'array', items: { type: 'string' } },
    checks: { type: 'array', items: checkSchema },
  },
} as const;

export async function healthRoutes(app: FastifyInstance) {
  app.get(
    '/health/live',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness: 200 while the process runs',
        response: { 200: { type: 'object', properties: { status: { type: 'string', enum: ['live'] } } } },
      },
    },
    async () => ({ status: 'live' }),
  );

  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: 200 when the ledger, both buckets (and the queue, if any) answer',
        response: { 200: readySchema, 503: readySchema },
      },
    },
    async (_request, reply) => {
      const { ok, failed, checks } = await runReadinessChecks(app.readinessChecks);
      reply.code(ok ? 200 : 503);
      return { status: ok ? 'ready' : 'not ready', failed, checks };
    },
  );
}
