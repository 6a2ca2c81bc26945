/**
 * The layer check of `npm run lint` (scripts/check-layers.mjs), run as lint runs it: a real node
 * process on a real tree. The project's own src/ passes; copies of it with one bad import each fail,
 * naming the file and the rule.
 */
import { execFile } from 'node:child_process';
import { appendFile, copyFile, cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/package-root.js';

const run = promisify(execFile);
const SCRIPT = join(packageRoot(), 'scripts', 'check-layers.mjs');

async function check(root?: string): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run(process.execPath, root ? [SCRIPT, root] : [SCRIPT]);
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

describe('the layer check', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ft-layers-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A copy of src/ with `line` appended to `file`. */
  async function treeWith(name: string, file: string, line: string): Promise<string> {
    const root = join(dir, name);
    await cp(join(packageRoot(), 'src'), join(root, 'src'), { recursive: true });
    await appendFile(join(root, 'src', file), `\n${line}\n`);
    return root;
  }

  it('passes on the project as it is', async () => {
    expect(await check()).toEqual({ code: 0, stderr: '' });
  });

  it('fails when a lower layer imports a higher one', async () => {
    const root = await treeWith(
      'up',
      'discovery/scan.ts',
      "import type { ServiceApi } from '../api/types.js';",
    );
    const { code, stderr } = await check(root);
    expect(code).toBe(1);
    expect(stderr).toContain(
      'layers: discovery/scan.ts: discovery imports api (api/types.ts), a higher layer',
    );
  });

  it('fails when a layer imports a sibling of the same rank', async () => {
    const root = await treeWith(
      'side',
      'storage/s3-client.ts',
      "import type { Ledger } from '../ledger/types.js';",
    );
    const { code, stderr } = await check(root);
    expect(code).toBe(1);
    expect(stderr).toContain(
      'layers: storage/s3-client.ts: storage imports ledger (ledger/types.ts), a sibling layer',
    );
  });

  it('fails on an import cycle inside one layer', async () => {
    const root = await treeWith('cycle', 'discovery/s3-events.ts', "import './scan.js';");
    await appendFile(join(root, 'src', 'discovery', 'scan.ts'), "\nimport './s3-events.js';\n");
    const { code, stderr } = await check(root);
    expect(code).toBe(1);
    expect(stderr).toContain(
      'layers: import cycle: discovery/s3-events.ts -> discovery/scan.ts -> discovery/s3-events.ts',
    );
  });

  it('fails on a folder that has no layer', async () => {
    const root = await treeWith('unknown', 'log.ts', '');
    await mkdir(join(root, 'src', 'misc'));
    await copyFile(join(root, 'src', 'log.ts'), join(root, 'src', 'misc', 'log.ts'));
    const { code, stderr } = await check(root);
    expect(code).toBe(1);
    expect(stderr).toContain('layers: misc/log.ts: folder src/misc/ has no layer');
  });
});
