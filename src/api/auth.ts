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

/**
 * The token an `Authorization` header presents: `Bearer <token>`, or, with `basic` (for senders that
 * cannot set a bearer header, like SNS), the password of HTTP Basic auth.
 */
export function presentedToken(header: string | undefined, options: { basic?: boolean } = {}): string | null {
  if (!header) return null;
  const bearer = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (bearer) return bearer[1]!.trim();
  const basic = options.basic ? /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header.trim()) : null;
  if (!basic) return null;
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? null : decoded.slice(colon + 1);
}

export function installAuth(app: FastifyInstance, apiToken: string | undefined): void {
  if (!apiToken) return;
  app.addHook('onRequest', async (request, reply) => {
    // Unknown routes get their 404 whoever asks: nothing there to protect.
    if (!MUTATING.has(request.method) || request.is404) return;
    if (request.routeOptions.config?.auth === false) return;
    const token = presentedToken(request.headers.authorization);
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
