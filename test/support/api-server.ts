/**
 * A real service (real s3rver, real SQLite) with its HTTP API listening on 127.0.0.1:<free port>, for
 * tests that talk HTTP with fetch. `restart()` stops both and starts them again on the same data
 * directory (what a process restart does).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApi, listen } from '../../src/api/server.js';
import { startTestService, type TestService } from './service.js';

export interface TestApi {
  /** `http://127.0.0.1:<port>` */
  base: string;
  app: FastifyInstance;
  ts: TestService;
  /** fetch against `base`, with the bearer token when `auth` is true (and a token is configured). */
  call(method: string, path: string, init?: { body?: unknown; auth?: boolean | string }): Promise<Response>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestApi(options: {
  endpoint: string;
  apiToken?: string;
  env?: Record<string, string>;
}): Promise<TestApi> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ft-api-'));
  const env = { ...options.env, ...(options.apiToken ? { API_TOKEN: options.apiToken } : {}) };

  const boot = async () => {
    const ts = await startTestService({ endpoint: options.endpoint, dataDir, env });
    const app = await buildApi(ts.service, { apiToken: ts.config.apiToken });
    const base = await listen(app, { host: '127.0.0.1', port: 0, apiToken: ts.config.apiToken });
    return { ts, app, base };
  };
  let current: Awaited<ReturnType<typeof boot>>;
  try {
    current = await boot();
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }

  const api: TestApi = {
    get base() {
      return current.base;
    },
    get app() {
      return current.app;
    },
    get ts() {
      return current.ts;
    },
    async call(method, path, init = {}) {
      const headers: Record<string, string> = {};
      const token = typeof init.auth === 'string' ? init.auth : init.auth ? options.apiToken : undefined;
      if (token) headers.authorization = `Bearer ${token}`;
      let body: string | undefined;
      if (init.body !== undefined) {
        headers['content-type'] = 'application/json';
        body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      }
      return fetch(`${current.base}${path}`, { method, headers, body });
    },
    async restart() {
      await current.app.close();
      await current.ts.close();
      current = await boot();
    },
    async close() {
      await current.app.close();
      await current.ts.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return api;
}
