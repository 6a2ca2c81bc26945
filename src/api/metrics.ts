/** GET /metrics: the service's Prometheus registry, with ledger gauges refreshed on each scrape. */
import type { FastifyInstance } from 'fastify';
import type { ServiceApi } from './types.js';

export async function metricsRoutes(app: FastifyInstance, opts: { service: ServiceApi }) {
  const { service } = opts;
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['health'],
        summary: 'Prometheus metrics (text exposition format); see docs/metrics.md',
        response: { 200: { type: 'string' } },
      },
    },
    async (_request, reply) => {
      // A failing refresh must not hide the counters: scrape what we have and log why.
      try {
        await service.refreshMetrics?.();
      } catch (err) {
        app.log.warn({ err }, 'could not refresh ledger gauges before scrape');
      }
      const { registry } = service.metrics;
      reply.header('Content-Type', registry.contentType);
      return registry.metrics();
    },
  );
}
