/**
 * The HTTP API: `buildApi(service, options)` assembles a Fastify instance (not yet listening) from one
 * plugin per concern; `listen(app, ...)` starts it, refusing a non-loopback address without a token.
 *
 * Plugins of other parts register through `options.plugins` (docs/api.md, "Extending"): each is a
 * Fastify plugin receiving `{ service }`; it may push readiness checks onto `app.readinessChecks` and
 * opt a route out of bearer auth with `config: { auth: false }`.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyReply,
  LogController,
} from 'fastify';
import { isLoopback } from '../config/parse.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { installAuth } from './auth.js';
import { dashboardRoutes } from './dashboard.js';
import { downloadRoutes } from './downloads.js';
import { answerClientError, apiErrorSchema, errorCode, installErrorHandling } from './errors.js';
import { fileRoutes } from './files.js';
import { healthRoutes } from './health.js';
import { instanceRoutes } from './instances.js';
import { metricsRoutes } from './metrics.js';
import { installSameOrigin } from './same-origin.js';
import { scanRoutes } from './scans.js';
import { scheduleRoutes } from './schedule.js';
import { statsRoutes } from './stats.js';
import type { ServiceApi } from './types.js';

export type ApiPlugin = FastifyPluginAsync<{ service: ServiceApi }>;

export interface ApiOptions {
  /** Bearer token required on POST/PUT/PATCH/DELETE; undefined or empty: no auth (loopback only). */
  apiToken?: string;
  /** Request logging goes here (one line per request); false or absent: silent. */
  logger?: Logger | false;
  /** Extra routes from other parts, e.g. the S3 webhook (src/api/events.ts). */
  plugins?: readonly ApiPlugin[];
  /** The address it will listen on (HOST): without a token, requests must name it or loopback in Host. */
  host?: string;
}

/** Longest accepted request body: the API takes small JSON documents only. */
const BODY_LIMIT = 1024 * 1024;

export async function buildApi(service: ServiceApi, options: ApiOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger as FastifyBaseLogger } : { logger: false }),
    // One line per request (installRequestLog) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // Keys are up to 1024 bytes and arrive URL-encoded: the default 100-character limit is too short.
    routerOptions: { maxParamLength: 4096, ignoreTrailingSlash: true },
    ajv: { customOptions: { coerceTypes: true, useDefaults: true, removeAdditional: false } },
    // Requests Fastify refuses before routing (a URL that does not decode, a bad Content-Type) and
    // requests Node's parser refuses (headers too large, a length mismatch) answer in the one
    // documented error shape too.
    frameworkErrors: (err, _request, reply) => {
      const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 400;
      (reply as FastifyReply).code(status).send({ error: errorCode(status), message: err.message });
    },
    clientErrorHandler: answerClientError,
  });
  app.addSchema(apiErrorSchema);
  installErrorHandling(app);
  installRequestLog(app);
  if (options.apiToken) installAuth(app, options.apiToken);
  else installSameOrigin(app, { host: options.host });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'file-transformer',
        description: 'Converts partner XML product catalogues in S3 into JSON. See docs/api.md.',
        version: '1',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // On the root instance, so every plugin (registered below, each in its own context) sees and extends
  // the same list; GET /health/ready reads it at request time.
  app.decorate('readinessChecks', [...service.readinessChecks()]);
  await app.register(healthRoutes);
  await app.register(metricsRoutes, { service });
  await app.register(scheduleRoutes, { service });
  await app.register(scanRoutes, { service });
  await app.register(fileRoutes, { service });
  await app.register(statsRoutes, { service });
  await app.register(instanceRoutes, { service });
  await app.register(downloadRoutes, { service });
  await app.register(dashboardRoutes);
  for (const plugin of options.plugins ?? []) await app.register(plugin, { service });

  await app.ready();
  return app;
}

/**
 * Successful reads (probes, scrapes, the dashboard's polling) arrive every few seconds: logged at
 * debug so they do not drown the rest; changes and failures at info.
 */
function installRequestLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    const quiet = (request.method === 'GET' || request.method === 'HEAD') && reply.statusCode < 400;
    const level = quiet ? 'debug' : 'info';
    request.log[level](
      {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });
}

export { isLoopback };

/**
 * Starts listening and returns the bound address (`http://host:port`). Without an API token anyone
 * who can reach the port could reprocess files or change the schedule, so an unauthenticated API is
 * only served on loopback.
 */
export async function listen(
  app: FastifyInstance,
  options: { host: string; port: number; apiToken?: string },
): Promise<string> {
  if (!options.apiToken && !isLoopback(options.host)) {
    throw new ConfigError(
      'API_TOKEN',
      `HOST=${options.host} exposes the API beyond this machine; set API_TOKEN (mutating calls then ` +
        'need Authorization: Bearer <API_TOKEN>) or set HOST=127.0.0.1',
    );
  }
  return app.listen({ host: options.host, port: options.port });
}
