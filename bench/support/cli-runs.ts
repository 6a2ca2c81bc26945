/**
 * Whole commands timed as a user runs them (process start, read, convert, write the output file), each
 * in its own process with the peak-RSS preload (./peak-rss.ts), for the "end to end" parts of
 * `npm run bench:convert`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { packageRoot } from '../../src/package-root.js';
import type { PeakFigures } from './peak-rss.js';

export interface CommandRun extends PeakFigures {
  seconds: number;
}

const root = packageRoot();
export const CLI = join(root, 'dist', 'src', 'cli', 'main.js');
const PRELOAD = pathToFileURL(join(root, 'dist', 'bench', 'support', 'peak-rss.js')).href;

/** Runs `node <args>` (from the package root), failing on a non-zero exit; returns its time and peak RSS. */
export async function timeNode(args: string[], scratchDir: string): Promise<CommandRun> {
  const figuresFile = join(scratchDir, `figures-${process.pid}-${Date.now()}.json`);
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', PRELOAD, ...args], {
    cwd: root,
    env: { ...process.env, BENCH_PEAK_RSS_FILE: figuresFile },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const [code] = (await once(child, 'close')) as [number | null];
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited with ${code}: ${stderr.trim()}`);
  const figures = JSON.parse(await readFile(figuresFile, 'utf8')) as PeakFigures;
  await rm(figuresFile, { force: true });
  return { seconds, ...figures };
}

/**
 * The hostile input of issue 8: one item whose description is `sizeMb` MiB of text, gzip-compressed to
 * well under 1 MB (concatenated gzip members decompress as one stream), followed by a normal item.
 */
export async function longItemFile(dir: string, sizeMb: number): Promise<string> {
  const file = join(dir, `long-item-${sizeMb}MiB-v1.xml.gz`);
  if (await stat(file).catch(() => null)) return file;
  await mkdir(dir, { recursive: true });
  const out = createWriteStream(file);
  const member = gzipSync(Buffer.alloc(1024 * 1024, 'd'), { level: 9 });
  out.write(gzipSync('<items>\n<item id="long"><category>c</category><description>'));
  for (let i = 0; i < sizeMb; i++) {
    if (!out.write(member)) await once(out, 'drain');
  }
  out.end(gzipSync('</description></item>\n<item id="next"><category>n</category></item>\n</items>\n'));
  await once(out, 'finish');
  return file;
}

/** The shared yardsticks, vendored (bench/yardstick/README.md). */
export const YARDSTICK = join(root, 'bench', 'yardstick');
const READ_DECODE = join(root, 'dist', 'bench', 'support', 'read-decode.js');

/** A catalogue from the shared generator (same seed, same bytes as everybody's), cached in `dir`. */
export async function sharedCatalogue(dir: string, sizeMb: number): Promise<string> {
  const file = join(dir, `shared-catalogue-${sizeMb}MB.xml`);
  if (await stat(file).catch(() => null)) return file;
  await mkdir(dir, { recursive: true });
  await timeNode([join(YARDSTICK, 'gen-catalogue.mjs'), file, `${sizeMb}MB`], dir);
  return file;
}

/** The three commands compared end to end on one file. */
export function endToEndCommands(
  file: string,
  dir: string,
): { name: string; args: string[]; output: string | null }[] {
  const ours = join(dir, 'e2e-ours.json');
  const saxes = join(dir, 'e2e-saxes.json');
  return [
    { name: 'file-transformer convert', args: [CLI, 'convert', file, '-o', ours], output: ours },
    { name: 'saxes baseline', args: [join(YARDSTICK, 'baseline-saxes.mjs'), file, saxes], output: saxes },
    { name: 'read + UTF-8 decode', args: [READ_DECODE, file], output: null },
  ];
}
