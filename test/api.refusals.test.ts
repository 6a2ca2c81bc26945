/**
 * What the API refuses, and how: missing/wrong tokens (401 + WWW-Authenticate), bad input (400),
 * unknown things (404), always as JSON `{error, message}`; and the refusal to listen beyond loopback
 * without a token.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildApi, isLoopback, listen } from '../src/api/server.js';
import { ConfigError } from '../src/errors.js';
import { startTestApi, type TestApi } from './support/api-server.js';
import { startS3rver, type TestS3 } from './support/s3rver.js';
import { putObject, waitForFile } from './support/service.js';
import { smallCatalogue } from './support/small-catalogue.js';

const TOKEN = 'refusal-test-token';

let s3: TestS3;
let api: TestApi;

beforeAll(async () => {
  s3 = await startS3rver();
  api = await startTestApi({ endpoint: s3.endpoint, apiToken: TOKEN });
  await putObject(api.ts.s3, 'xml-bucket', 'in/a.xml', smallCatalogue(1));
  await api.ts.service.requestScan('api');
  await waitForFile(api.ts.service, 'in/a.xml', ['done']);
});

afterAll(async () => {
  await api?.close();
  await s3?.close();
});

/** Asserts the status and the JSON error shape; returns the message. */
async function refused(res: Response, status: number, error: string): Promise<string> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as { error: string; message: string };
  expect(body.error).toBe(error);
  expect(typeof body.message).toBe('string');
  expect(body.message.length).toBeGreaterThan(0);
  return body.message;
}

