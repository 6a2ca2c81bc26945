/**
 * In the default no-token mode (loopback only), other web pages must not steer the service (issue 8,
 * item 6): state-changing calls with a foreign Origin, a cross-site fetch, or a body a page can send
 * without a CORS preflight (text/plain: a forged webhook) are refused, and every route refuses a Host
 * that is not the service's own (DNS rebinding). The same-origin dashboard and plain clients (curl,
 * SDKs: no Origin) still work; with a token the token is what counts.
 */
import http from 'node:http';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { eventsPlugin } from '../src/api/events.js';
import { buildApi, listen } from '../src/api/server.js';
import { createLogger } from '../src/log.js';
import { startS3rver, type TestS3 } from './support/s3rver.js';
import { startTestService, type TestService } from './support/service.js';

let s3: TestS3;
let ts: TestService;
let app: FastifyInstance;
let base: URL;

beforeAll(async () => {
  s3 = await startS3rver();
  ts = await startTestService({ endpoint: s3.endpoint });
  app = await buildApi(ts.service, {
    host: '127.0.0.1',
    plugins: [
      eventsPlugin({
        sink: ts.service,
        filter: { bucket: 'xml-bucket', matchesKey: (key) => key.endsWith('.xml') },
        logger: createLogger('silent'),
        metrics: ts.service.metrics,
      }),
    ],
  });
  base = new URL(await listen(app, { host: '127.0.0.1', port: 0 }));
});

afterAll(async () => {
  await app?.close();
  await ts?.close();
  await s3?.close();
});

/** A raw HTTP request (fetch does not let a caller set Host). */
function raw(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; json: { error?: string; message?: string } & Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: base.port, method, path, headers: { host: base.host, ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : {} }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const forgedWebhook = JSON.stringify({
  Records: [
    {
      eventName: 'ObjectCreated:Put',
      s3: { bucket: { name: 'xml-bucket' }, object: { key: 'forged.xml', eTag: 'f00', size: 1 } },
    },
  ],
});

describe('cross-site requests are refused without a token', () => {
  test.each([
    ['POST', '/api/scans'],
    ['POST', '/api/files/forged.xml/reprocess'],
    ['PUT', '/api/schedule'],
  ])('%s %s with a foreign Origin is 403', async (method, path) => {
    const res = await raw(method, path, { origin: 'http://evil.example' });
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ error: 'Forbidden' });
    expect(res.json.message).toMatch(/evil\.example/);
  });

  test('Origin null (a sandboxed page) and Sec-Fetch-Site cross-site are refused', async () => {
    expect((await raw('POST', '/api/scans', { origin: 'null' })).status).toBe(403);
    expect((await raw('POST', '/api/scans', { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
  });

  test('a forged text/plain webhook is 415 and records nothing', async () => {
    const res = await raw('POST', '/api/events/s3', { 'content-type': 'text/plain' }, forgedWebhook);
    expect(res.status).toBe(415);
    expect(res.json).toMatchObject({ error: 'UnsupportedMediaType' });
    expect(await ts.service.getFileVersions('forged.xml')).toEqual([]);
  });

  test('a form-encoded schedule change is 415', async () => {
    const res = await raw(
      'PUT',
      '/api/schedule',
      { 'content-type': 'application/x-www-form-urlencoded' },
      'intervalHours=1',
    );
    expect(res.status).toBe(415);
  });

  test('the same origin (the dashboard) and clients without Origin are served', async () => {
    const own = await raw('POST', '/api/scans', { origin: `http://${base.host}` });
    expect(own.status).toBe(202);
    const curl = await raw('POST', '/api/scans');
    expect(curl.status).toBe(202);
    const json = await raw(
      'POST',
      '/api/events/s3',
      { 'content-type': 'application/json', origin: `http://${base.host}` },
      forgedWebhook.replace('forged.xml', 'own.xml'),
    );
    expect(json.status).toBe(200);
  });
});

describe('DNS rebinding: a foreign Host is refused on every route', () => {
  test.each([
    ['GET', '/api/files'],
    ['GET', '/health/ready'],
    ['GET', '/metrics'],
    ['GET', '/'],
    ['POST', '/api/scans'],
    ['GET', '/no-such-route'],
  ])('%s %s with Host evil.example is 403', async (method, path) => {
    const res = await raw(method, path, { host: `evil.example:${base.port}` });
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ error: 'Forbidden' });
  });

  test('loopback names are the service own', async () => {
    for (const host of [`localhost:${base.port}`, `127.0.0.1:${base.port}`, `[::1]:${base.port}`]) {
      expect((await raw('GET', '/health/live', { host })).status, host).toBe(200);
    }
  });
});

test('with a token, the token decides (no Host or Origin rule)', async () => {
  const token = 'cross-site-token';
  const withToken = await buildApi(ts.service, { apiToken: token });
  try {
    const res = await withToken.inject({
      method: 'POST',
      url: '/api/scans',
      headers: {
        host: 'files.example.com',
        origin: 'https://ops.example.com',
        authorization: `Bearer ${token}`,
      },
    });
    expect(res.statusCode).toBe(202);
    const anonymous = await withToken.inject({
      method: 'POST',
      url: '/api/scans',
      headers: { host: 'files.example.com' },
    });
    expect(anonymous.statusCode).toBe(401);
  } finally {
    await withToken.close();
  }
});
