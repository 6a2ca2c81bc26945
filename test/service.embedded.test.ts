import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../src/app/index.js';
import { loadConfig } from '../src/config/index.js';
import { packageRoot } from '../src/package-root.js';
import { createS3Client } from '../src/storage/s3-client.js';
import { runCli, startCli } from './support/cli.js';
import { getObjectWithMetadata, waitFor } from './support/service.js';

describe('`serve` on embedded defaults, as a user starts it', () => {
  let cwd: string;
  beforeAll(async () => {
    // A working directory that is not the package root: the sample must be found anyway.
    cwd = await mkdtemp(join(tmpdir(), 'ft-embedded-'));
  });
  afterAll(async () => {
    await rm(cwd, { recursive: true, force: true });
  });

  it('starts s3rver, uploads the sample, converts it to test-file.xml.json, and stops on SIGTERM with 0', async () => {
    const cli = startCli(
      ['serve'],
      { DATA_DIR: 'data', EMBEDDED_S3_PORT: '0', EMBEDDED_SQS_PORT: '0', PORT: '0' },
      cwd,
    );
    try {
      const started = await waitFor(
        () => cli.events.find((e) => typeof e.endpoint === 'string' && e.accessKeyId === 'S3RVER'),
        30_000,
        'the embedded S3 log line',
      );
      expect(started).toMatchObject({
        sourceBucket: 'xml-bucket',
        targetBucket: 'json-bucket',
        secretKey: 'S3RVER',
      });
      const s3 = createS3Client({
        region: 'us-east-1',
        endpoint: started.endpoint as string,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      });
      try {
        // s3rver (unlike S3) shows an object while it is being written: read it once the service says done.
        await waitFor(
          () => cli.events.find((e) => e.msg === 'file done' && e.key === 'test-file.xml'),
          30_000,
          'test-file.xml to be converted',
        );
        const out = await getObjectWithMetadata(s3, 'json-bucket', 'test-file.xml.json');
        // The sample's correct output (also asserted in test/convert.sample.test.ts), and the two points
        // where the predecessor was wrong.
        const expected = await readFile(
          join(packageRoot(), 'test', 'fixtures', 'seed-sample.expected.json'),
          'utf8',
        );
        expect(out.body).toBe(expected);
        const products = JSON.parse(out.body) as { product_images: Record<string, string | null> }[];
        expect(products).toHaveLength(2);
        expect(products[0]!.product_images).toEqual({
          image_1: 'https://sample.com/img/2445456_Image_1.jpg',
          image_2: null,
          image_3: 'https://sample.com/img/2445456_Image_3.jpg',
        });
        expect(out.metadata).toMatchObject({ 'items-written': '2', 'items-rejected': '0' });
      } finally {
        s3.destroy();
      }
      // The API came up too.
      const api = await waitFor(() => cli.events.find((e) => typeof e.url === 'string'), 30_000, 'the API');
      const res = await fetch(`${api.url as string}/health/live`);
      expect(res.status).toBe(200);
      // No secret in the logs (the s3rver credentials are public defaults and are logged on purpose).
      expect(JSON.stringify(cli.events)).not.toMatch(/secretAccessKey":"(?!\[redacted\])/);
    } finally {
      cli.child.kill('SIGTERM');
    }
    expect(await cli.exit).toBe(0);
    expect(cli.events.some((e) => e.msg === 'service stopped')).toBe(true);
  });

  it('stops at once with one line naming a wrong variable', async () => {
    const { code, stderr } = await runCli(['serve'], { DATA_DIR: 'data', number_of_hours: 'soon' }, cwd);
    expect(code).toBe(2);
    const lines = stderr.split('\n').filter((l) => l.startsWith('file-transformer'));
    expect(lines).toEqual([
      expect.stringMatching(/^file-transformer: configuration error: number_of_hours: expected/),
    ]);
  });

  it('explains a busy embedded S3 port instead of crashing', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    try {
      const port = String((busy.address() as AddressInfo).port);
      const { code, stderr } = await runCli(
        ['serve'],
        { DATA_DIR: 'data-busy', EMBEDDED_S3_PORT: port },
        cwd,
      );
      expect(code).toBe(2);
      expect(stderr).toMatch(
        new RegExp(
          `configuration error: EMBEDDED_S3_PORT: expected a free port, but 127.0.0.1:${port} is in use`,
        ),
      );
    } finally {
      await new Promise((r) => busy.close(r));
    }
  });

  it('lets the embedded s3rver accept a key pair set in the environment', async () => {
    const config = loadConfig({
      envFile: null,
      cwd,
      env: {
        DATA_DIR: 'data-creds',
        EMBEDDED_S3_PORT: '0',
        EVENTS: 'off',
        LOG_LEVEL: 'silent',
        AWS_ACCESS_KEY_ID: 'local-dev-key',
        AWS_SECRET_ACCESS_KEY: 'local-dev-secret',
      },
    });
    const service = await startApp(config);
    try {
      await service.drain();
      const [row] = await service.getFileVersions('test-file.xml');
      expect(row).toMatchObject({ state: 'done', itemsWritten: 2 });
      expect(service.config.s3.credentials?.accessKeyId).toBe('local-dev-key');
    } finally {
      await service.stop();
    }
  });

  it('stops gracefully with 0 on a SIGTERM that arrives during start-up', async () => {
    const cli = startCli(
      ['serve'],
      { DATA_DIR: 'data-early', EMBEDDED_S3_PORT: '0', EMBEDDED_SQS_PORT: '0', PORT: '0' },
      cwd,
    );
    await waitFor(() => cli.events.find((e) => typeof e.endpoint === 'string'), 30_000, 'the embedded S3');
    cli.child.kill('SIGTERM');
    expect(await cli.exit).toBe(0);
    expect(cli.events.some((e) => e.msg === 'service stopped')).toBe(true);
  });
});
