/** GET /api/stats: how many ledger rows are in each state (the dashboard's headline, a quick check). */
import type { FastifyInstance } from 'fastify';
import { FILE_STATES, type ServiceApi } from './types.js';

export async function statsRoutes(app: FastifyInstance, opts: { service: ServiceApi }) {
  const countProperties = Object.fromEntries(FILE_STATES.map((s) => [s, { type: 'integer' }]));
  app.get(
    '/api/stats',
    {
      schema: {
        tags: ['files'],
        summary: 'Ledger rows (object versions) by state; pending is the queue depth',
        response: {
          200: {
            type: 'object',
            required: ['files', 'total'],
            properties: {
              files: { type: 'object', required: [...FILE_STATES], properties: countProperties },
              total: { type: 'integer' },
            },
          },
        },
      },
    },
    async () => {
      const files = await opts.service.ledger.countByState();
      return { files, total: Object.values(files).reduce((a, b) => a + b, 0) };
    },
  );
}
