/**
 * The ledger, read and nudged over HTTP:
 *   GET  /api/files?status=&prefix=&limit=&cursor=&order=   one page of rows (newest first) + nextCursor
 *   GET  /api/files/{key}                             every version of a key (state, report, ...)
 *   POST /api/files/{key}/reprocess                   convert the latest version of a key again
 *
 * S3 keys contain slashes. A client may send the key URL-encoded as one path segment
 * (`/api/files/in%2Fa.xml`) or with its slashes raw (`/api/files/in/a.xml`); the router gives the
 * first to `:key` and the second to the `*` wildcard routes below, which recover the key (and, for
 * POST, strip exactly one trailing `/reprocess`, so a key that itself ends in "/reprocess" still works).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from './errors.js';
import { FILE_STATES, type FileListParams, type ServiceApi } from './types.js';

/** Longest S3 key (bytes of UTF-8): anything longer cannot name an object. */
const MAX_KEY_LENGTH = 1024;
const MAX_PAGE = 1000;
const REPROCESS_SUFFIX = '/reprocess';

const fileRowSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    key: { type: 'string' },
    etag: { type: 'string' },
    state: { type: 'string', enum: [...FILE_STATES] },
  },
} as const;

const keyParamsSchema = {
  type: 'object',
  required: ['key'],
  // No NUL: S3 cannot name such an object, and it would reach the SDK's request line (a 500).
  properties: { key: { type: 'string', minLength: 1, maxLength: MAX_KEY_LENGTH, pattern: '^[^\\u0000]+$' } },
} as const;

const wildcardParamsSchema = {
  type: 'object',
  required: ['*'],
  properties: {
    '*': {
      type: 'string',
      minLength: 1,
      maxLength: MAX_KEY_LENGTH + REPROCESS_SUFFIX.length,
      pattern: '^[^\\u0000]+$',
    },
  },
} as const;

export async function fileRoutes(app: FastifyInstance, opts: { service: ServiceApi }) {
  const { service } = opts;

  app.get<{ Querystring: FileListParams }>(
    '/api/files',
    {
      schema: {
        tags: ['files'],
        summary: 'Ledger rows (one per object version), newest (or oldest) first, one page at a time',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: { type: 'string', enum: [...FILE_STATES] },
            prefix: { type: 'string', maxLength: MAX_KEY_LENGTH },
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 100 },
            cursor: { type: 'string', minLength: 1, maxLength: 2048 },
            order: { type: 'string', enum: ['newest', 'oldest'], default: 'newest' },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['files', 'nextCursor'],
            properties: {
              files: { type: 'array', items: fileRowSchema },
              nextCursor: { type: ['string', 'null'] },
            },
          },
          400: { $ref: 'ApiError#' },
        },
      },
    },
    async (request) => {
      const page = await service.listFiles(request.query);
      return { files: page.files, nextCursor: page.nextCursor ?? null };
    },
  );

  const versionsSchema = {
    type: 'object',
    required: ['key', 'versions'],
    properties: { key: { type: 'string' }, versions: { type: 'array', items: fileRowSchema } },
  } as const;

  async function versions(key: string) {
    const rows = await service.getFileVersions(key);
    if (rows.length === 0) throw new HttpError(404, `no file with key ${JSON.stringify(key)} in the ledger`);
    return { key, versions: rows };
  }

  async function reprocess(key: string, reply: FastifyReply) {
    const queued = await service.reprocess(key);
    if (queued === null || queued === undefined || queued === false) {
      throw new HttpError(404, `no file with key ${JSON.stringify(key)} in the ledger`);
    }
    // The ledger leaves a row being converted alone: nothing was requeued, so no 202.
    if (typeof queued === 'object' && (queued as { state?: unknown }).state === 'processing') {
      throw new HttpError(
        409,
        `${JSON.stringify(key)} is being converted right now; nothing was requeued (ask again once it has finished)`,
      );
    }
    reply.code(202).header('Location', `/api/files/${encodeURIComponent(key)}`);
    return typeof queued === 'object' ? queued : { key, queued: true };
  }

  const keyNote =
    'The key URL-encoded as one path segment (`in%2Fa.xml`); its slashes may also be sent raw (`in/a.xml`).';
  const getSchema = {
    tags: ['files'],
    summary: 'Every version of one key: state, attempts, timings, counts, error and report',
    description: keyNote,
    response: { 200: versionsSchema, 404: { $ref: 'ApiError#' } },
  };
  const reprocessSchema = {
    tags: ['files'],
    summary: 'Convert the latest version of a key again',
    description: keyNote,
    security: [{ bearer: [] }],
    response: {
      202: { type: 'object', additionalProperties: true, properties: { key: { type: 'string' } } },
      400: { $ref: 'ApiError#' },
      401: { $ref: 'ApiError#' },
      404: { $ref: 'ApiError#' },
      409: { $ref: 'ApiError#' },
    },
  };

  app.get<{ Params: { key: string } }>(
    '/api/files/:key',
    { schema: { ...getSchema, params: keyParamsSchema } },
    async (request) => versions(request.params.key),
  );
  app.get<{ Params: { '*': string } }>(
    '/api/files/*',
    {
      schema: {
        ...getSchema,
        // Documented under /api/files/{key}: the same route with the key's slashes left raw.
        hide: true,
        params: wildcardParamsSchema,
      },
    },
    async (request) => versions(request.params['*']),
  );

  app.post<{ Params: { key: string } }>(
    '/api/files/:key/reprocess',
    { schema: { ...reprocessSchema, params: keyParamsSchema } },
    async (request, reply) => reprocess(request.params.key, reply),
  );
  app.post<{ Params: { '*': string } }>(
    '/api/files/*',
    {
      schema: {
        ...reprocessSchema,
        hide: true,
        params: wildcardParamsSchema,
      },
    },
    async (request: FastifyRequest<{ Params: { '*': string } }>, reply) => {
      const path = request.params['*'];
      if (!path.endsWith(REPROCESS_SUFFIX) || path.length === REPROCESS_SUFFIX.length) {
        throw new HttpError(404, `no route POST ${request.url} (did you mean …/reprocess?)`);
      }
      return reprocess(path.slice(0, -REPROCESS_SUFFIX.length), reply);
    },
  );
}
