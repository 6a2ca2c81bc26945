/**
 * Bearer-token auth for mutating calls. Reads stay open (health probes and Prometheus scrapers carry
 * no token); POST/PUT/PATCH/DELETE need `Authorization: Bearer <API_TOKEN>` when a token is set.
 * A route that authenticates its callers another way (the S3 webhook) opts out with
 * `config: { auth: false }`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: this route does its own authentication; the bearer-token check is skipped. */
    auth?: boolean;
  }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Compares two secrets in constant time whatever their lengths (hashing equalises the lengths). */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  return match ? match[1]!.trim() : null;
}

export function installAuth(app: FastifyInstance, apiToken: string | undefined): void {
  if (!apiToken) return;
  app.addHook('onRequest', async (request, reply) => {
    // Unknown routes get their 404 whoever asks: nothing there to protect.
    if (!MUTATING.has(request.method) || request.is404) return;
    if (request.routeOptions.config?.auth === false) return;
    const token = bearerToken(request.headers.authorization);
    if (token !== null && secretsEqual(token, apiToken)) return;
    reply
      .code(401)
      .header('WWW-Authenticate', 'Bearer realm="file-transformer"')
      .send({
        error: 'Unauthorized',
        message:
          token === null
            ? 'this call changes state: send Authorization: Bearer <API_TOKEN>'
            : 'the bearer token is not valid',
      });
    return reply;
  });
}