describe('auth', () => {
  const mutating = [
    ['POST', '/api/scans', undefined],
    ['PUT', '/api/schedule', { intervalHours: 1 }],
    ['POST', '/api/files/in/a.xml/reprocess', undefined],
    ['POST', '/api/files/in%2Fa.xml/reprocess', undefined],
  ] as const;

  for (const [method, path, body] of mutating) {
    test(`${method} ${path} without a token is 401 with WWW-Authenticate`, async () => {
      const res = await api.call(method, path, { body });
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect(await refused(res, 401, 'Unauthorized')).toMatch(/Authorization: Bearer/);
    });

    test(`${method} ${path} with a wrong token is 401`, async () => {
      const res = await api.call(method, path, { body, auth: `${TOKEN}x` });
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
      await refused(res, 401, 'Unauthorized');
    });
  }

  test('a refused call changes nothing', async () => {
    await api.call('PUT', '/api/schedule', { body: { cron: '0 0 * * *' }, auth: 'nope-nope-nope' });
    expect(await (await api.call('GET', '/api/schedule')).json()).toMatchObject({
      intervalHours: 3,
      cron: null,
    });
  });

  test('other schemes and a token in another header are refused', async () => {
    const basic = await fetch(`${api.base}/api/scans`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` },
    });
    await refused(basic, 401, 'Unauthorized');
    const other = await fetch(`${api.base}/api/scans`, { method: 'POST', headers: { 'x-api-token': TOKEN } });
    await refused(other, 401, 'Unauthorized');
  });

  test('reads need no token', async () => {
    for (const path of [
      '/health/live',
      '/health/ready',
      '/metrics',
      '/api/schedule',
      '/api/files',
      '/api/files/in/a.xml',
    ]) {
      expect((await api.call('GET', path)).status, path).toBe(200);
    }
  });

  test('the right token is accepted, whatever the case of "Bearer"', async () => {
    const res = await fetch(`${api.base}/api/scans`, {
      method: 'POST',
      headers: { authorization: `bearer ${TOKEN}` },
    });
    expect(res.status).toBe(202);
  });
});

describe('bad input', () => {
  const badSchedules: [string, unknown][] = [
    ['zero hours', { intervalHours: 0 }],
    ['negative hours', { intervalHours: -3 }],
    ['hours as words', { intervalHours: 'three' }],
    ['over a year', { intervalHours: 100_000 }],
    ['both fields', { intervalHours: 3, cron: '0 * * * *' }],
    ['neither field', {}],
    ['unknown field', { every: 3 }],
    ['a cron that does not parse', { cron: 'every day at noon' }],
    ['a cron with a field out of range', { cron: '61 * * * *' }],
    ['an array', [{ intervalHours: 3 }]],
  ];
  for (const [what, body] of badSchedules) {
    test(`PUT /api/schedule with ${what} is 400`, async () => {
      await refused(await api.call('PUT', '/api/schedule', { auth: true, body }), 400, 'BadRequest');
    });
  }

  test('a body that is not JSON is 400', async () => {
    const msg = await refused(
      await api.call('PUT', '/api/schedule', { auth: true, body: '{"cron": ' }),
      400,
      'BadRequest',
    );
    expect(msg).toMatch(/JSON/);
  });

  test('an empty JSON body is 400', async () => {
    await refused(await api.call('PUT', '/api/schedule', { auth: true, body: '' }), 400, 'BadRequest');
  });

  test('the schedule is unchanged after the refusals', async () => {
    expect(await (await api.call('GET', '/api/schedule')).json()).toMatchObject({
      intervalHours: 3,
      cron: null,
    });
  });

  for (const query of [
    'limit=0',
    'limit=1001',
    'limit=abc',
    'limit=2.5',
    'status=finished',
    'cursor=abc',
    'cursor=-1',
  ]) {
    test(`GET /api/files?${query} is 400`, async () => {
      const msg = await refused(await api.call('GET', `/api/files?${query}`), 400, 'BadRequest');
      expect(msg).toMatch(/limit|status|cursor/);
    });
  }
});

describe('unknown things', () => {
  test('an unknown key is 404, read or reprocessed, encoded or raw', async () => {
    await refused(await api.call('GET', '/api/files/in/nope.xml'), 404, 'NotFound');
    await refused(await api.call('GET', '/api/files/in%2Fnope.xml'), 404, 'NotFound');
    await refused(
      await api.call('POST', '/api/files/in/nope.xml/reprocess', { auth: true }),
      404,
      'NotFound',
    );
    await refused(
      await api.call('POST', '/api/files/in%2Fnope.xml/reprocess', { auth: true }),
      404,
      'NotFound',
    );
  });

  test('POST on a key without /reprocess is 404', async () => {
    await refused(await api.call('POST', '/api/files/in/a.xml', { auth: true }), 404, 'NotFound');
  });

  test('an unknown scan is 404', async () => {
    await refused(await api.call('GET', '/api/scans/999999'), 404, 'NotFound');
    await refused(await api.call('GET', '/api/scans/not-a-scan'), 404, 'NotFound');
  });

  test('unknown routes are 404 JSON, also for POST with no token', async () => {
    await refused(await api.call('GET', '/api/nothing'), 404, 'NotFound');
    await refused(await api.call('POST', '/api/nothing'), 404, 'NotFound');
    await refused(await api.call('DELETE', '/api/files/in/a.xml', { auth: true }), 404, 'NotFound');
  });
});

/** Sends raw bytes to the API and returns the status and the parsed body of its answer. */
async function rawHttp(
  request: string,
): Promise<{ status: number; body: { error?: string; message?: string } }> {
  const url = new URL(api.base);
  const socket = net.connect(Number(url.port), url.hostname);
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (c: string) => {
    text += c;
  });
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => resolve());
    socket.write(request);
  });
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  return { status, body: JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) };
}

describe('every 4xx has the documented {error, message} shape', () => {
  const host = () => new URL(api.base).host;
  test('a URL that does not decode (FST_ERR_BAD_URL)', async () => {
    const res = await rawHttp(
      `GET /api/files/%E0%A4%A HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`,
    );
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'BadRequest', message: expect.any(String) });
  });
  test('headers too large', async () => {
    const res = await rawHttp(
      `GET /api/files HTTP/1.1\r\nHost: ${host()}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(res.status).toBe(431);
    expect(res.body).toMatchObject({ error: 'RequestHeaderFieldsTooLarge', message: expect.any(String) });
  });
  test('a body length that contradicts itself', async () => {
    const res = await rawHttp(
      `POST /api/scans HTTP/1.1\r\nHost: ${host()}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    );
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'BadRequest', message: expect.any(String) });
  });
});

describe('reprocess answers what it did', () => {
  test('a key with a NUL byte is 400, not 500', async () => {
    await refused(
      await api.call('POST', '/api/files/a%00b.xml/reprocess', { auth: true }),
      400,
      'BadRequest',
    );
    await refused(
      await api.call('POST', '/api/files/in/a%00b.xml/reprocess', { auth: true }),
      400,
      'BadRequest',
    );
  });

  test('a version being converted is not requeued: 409, not 202', async () => {
    const { ledger } = api.ts.service;
    await ledger.recordVersions([{ bucket: 'xml-bucket', key: 'busy.xml', etag: 'b0' }], 'api');
    const [claimed] = await ledger.claim('another-instance', 1000, 600_000);
    expect(claimed).toBeDefined();
    const message = await refused(
      await api.call('POST', '/api/files/busy.xml/reprocess', { auth: true }),
      409,
      'Conflict',
    );
    expect(message).toMatch(/being converted/);
    await ledger.releaseLeases('another-instance');
  });
});

describe('listening', () => {
  test('without a token the API refuses a non-loopback host, naming HOST and API_TOKEN', async () => {
    const app = await buildApi(api.ts.service, {});
    try {
      const err = await listen(app, { host: '0.0.0.0', port: 0 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe('API_TOKEN');
      expect((err as Error).message).toMatch(/HOST=0\.0\.0\.0/);
      expect(app.server.listening).toBe(false);
    } finally {
      await app.close();
    }
  });

  test('loopback addresses are recognised', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost'])
      expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.5', 'example.com'])
      expect(isLoopback(host), host).toBe(false);
  });

  test('without a token, mutating calls on loopback need no header', async () => {
    const app = await buildApi(api.ts.service, {});
    try {
      const base = await listen(app, { host: '127.0.0.1', port: 0 });
      const res = await fetch(`${base}/api/scans`, { method: 'POST' });
      expect(res.status).toBe(202);
    } finally {
      await app.close();
    }
  });
});
