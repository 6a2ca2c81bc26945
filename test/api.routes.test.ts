/**
 * Every API route's success path, over real HTTP, against a real service (s3rver, SQLite, workers).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestApi, type TestApi } from './support/api-server.js';
import { startS3rver, type TestS3 } from './support/s3rver.js';
import { putObject, waitFor, waitForFile } from './support/service.js';
import { smallCatalogue } from './support/small-catalogue.js';

const TOKEN = 'route-test-token';
const SOURCE = 'xml-bucket';

let s3: TestS3;
let api: TestApi;

interface FileRow {
  key: string;
  etag: string;
  state: string;
  attempts: number;
  itemsWritten: number | null;
  itemsRejected: number | null;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
  report: { itemsSeen: number; itemsWritten: number; error: unknown } | null;
}

async function json<T>(res: Response | Promise<Response>): Promise<T> {
  return (await (await res).json()) as T;
}

beforeAll(async () => {
  s3 = await startS3rver();
  api = await startTestApi({ endpoint: s3.endpoint, apiToken: TOKEN });
  const { s3: client } = api.ts;
  for (let i = 0; i < 5; i++)
    await putObject(client, SOURCE, `in/2026/cat-${i}.xml`, smallCatalogue(100 * i));
  await putObject(client, SOURCE, 'other/x.xml', smallCatalogue(900, 2));
  await putObject(client, SOURCE, 'other/broken.xml', '<nsx:items><nsx:item id="1">');
  // Scan now (the start-up scan ran before the uploads) and let the workers finish.
  const res = await api.call('POST', '/api/scans', { auth: true });
  expect(res.status).toBe(202);
  await waitFor(async () => {
    const page = await json<{ files: FileRow[] }>(api.call('GET', '/api/files?limit=1000'));
    return page.files.length === 7 && page.files.every((f) => ['done', 'failed'].includes(f.state));
  });
});

afterAll(async () => {
  await api?.close();
  await s3?.close();
});

/**
 * A service of its own, for a test that changes what the service has seen: it sees only `prefix` of
 * the source bucket, where `files` are uploaded before it starts (and converted by its start-up scan).
 * The shared service's rows and counts stay as beforeAll left them, whatever runs first.
 */
async function ownApi(prefix: string, files: Record<string, string>): Promise<TestApi> {
  for (const [name, xml] of Object.entries(files)) await putObject(api.ts.s3, SOURCE, prefix + name, xml);
  const own = await startTestApi({ endpoint: s3.endpoint, apiToken: TOKEN, env: { SOURCE_PREFIX: prefix } });
  await own.ts.service.waitForScan(own.ts.service.startupScan!.id);
  await own.ts.service.drain();
  return own;
}

describe('health', () => {
  test('live answers 200', async () => {
    const res = await api.call('GET', '/health/live');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'live' });
  });

  test('ready answers 200 with every check passing', async () => {
    const res = await api.call('GET', '/health/ready');
    const body = await json<{ status: string; checks: { name: string; ok: boolean }[] }>(res);
    expect(res.status).toBe(200);
    expect(body.status).toBe('ready');
    expect(body.checks.map((c) => c.name).sort()).toEqual([
      'ledger',
      'source-bucket',
      'target-bucket',
      'workers',
    ]);
    expect(body.checks.every((c) => c.ok)).toBe(true);
  });
});

