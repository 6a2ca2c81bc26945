/**
 * `npm run package:lambda`: bundles src/lambda/index.ts with its dependencies into one ES module and
 * zips it as `index.mjs` (handler `index.handler`), deployable as is on the Node.js 22 runtime: no
 * node_modules, no native module (the SQLite ledger is not reachable from the Lambda entry point).
 *
 *   node deploy/lambda/package.mjs [--out dist/lambda.zip]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { zipSync } from 'fflate';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({
  options: { out: { type: 'string', default: join(root, 'dist', 'lambda.zip') } },
});
const out = resolve(values.out);

const result = await build({
  entryPoints: [join(root, 'src', 'lambda', 'index.ts')],
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  mainFields: ['module', 'main'],
  minify: true,
  legalComments: 'eof',
  write: false,
  outfile: 'index.mjs',
  metafile: true,
  logLevel: 'warning',
  // CommonJS dependencies inside an ES module still call require() for Node's built-ins.
  banner: {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
});

const natives = Object.keys(result.metafile.inputs).filter(
  (f) => f.endsWith('.node') || f.includes('better-sqlite3'),
);
if (natives.length > 0)
  throw new Error(`the Lambda bundle must not contain native modules: ${natives.join(', ')}`);

const [bundle] = result.outputFiles;
// A fixed timestamp: the same sources give the same zip (and the same CodeSha256).
const zip = zipSync({
  'index.mjs': [bundle.contents, { level: 9, mtime: new Date('2026-01-01T00:00:00Z') }],
});
await mkdir(dirname(out), { recursive: true });
await writeFile(out, zip);
process.stdout.write(
  `${out}: index.mjs ${(bundle.contents.length / 1e6).toFixed(2)} MB, zip ${(zip.length / 1e6).toFixed(2)} MB\n`,
);
