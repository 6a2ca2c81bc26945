/**
 * GET/PUT /api/schedule: how often the safety-net scan runs. The body is exactly one of
 * `{"intervalHours": n}` or `{"cron": "<5 or 6 field expression>"}`; the service validates the cron
 * expression (and answers 400 through the error handler if it does not parse) and persists the
 * setting, so it survives a restart.
 *
 * GET /api/schedule/preview?cron=… (or ?intervalHours=…) lists the next runs a setting would give,
 * without changing anything, so an operator sees what a cron expression means before saving it.
 */
import { Cron } from 'croner';
import type { FastifyInstance } from 'fastify';
import { MAX_INTERVAL_HOURS, parseCron } from '../config/parse.js';
import type { Schedule } from '../contracts.js';
import { HttpError } from './errors.js';
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

  app.get<{ Querystring: { cron?: string; intervalHours?: number; count: number } }>(
    '/api/schedule/preview',
    {
      schema: {
        tags: ['schedule'],
        summary:
          'The next runs a schedule would give (nothing is changed); exactly one of cron, intervalHours',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            cron: { type: 'string', minLength: 1, maxLength: 200 },
            intervalHours: { type: 'number', minimum: MIN_HOURS, maximum: MAX_INTERVAL_HOURS },
            count: { type: 'integer', minimum: 1, maximum: 20, default: 5 },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['runs'],
            properties: { runs: { type: 'array', items: { type: 'string', format: 'date-time' } } },
          },
          400: { $ref: 'ApiError#' },
        },
      },
    },
    async (request) => {
      const { cron, intervalHours, count } = request.query;
      if ((cron === undefined) === (intervalHours === undefined)) {
        throw new HttpError(400, 'give exactly one of cron or intervalHours');
      }
      if (cron !== undefined) {
        // Same parser and options as the scheduler, so the preview is what saving would run.
        const job = new Cron(parseCron('cron', cron), { paused: true });
        const runs = job.nextRuns(count).map((d) => d.toISOString());
        job.stop();
        return { runs };
      }
      // An interval counts from when it is set (src/discovery/schedule.ts): saving now starts the count.
      const now = Date.now();
      const step = intervalHours! * 3_600_000;
      return { runs: Array.from({ length: count }, (_, i) => new Date(now + (i + 1) * step).toISOString()) };
    },
  );

  app.put<{ Body: Schedule }>(
    '/api/schedule',
    {
      preValidation: async (request) => {
        const body = request.body as Record<string, unknown> | null;
        if (
          body &&
          typeof body === 'object' &&
          'intervalHours' in body &&
          typeof body.intervalHours !== 'number'
        ) {
          throw new HttpError(400, 'invalid body: intervalHours must be a number of hours, such as 3');
        }
        if (body && typeof body === 'object' && 'cron' in body && typeof body.cron !== 'string') {
          throw new HttpError(400, 'invalid body: cron must be a string, such as "0 */3 * * *"');
        }
      },
      schema: {
        tags: ['schedule'],
        summary: 'Change the scan schedule (persisted; applies at once)',
        security: [{ bearer: [] }],
        body: scheduleBodySchema,
        // The API's validator coerces types (query strings need it): `true` would pass as 1 hour.
        // A body is JSON, so its values must already have their type.
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
