/**
 * GET/PUT /api/schedule: how often the safety-net scan runs. The body is exactly one of
 * `{"intervalHours": n}` or `{"cron": "<5 or 6 field expression>"}`; the service validates the cron
 * expression (and answers 400 through the error handler if it does not parse) and persists the
 * setting, so it survives a restart.
 */
import type { FastifyInstance } from 'fastify';
import { MAX_INTERVAL_HOURS } from '../config/parse.js';
import type { Schedule } from '../contracts.js';
import type { ServiceApi } from './types.js';

/** An interval shorter than a minute is a typo, not a schedule; the upper bound is the config's. */
const MIN_HOURS = 1 / 60;

const scheduleBodySchema = {
  oneOf: [
    {
      type: 'object',
      required: ['intervalHours'],
      additionalProperties: false,
      properties: {
        intervalHours: { type: 'number', minimum: MIN_HOURS, maximum: MAX_INTERVAL_HOURS, examples: [3] },
      },
    },
    {
      type: 'object',
      required: ['cron'],
      additionalProperties: false,
      properties: { cron: { type: 'string', minLength: 9, maxLength: 200, examples: ['0 */3 * * *'] } },
    },
  ],
} as const;

const scheduleResponseSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    intervalHours: { type: ['number', 'null'] },
    cron: { type: ['string', 'null'] },
    nextRunAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

export async function scheduleRoutes(app: FastifyInstance, opts: { service: ServiceApi }) {
  const { service } = opts;

  app.get(
    '/api/schedule',
    {
      schema: {
        tags: ['schedule'],
        summary: 'The scan schedule: every N hours, or a cron expression',
        response: { 200: scheduleResponseSchema },
      },
    },
    async () => service.getSchedule(),
  );

  app.put<{ Body: Schedule }>(
    '/api/schedule',
    {
      schema: {
        tags: ['schedule'],
        summary: 'Change the scan schedule (persisted; applies at once)',
        security: [{ bearer: [] }],
        body: scheduleBodySchema,
        response: {
          200: scheduleResponseSchema,
          400: { $ref: 'ApiError#' },
          401: { $ref: 'ApiError#' },
        },
      },
    },
    async (request) => {
      const updated = await service.setSchedule(request.body);
      return updated ?? service.getSchedule();
    },
  );
}
