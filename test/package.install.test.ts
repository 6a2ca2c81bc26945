/**
 * The npm package as a user gets it: `npm pack` (its prepack builds from scratch and adds the lock file
 * as npm-shrinkwrap.json), then `npm install -g` of the tarball into an empty prefix from an empty
 * directory, then the installed `file-transformer` runs `convert`, `scan --once` and `serve` on the
 * embedded defaults. The tarball holds the built code, the sample and the docs, and nothing else.
 *
 * Packing runs in a copy of the repository: prepack empties dist/, which the other test files run.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/package-root.js';
import { runCli, startCli } from './support/cli.js';
import { waitFor } from './support/service.js';

const run = promisify(execFile);
const ROOT = packageRoot();
/** What the repository holds that a package copy must not (installed, built or generated locally). */
const NOT_COPIED = new Set(['node_modules', '.git', 'dist', 'data', '.bench', 'coverage']);
const SLOW = 15 * 60_000;
/** A command of the installed package: start-up under a loaded CI machine can take a while. */
const COMMAND = 180_000;

let work: string;
let tarball: string;
let bin: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ft-package-'));
  const copy = join(work, 'repo');
  await cp(ROOT, copy, {
    recursive: true,
    filter: (src) => !(NOT_COPIED.has(basename(src)) || src.endsWith('.tgz')),
  });
  await symlink(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  const packed = await run('npm', ['pack', '--silent', '--pack-destination', work], {
    cwd: copy,
    maxBuffer: 16 * 1024 * 1024,
  });
  tarball = join(work, packed.stdout.trim().split('\n').pop()!);
}, SLOW);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships the built code, the sample, the docs and the pinned dependency tree, nothing else', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball], { maxBuffer: 16 * 1024 * 1024 });
    const files = stdout
      .trim()
      .split('\n')
      .map((f) => f.replace(/^package\//, ''));
    expect(files).toContain('dist/src/cli/main.js');
    expect(files).toContain('samples/seed-sample.xml');
    expect(files).toContain('docs/configuration.md');
    expect(files).toContain('src/api/console/index.html');
    expect(files).toContain('npm-shrinkwrap.json');
    const allowed =
      /^(dist\/src\/.+\.js|src\/api\/console\/[^/]+|samples\/[^/]+|docs\/[^/]+\.(md|png)|README\.md|package\.json|\.env\.example|npm-shrinkwrap\.json)$/;
    expect(files.filter((f) => !allowed.test(f))).toEqual([]);
    expect(files.filter((f) => /(^|\/)(test|bench|fixtures|\.bench)\/|\.map$|\.ts$/.test(f))).toEqual([]);
  });
});

describe('npm install -g of the tarball', () => {
  let cwd: string;

  beforeAll(async () => {
    const prefix = join(work, 'prefix');
    cwd = join(work, 'empty');
    await mkdir(cwd);
    // better-sqlite3 installs with prebuild-install, which downloads a prebuilt binary where it can
    // (not on these machines: it then compiles for a minute or more). This test hands it the binary
    // the repository's install built for this very Node, under the name it would download.
    const sqlite = JSON.parse(
      await readFile(join(ROOT, 'node_modules', 'better-sqlite3', 'package.json'), 'utf8'),
    ) as { version: string };
    const prebuilds = join(work, 'prebuilds');
    await mkdir(prebuilds);
    const prebuilt = `better-sqlite3-v${sqlite.version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
    await run('tar', [
      '-czf',
      join(prebuilds, prebuilt),
      '-C',
      join(ROOT, 'node_modules', 'better-sqlite3'),
      'build/Release/better_sqlite3.node',
    ]);
    // --prefer-offline: what `npm ci` left in the npm cache is used without asking the registry; the
    // full package documents a global install resolves with are fetched once if they are not there.
    await run(
      'npm',
      ['install', '-g', '--prefix', prefix, '--prefer-offline', '--allow-scripts=better-sqlite3', tarball],
      {
        cwd,
        env: { ...process.env, npm_config_better_sqlite3_local_prebuilds: prebuilds },
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    bin = join(prefix, 'bin', 'file-transformer');
    // Only the runtime dependencies came along.
    const installed = await readdir(join(prefix, 'lib', 'node_modules', 'file-transformer', 'node_modules'));
    expect(installed).toContain('better-sqlite3');
    expect(installed.filter((d) => /^(vitest|typescript|playwright-core|@sparticuz)$/.test(d))).toEqual([]);
  }, SLOW);

  it(
    '`convert` turns the shipped sample into the expected JSON',
    async () => {
      const sample = join(
        work,
        'prefix',
        'lib',
        'node_modules',
        'file-transformer',
        'samples',
        'seed-sample.xml',
      );
      const result = await runCli(['convert', sample, '-o', 'out.json'], {}, cwd, bin);
      expect(result.code).toBe(0);
      const expected = await readFile(join(ROOT, 'test', 'fixtures', 'seed-sample.expected.json'), 'utf8');
      expect(await readFile(join(cwd, 'out.json'), 'utf8')).toBe(expected);
    },
    COMMAND,
  );

  it(
    '`scan --once` on the embedded defaults uploads and converts the sample, then exits 0',
    async () => {
      const env = { DATA_DIR: 'scan-data', EMBEDDED_S3_PORT: '0', EMBEDDED_SQS_PORT: '0' };
      const result = await runCli(['scan', '--once'], env, cwd, bin);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toContainEqual(
        expect.objectContaining({ msg: 'file done', key: 'test-file.xml', itemsWritten: 2 }),
      );
    },
    COMMAND,
  );

  it(
    '`serve` on the embedded defaults converts the sample, answers HTTP and stops with 0',
    async () => {
      const env = { DATA_DIR: 'serve-data', EMBEDDED_S3_PORT: '0', EMBEDDED_SQS_PORT: '0', PORT: '0' };
      const cli = startCli(['serve'], env, cwd, bin);
      try {
        await waitFor(
          () => cli.events.find((e) => e.msg === 'file done' && e.key === 'test-file.xml'),
          120_000,
          'the sample to be converted',
        );
        const api = await waitFor(() => cli.events.find((e) => typeof e.url === 'string'), 30_000, 'the API');
        const res = await fetch(`${api.url as string}/api/files/test-file.xml`);
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({
          key: 'test-file.xml',
          versions: [expect.objectContaining({ state: 'done', itemsWritten: 2 })],
        });
      } finally {
        cli.child.kill('SIGTERM');
      }
      expect(await cli.exit).toBe(0);
    },
    COMMAND,
  );
});
