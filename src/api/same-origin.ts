/**
 * Without an API token the API is served on loopback only, and loopback alone does not keep other web
 * pages out: any page open in the operator's browser can send requests to 127.0.0.1 (cross-site
 * requests), and a page on a domain that re-resolves to 127.0.0.1 reads the answers too (DNS
 * rebinding). So in no-token mode:
 * - every request must name the service itself in `Host` (a loopback name or the configured HOST):
 *   a rebinding page's requests carry its own domain;
 * - a request that changes state is refused when its `Origin` (browsers send it on every POST/PUT) is
 *   not this service's own, or when `Sec-Fetch-Site` says cross-site;
 * - a body that changes state must be `application/json`: the types a page may send without a CORS
 *   preflight (text/plain, forms) are refused, so a forged `text/plain` webhook records nothing.
 * With a token, callers authenticate and these checks are not needed (the token is never sent by a
 * browser on its own).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { isLoopback } from '../config/parse.js';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The host name of a Host header (`name:port`, `[v6]:port`), lowercased, without a trailing dot. */
function hostnameOf(host: string): string | null {
  try {
    return new URL(`http://${host}`).hostname
      .replace(/^\[|\]$/g, '')
      .replace(/\.$/, '')
      .toLowerCase();
  } catch {
    return null;
  }
}

export interface SameOriginOptions {
  /** The address the API listens on (HOST): accepted in Host besides the loopback names. */
  host?: string;
}

function refuse(reply: FastifyReply, status: 403 | 415, message: string): FastifyReply {
  return reply.code(status).send({ error: status === 403 ? 'Forbidden' : 'UnsupportedMediaType', message });
}

export function installSameOrigin(app: FastifyInstance, options: SameOriginOptions = {}): void {
  const own = options.host ? hostnameOf(options.host) : null;
  const isOwnName = (name: string | null) => name !== null && (isLoopback(name) || name === own);

  app.addHook('onRequest', async (request, reply) => {
    const host = request.headers.host ?? '';
    if (!isOwnName(hostnameOf(host))) {
      return refuse(reply, 403, `Host ${JSON.stringify(host)} is not this service's address`);
    }
    if (!MUTATING.has(request.method)) return;

    const origin = request.headers.origin;
    if (origin !== undefined) {
      let originHost: string | null = null;
      try {
        const url = new URL(origin);
        originHost = url.protocol === 'http:' || url.protocol === 'https:' ? url.host : null;
      } catch {
        originHost = null;
      }
      if (originHost === null || originHost.toLowerCase() !== host.toLowerCase()) {
        return refuse(reply, 403, `cross-site request from Origin ${JSON.stringify(origin)} refused`);
      }
    }
    if (request.headers['sec-fetch-site'] === 'cross-site') {
      return refuse(reply, 403, 'cross-site request refused');
    }
    const type = request.headers['content-type'];
    const hasBody = type !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
    if (hasBody && !/^application\/json\s*(;|$)/i.test(type ?? '')) {
      return refuse(
        reply,
        415,
        `a request that changes state must send Content-Type: application/json (got ${JSON.stringify(type ?? '')})`,
      );
    }
  });
}