test('metrics are Prometheus text with the ledger gauge refreshed at scrape', async () => {
  const res = await api.call('GET', '/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  const text = await res.text();
  expect(text).toMatch(/^file_transformer_ledger_files\{state="done"\} 6$/m);
  expect(text).toMatch(/^file_transformer_ledger_files\{state="failed"\} 1$/m);
  expect(text).toMatch(/^file_transformer_files_total\{outcome="done"\} 6$/m);
  expect(text).toMatch(/^file_transformer_items_written_total 17$/m);
});

test('stats count the ledger rows by state', async () => {
  const res = await api.call('GET', '/api/stats');
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({
    files: { pending: 0, processing: 0, done: 6, failed: 1, skipped: 0, gone: 0 },
    total: 7,
  });
});

test('schedule can be read and changed', async () => {
  const before = await json<{ intervalHours: number | null }>(api.call('GET', '/api/schedule'));
  expect(before.intervalHours).toBe(3);

  const res = await api.call('PUT', '/api/schedule', { auth: true, body: { intervalHours: 6 } });
  expect(res.status).toBe(200);
  const after = await json<{ intervalHours: number; cron: string | null; nextRunAt: string }>(res);
  expect(after).toMatchObject({ intervalHours: 6, cron: null });
  expect(Date.parse(after.nextRunAt)).toBeGreaterThan(Date.now());
  expect(await json(api.call('GET', '/api/schedule'))).toMatchObject({ intervalHours: 6 });
});

test('a scan is started with 202 + Location and followed to its outcome', async () => {
  const own = await ownApi('scan-route/', { 'early.xml': smallCatalogue(6000, 1) });
  try {
    await putObject(own.ts.s3, SOURCE, 'scan-route/late.xml', smallCatalogue(5000, 1));
    const res = await own.call('POST', '/api/scans', { auth: true });
    expect(res.status).toBe(202);
    const started = await json<{ id: string; status: string }>(res);
    expect(res.headers.get('location')).toBe(`/api/scans/${started.id}`);
    expect(['queued', 'running', 'done']).toContain(started.status);

    const scan = await waitFor(async () => {
      const s = await json<{ status: string; listed: number; recorded: number }>(
        own.call('GET', `/api/scans/${started.id}`),
      );
      return s.status === 'done' || s.status === 'failed' ? s : null;
    });
    expect(scan).toMatchObject({ status: 'done', listed: 2, recorded: 1 });
    await waitForFile(own.ts.service, 'scan-route/late.xml', ['done']);
  } finally {
    await own.close();
  }
});

describe('files', () => {
  test('list filters by status and prefix', async () => {
    const failed = await json<{ files: FileRow[]; nextCursor: null }>(
      api.call('GET', '/api/files?status=failed'),
    );
    expect(failed.files.map((f) => f.key)).toEqual(['other/broken.xml']);
    expect(failed.nextCursor).toBeNull();

    const other = await json<{ files: FileRow[] }>(api.call('GET', '/api/files?prefix=other/'));
    expect(other.files.map((f) => f.key).sort()).toEqual(['other/broken.xml', 'other/x.xml']);
  });

  test('pages with limit and cursor visit every row once', async () => {
    const all = await json<{ files: FileRow[] }>(api.call('GET', '/api/files?limit=1000'));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page: { files: FileRow[]; nextCursor: string | null } = await json(
        api.call('GET', `/api/files?limit=3${q}`),
      );
      expect(page.files.length).toBeLessThanOrEqual(3);
      seen.push(...page.files.map((f) => f.key));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(seen).toEqual(all.files.map((f) => f.key));
    expect(new Set(seen).size).toBe(all.files.length);
    expect(pages).toBe(Math.ceil(all.files.length / 3));
  });

  test('one key, URL-encoded or with raw slashes, gives its versions with state, counts and report', async () => {
    const encoded = await api.call('GET', `/api/files/${encodeURIComponent('in/2026/cat-1.xml')}`);
    const raw = await api.call('GET', '/api/files/in/2026/cat-1.xml');
    expect(encoded.status).toBe(200);
    expect(raw.status).toBe(200);
    const body = await json<{ key: string; versions: FileRow[] }>(encoded);
    expect(await raw.json()).toEqual(body);
    expect(body.key).toBe('in/2026/cat-1.xml');
    expect(body.versions).toHaveLength(1);
    const [v] = body.versions;
    expect(v).toMatchObject({ key: 'in/2026/cat-1.xml', state: 'done', attempts: 1, itemsWritten: 3 });
    expect(v!.report).toMatchObject({ itemsSeen: 3, itemsWritten: 3, error: null });
    expect(Date.parse(v!.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(v!.startedAt!));
  });

  test('a failed file shows its error and report', async () => {
    const body = await json<{ versions: FileRow[] }>(api.call('GET', '/api/files/other/broken.xml'));
    expect(body.versions[0]).toMatchObject({ state: 'failed', attempts: 1 });
    // The truncated file's own fault, with where it was found (not an S3 or ledger error).
    expect(body.versions[0]!.error).toMatch(/^line 1: not well-formed XML: .*not closed/);
    expect(body.versions[0]!.report?.error).toMatchObject({
      line: 1,
      message: expect.stringMatching(/not closed/),
    });
  });

  test('a new upload of a key is a second version', async () => {
    const own = await ownApi('new-version/', { 'x.xml': smallCatalogue(900, 2) });
    try {
      await putObject(own.ts.s3, SOURCE, 'new-version/x.xml', smallCatalogue(950, 4));
      expect((await own.call('POST', '/api/scans', { auth: true })).status).toBe(202);
      const body = await waitFor(async () => {
        const b = await json<{ versions: FileRow[] }>(own.call('GET', '/api/files/new-version%2Fx.xml'));
        return b.versions.length === 2 && b.versions[0]!.state === 'done' ? b : null;
      });
      expect(body.versions.map((v) => v.itemsWritten)).toEqual([4, 2]);
      expect(body.versions[0]!.etag).not.toBe(body.versions[1]!.etag);
    } finally {
      await own.close();
    }
  });

  for (const [how, key, path] of [
    ['raw slashes', 'reprocess/raw/cat.xml', '/api/files/reprocess/raw/cat.xml/reprocess'],
    [
      'URL-encoded',
      'reprocess/encoded/cat.xml',
      `/api/files/${encodeURIComponent('reprocess/encoded/cat.xml')}/reprocess`,
    ],
  ] as const) {
    test(`reprocess (${how}) answers 202 and converts the latest version again`, async () => {
      const prefix = key.slice(0, key.lastIndexOf('/') + 1);
      const own = await ownApi(prefix, { 'cat.xml': smallCatalogue(100, 3) });
      try {
        const before = (await own.ts.service.getFileVersions(key))[0]!;
        expect(before.state).toBe('done');
        const res = await own.call('POST', path, { auth: true });
        expect(res.status).toBe(202);
        expect(res.headers.get('location')).toBe(`/api/files/${encodeURIComponent(key)}`);
        expect(await res.json()).toMatchObject({ key, etag: before.etag });
        const after = await waitFor(async () => {
          const [row] = await own.ts.service.getFileVersions(key);
          return row && row.state === 'done' && row.finishedAt !== before.finishedAt ? row : null;
        });
        expect(after.id).toBe(before.id);
        expect(after.itemsWritten).toBe(3);
      } finally {
        await own.close();
      }
    });
  }
});

test('OpenAPI is served at /docs', async () => {
  const spec = await json<{ openapi: string; paths: Record<string, unknown> }>(api.call('GET', '/docs/json'));
  expect(spec.openapi).toMatch(/^3\./);
  for (const path of [
    '/api/stats',
    '/health/ready',
    '/metrics',
    '/api/schedule',
    '/api/scans',
    '/api/scans/{id}',
    '/api/files',
    '/api/files/{key}',
    '/api/files/{key}/reprocess',
  ]) {
    expect(Object.keys(spec.paths)).toContain(path);
  }
  const ui = await api.call('GET', '/docs');
  expect(ui.status).toBe(200);
  expect(await ui.text()).toContain('swagger');
});
