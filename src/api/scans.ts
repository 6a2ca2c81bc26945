/**
 * POST /api/scans starts a scan of the source bucket now (the same scan the schedule runs) and
 * answers 202 at once with its id; GET /api/scans/{id} follows its progress and outcome;
 * GET /api/scans lists the most recent ones.
 */
import type { FastifyInstance } from 'fastify';
import { HttpError } from './errors.js';
import type { ServiceApi } from './types.js';

const scanSchema = {
  type: 'object',
  required: ['id'],
  additionalProperties: true,
  properties: {
    id: { type: 'string' },
    status: { type: 'string', enum: ['queued', 'running', 'done', 'failed'] },
  },
} as const;

export async function scanRoutes(app: FastifyInstance, opts: { service: ServiceApi }) {
  const { service } = opts;

  app.post(
    '/api/scans',
    {
      schema: {
        tags: ['scans'],
        summary: 'Scan the source bucket now; 202 with the scan id (Location: /api/scans/{id})',
        security: [{ bearer: [] }],
        response: { 202: scanSchema, 401: { $ref: 'ApiError#' } },
      },
    },
    async (_request, reply) => {
      const started = await service.requestScan();
      const scan = (await service.getScan(started.id)) ?? started;
      reply
        .code(202)
        .header('Location', `/api/scans/${encodeURIComponent(started.id)}`)
        .send(scan);
      return reply;
    },
  );

  app.get<{ Querystring: { limit: number } }>(
    '/api/scans',
    {
      schema: {
        tags: ['scans'],
        summary:
          'The most recent scans, newest first: trigger, status, listed/matched/recorded, timings, error',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 } },
        },
        response: {
          200: {
            type: 'object',
            required: ['scans'],
            properties: { scans: { type: 'array', items: scanSchema } },
          },
          400: { $ref: 'ApiError#' },
        },
      },
    },
    async (request) => ({ scans: await service.listScans(request.query.limit) }),
  );

  app.get<{ Params: { id: string } }>(
    '/api/scans/:id',
    {
      schema: {
        tags: ['scans'],
        summary: 'Progress and outcome of one scan',
        params: { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } } },
        response: { 200: scanSchema, 404: { $ref: 'ApiError#' } },
      },
    },
    async (request) => {
      const scan = await service.getScan(request.params.id);
      if (!scan) throw new HttpError(404, `no scan with id ${request.params.id}`);
      return scan;
    },
  );
}
