/**
 * GET /api/stats: how many ledger rows are in each state (the console's headline, a quick check).
 * GET /api/stats/timeline?hours=24: activity per hour (the console's charts), see ./timeline.ts.
 */
import type { FastifyInstance } from 'fastify';
import { buildTimeline, timelineWindow } from './timeline.js';
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

  const hourSchema = {
    type: 'object',
    properties: {
      hour: { type: 'string', format: 'date-time' },
      files: { type: 'integer' },
      items: { type: 'integer' },
      rejected: { type: 'integer' },
      failures: { type: 'integer' },
      lagP50Ms: { type: ['number', 'null'] },
      lagP95Ms: { type: ['number', 'null'] },
    },
  } as const;
  app.get<{ Querystring: { hours: number } }>(
    '/api/stats/timeline',
    {
      schema: {
        tags: ['files'],
        summary:
          'Per hour, oldest first: files and items converted, items rejected, failed files, and the ' +
          'upload → JSON lag (p50/p95, ms) of the files converted in that hour',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { hours: { type: 'integer', minimum: 1, maximum: 24 * 7, default: 24 } },
        },
        response: {
          200: {
            type: 'object',
            required: ['from', 'to', 'hours'],
            properties: {
              from: { type: 'string', format: 'date-time' },
              to: { type: 'string', format: 'date-time' },
              hours: { type: 'array', items: hourSchema },
            },
          },
          400: { $ref: 'ApiError#' },
        },
      },
    },
    async (request) => {
      const { from, to } = timelineWindow(Date.now(), request.query.hours);
      return buildTimeline(await opts.service.ledger.finishedBetween(from, to), from, to);
    },
  );
}
