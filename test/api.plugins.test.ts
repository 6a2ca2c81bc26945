/**
 * How other parts extend the API (the S3 webhook does this): a plugin adds routes, contributes
 * readiness checks, may opt a route out of the bearer check, and its refusals come out as the API's
 * JSON errors.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { HttpError } from '../src/api/errors.js';
import { type ApiPlugin, buildApi, listen } from '../src/api/server.js';
import { startS3rver, type TestS3 } from './support/s3rver.js';
import { startTestService, type TestService } from './support/service.js';

const TOKEN = 'plugin-test-token';

let s3: TestS3;
let ts: TestService;
let base: string;
let close: () => Promise<void>;
let queueUp = true;

const plugin: ApiPlugin = async (app) => {
  app.readinessChecks.push({
    name: 'queue',
    check: async () => {
      if (!queueUp) throw new Error('queue unreachable');
    },
  });
  app.post('/api/plugin/open', { config: { auth: false } }, async (request) => {
    if (request.headers['x-secret'] !== 'letmein') throw new HttpError(403, 'wrong secret');
    return { ok: true };
  });
  app.post('/api/plugin/guarded', async () => ({ ok: true }));
};

beforeAll(async () => {
  s3 = await startS3rver();
  ts = await startTestService({ endpoint: s3.endpoint });
  const app = await buildApi(ts.service, { apiToken: TOKEN, plugins: [plugin] });
  base = await listen(app, { host: '127.0.0.1', port: 0, apiToken: TOKEN });
  close = () => app.close();
});

afterAll(async () => {
  await close?.();
  await ts?.close();
  await s3?.close();
});

test('a check contributed by a plugin decides readiness too', async () => {
  const up = await fetch(`${base}/health/ready`);
  expect(up.status).toBe(200);
  const upBody = (await up.json()) as { checks: { name: string }[] };
  expect(upBody.checks.map((c) => c.name)).toContain('queue');

  queueUp = false;
  try {
    const down = await fetch(`${base}/health/ready`);
    expect(down.status).toBe(503);
    const body = (await down.json()) as {
      status: string;
      failed: string[];
      checks: { name: string; error?: string }[];
    };
    expect(body.status).toBe('not ready');
    expect(body.failed).toEqual(['queue']);
    expect(body.checks.find((c) => c.name === 'queue')?.error).toBe('queue unreachable');
  } finally {
    queueUp = true;
  }
});

test('a plugin route may do its own auth instead of the bearer token', async () => {
  const ok = await fetch(`${base}/api/plugin/open`, { method: 'POST', headers: { 'x-secret': 'letmein' } });
  expect(ok.status).toBe(200);
  const refused = await fetch(`${base}/api/plugin/open`, { method: 'POST' });
  expect(refused.status).toBe(403);
  expect(await refused.json()).toEqual({ error: 'Forbidden', message: 'wrong secret' });
});

test('other plugin routes keep the bearer check', async () => {
  expect((await fetch(`${base}/api/plugin/guarded`, { method: 'POST' })).status).toBe(401);
  const ok = await fetch(`${base}/api/plugin/guarded`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(ok.status).toBe(200);
});
