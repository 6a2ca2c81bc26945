import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../src/storage/s3-client.js';
import { runCli } from './support/cli.js';
import { S3RVER_CREDENTIALS, startS3rver, type TestS3 } from './support/s3rver.js';
import { getText, putObject } from './support/service.js';

const ITEM = '<items><item id="1"><category>c</category><description>d</description></item></items>';

describe('`scan --once`', () => {
  let s3: TestS3;
  let cwd: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    s3 = await startS3rver();
    cwd = await mkdtemp(join(tmpdir(), 'ft-once-'));
    env = {
      S3_ENDPOINT: s3.endpoint,
      SOURCE_BUCKET: 'xml-bucket',
      TARGET_BUCKET: 'json-bucket',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      DATA_DIR: join(cwd, 'data'),
      EVENTS: 'off',
    };
  });
  afterAll(async () => {
    await s3?.close();
    await rm(cwd, { recursive: true, force: true });
  });

  it('prints help and refuses other arguments', async () => {
    const help = await runCli(['scan', '--help'], env, cwd);
    expect(help.code).toBe(0);
    expect((await runCli(['scan'], env, cwd)).code).toBe(2);
  });

  it('exits 2 with one line naming the variable on a configuration error, at load or at start-up', async () => {
    const bad = await runCli(['scan', '--once'], { ...env, CONCURRENCY: 'many' }, cwd);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^file-transformer: configuration error: CONCURRENCY: /);

    // Embedded mode on a port that is taken: found only when start() binds it.
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as AddressInfo).port;
      const busy = await runCli(
        ['scan', '--once'],
        { DATA_DIR: join(cwd, 'embedded'), EVENTS: 'off', EMBEDDED_S3_PORT: String(port) },
        cwd,
      );
      expect(busy.code).toBe(2);
      expect(busy.stderr).toMatch(/^file-transformer: configuration error: EMBEDDED_S3_PORT: .*in use/);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('converts everything new and exits 0; a broken file makes it exit 1; nothing is converted twice', async () => {
    const client = createS3Client({
      region: 'us-east-1',
      endpoint: s3.endpoint,
      credentials: S3RVER_CREDENTIALS,
    });
    try {
      await putObject(client, 'xml-bucket', 'one.xml', ITEM);
      await putObject(client, 'xml-bucket', 'two.xml', ITEM);
      const ok = await runCli(['scan', '--once'], env, cwd);
      expect(ok.code).toBe(0);
      expect(JSON.parse(await getText(client, 'json-bucket', 'two.xml.json'))).toHaveLength(1);
      expect(ok.stdout.filter((e) => e.msg === 'file done')).toHaveLength(2);

      await putObject(client, 'xml-bucket', 'broken.xml', '<items><item id="1">');
      const bad = await runCli(['scan', '--once'], env, cwd);
      expect(bad.code).toBe(1);
      expect(bad.stdout.filter((e) => e.msg === 'file done')).toHaveLength(0);
      expect(bad.stdout.filter((e) => e.msg === 'file failed').map((e) => e.key)).toEqual(['broken.xml']);

      // An earlier failure is not this run's failure: nothing new, exit 0.
      const again = await runCli(['scan', '--once'], env, cwd);
      expect(again.code).toBe(0);
      expect(again.stdout.filter((e) => e.msg === 'file done' || e.msg === 'file failed')).toHaveLength(0);
    } finally {
      client.destroy();
    }
  });
});
