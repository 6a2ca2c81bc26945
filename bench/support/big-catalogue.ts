import { existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../../src/package-root.js';
import { writeLargeCatalogue } from '../../test/support/catalogue.js';

/**
 * The large generated catalogue of the service and Lambda benches (`mb` MiB, seed 7), made once in
 * `.bench/` (gitignored) and reused by both.
 */
export async function bigCatalogue(mb: number): Promise<{ path: string; bytes: number }> {
  const dir = join(packageRoot(), '.bench');
  await mkdir(dir, { recursive: true });
  const path = join(dir, `service-big-${mb}mb.xml`);
  if (!existsSync(path)) {
    process.stderr.write(`generating ${mb} MB catalogue in ${path} ...\n`);
    await writeLargeCatalogue(path, mb * 1024 * 1024, 7);
  }
  return { path, bytes: (await stat(path)).size };
}
