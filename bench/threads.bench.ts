/**
 * Part of `npm run bench:convert`: conversion on the thread pool, measured through the batch CLI
 * (`file-transformer convert ... --output-dir DIR --threads T`, a child process, outputs to a temp dir):
 *
 *   (a) four 250 MB catalogues: one file at a time on the main thread (`--threads 0`), one at a time
 *       on one pool thread (`--threads 1`), and all at once on 2 and 4 threads: MB/s and the speed-up
 *       over one thread and over the main thread (issue 12 asks ≥ 1.7x on 2 cores against both), and
 *       beside them two `--threads 0` processes at once on half the files each: the cores' own ceiling;
 *   (b) a backlog of small catalogues (default 400 files of ~250 KB): files/s on 1, 2 and N threads;
 *   (c) the stream path (bytes arriving on the main thread, as S3 objects do in the service): the
 *       first 250 MB file piped to `convert -` on the main thread and on one thread, CPU seconds.
 *
 * Each cell is the best of BENCH_REPEAT runs (default 2); the load average is printed with the figures,
 * because the machine's cores are shared. Env: BENCH_THREADS_ONLY=big|small|stream; BENCH_BIG_FILES (4),
 * BENCH_BIG_MB (250), BENCH_SMALL_FILES (400), BENCH_SMALL_KB (250), BENCH_THREAD_COUNTS (0,1,2,4).
 * MB = 10^6 bytes.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeLargeCatalogue } from '../test/support/catalogue.js';
import { CLI, trackProcess } from '../test/support/service-process.js';

const MB = 1_000_000;
const REPEAT = Number(process.env.BENCH_REPEAT ?? 2);
const BIG_FILES = Number(process.env.BENCH_BIG_FILES ?? 4);
const BIG_MB = Number(process.env.BENCH_BIG_MB ?? 250);
const SMALL_FILES = Number(process.env.BENCH_SMALL_FILES ?? 400);
const SMALL_KB = Number(process.env.BENCH_SMALL_KB ?? 250);
const THREADS = (process.env.BENCH_THREAD_COUNTS ?? '0,1,2,4').split(',').map((s) => Number(s.trim()));
const benchDir = resolve('.bench');

function load(): string {
  return loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
}

/** The set of generated files (deterministic, cached in .bench/ and reused). */
async function files(
  kind: string,
  count: number,
  bytes: number,
): Promise<{ paths: string[]; bytes: number }> {
  const dir = join(benchDir, `${kind}-${count}x${bytes}`);
  await mkdir(dir, { recursive: true });
  const paths: string[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    const path = join(dir, `catalogue-${String(i).padStart(4, '0')}.xml`);
    const present = await stat(path).catch(() => null);
    if (!present) await writeLargeCatalogue(path, bytes, 100 + i);
    paths.push(path);
    total += (await stat(path)).size;
  }
  return { paths, bytes: total };
}

interface Run {
  seconds: number;
  cpuSeconds: number;
  peakMiB: number;
}

/**
 * One batch CLI run into a fresh output directory. `viaStdin`: the one file is piped to `convert -`,
 * which takes the stream path (bytes cross to the thread in batches, as S3 objects do in the service).
 */
async function batch(paths: string[], threads: number, viaStdin = false): Promise<Run> {
  const out = await mkdtemp(join(tmpdir(), 'ft-bench-threads-'));
  const input = viaStdin ? await open(paths[0]!, 'r') : null;
  try {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [CLI, 'convert', ...(input ? ['-'] : paths), '--output-dir', out, '--threads', String(threads)],
      { stdio: [input ? input.fd : 'ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const tracked = trackProcess(child.pid!);
    const [code] = (await once(child, 'exit')) as [number | null];
    const usage = tracked.stop();
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`batch CLI exited with ${code}: ${stderr}`);
    const written = (await readdir(out)).filter((f) => f.endsWith('.json')).length;
    const expected = input ? 1 : paths.length;
    if (written !== expected) throw new Error(`expected ${expected} outputs, found ${written}`);
    return { seconds, ...usage };
  } finally {
    await input?.close();
    await rm(out, { recursive: true, force: true });
  }
}

async function best(paths: string[], threads: number, viaStdin = false): Promise<Run & { loads: string[] }> {
  let top: Run | null = null;
  const loads: string[] = [];
  for (let i = 0; i < REPEAT; i++) {
    loads.push(load().split(' ')[0]!);
    const r = await batch(paths, threads, viaStdin);
    if (top === null || r.seconds < top.seconds) top = r;
  }
  return { ...top!, loads };
}

function threadsLabel(t: number): string {
  return t === 0 ? '0 (main thread)' : String(t);
}

function table(header: string[], rows: string[][]): void {
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log();
}

/** Runs the batch CLI on `paths` at each thread count; `rate` turns a run's seconds into the figure. */
async function sweep(label: string, paths: string[], rate: (seconds: number) => number): Promise<string[][]> {
  const rows: string[][] = [];
  let oneThread: number | null = null;
  let mainThread: number | null = null;
  const ratio = (figure: number, to: number | null): string =>
    to === null ? '' : `${(figure / to).toFixed(2)}x`;
  for (const t of THREADS) {
    const r = await best(paths, t);
    const figure = rate(r.seconds);
    if (t === 0) mainThread = figure;
    if (t === 1) oneThread = figure;
    rows.push([
      threadsLabel(t),
      r.seconds.toFixed(2),
      figure.toFixed(1),
      t > 1 ? ratio(figure, oneThread) : '',
      t > 0 ? ratio(figure, mainThread) : '',
      r.cpuSeconds.toFixed(1),
      r.peakMiB.toFixed(0),
      r.loads.join(', '),
    ]);
    console.log(`${label}: threads ${t}: ${rows.at(-1)!.join(', ')}`);
  }
  return rows;
}

const COLUMNS = [
  'vs 1 thread',
  'vs main thread',
  'CPU s',
  'peak RSS MiB',
  'load avg (1 min) before each run',
];

async function benchBig(): Promise<void> {
  const set = await files('threads-big', BIG_FILES, BIG_MB * MB);
  const mb = set.bytes / MB;
  const rows = await sweep('big', set.paths, (seconds) => mb / seconds);
  console.log(`\n${BIG_FILES} files of ${BIG_MB} MB (${mb.toFixed(0)} MB), best of ${REPEAT}:\n`);
  table(['threads', 'seconds', 'MB/s', ...COLUMNS], rows);
  await ceiling(set.paths, rows);
}

/**
 * What the cores give work that shares nothing: two processes at once, each converting half the files
 * on its main thread, against the sweep's one process converting them all (`--threads 0`). Two pool
 * threads cannot beat this; it is the ceiling their speed-up is read against.
 */
async function ceiling(paths: string[], rows: string[][]): Promise<void> {
  const seconds = (threads: number): number | null => {
    const row = rows.find((r) => r[0] === threadsLabel(threads));
    return row ? Number(row[1]) : null;
  };
  const mainThread = seconds(0);
  if (mainThread === null || paths.length < 2) return;
  const half = Math.ceil(paths.length / 2);
  let top: Run | null = null;
  for (let i = 0; i < REPEAT; i++) {
    const started = performance.now();
    const runs = await Promise.all([batch(paths.slice(0, half), 0), batch(paths.slice(half), 0)]);
    const r = {
      seconds: (performance.now() - started) / 1000,
      cpuSeconds: runs[0]!.cpuSeconds + runs[1]!.cpuSeconds,
      peakMiB: Math.max(runs[0]!.peakMiB, runs[1]!.peakMiB),
    };
    if (top === null || r.seconds < top.seconds) top = r;
  }
  const twoThreads = seconds(2);
  const share =
    twoThreads === null ? '' : `; 2 threads reach ${((100 * top!.seconds) / twoThreads).toFixed(0)}% of it`;
  console.log(
    `two processes sharing nothing (--threads 0, half the files each), best of ${REPEAT}: ` +
      `${top!.seconds.toFixed(2)} s, CPU ${top!.cpuSeconds.toFixed(1)} s: ${(mainThread / top!.seconds).toFixed(2)}x ` +
      `the main thread, the most these cores give work that shares nothing${share}\n`,
  );
}

async function benchSmall(): Promise<void> {
  const set = await files('threads-small', SMALL_FILES, SMALL_KB * 1000);
  const rows = await sweep('small', set.paths, (seconds) => SMALL_FILES / seconds);
  console.log(
    `\n${SMALL_FILES} files of ~${SMALL_KB} KB (${(set.bytes / MB).toFixed(0)} MB), best of ${REPEAT}, incl. process start:\n`,
  );
  table(['threads', 'seconds', 'files/s', ...COLUMNS], rows);
}

/** The stream path's cost: one big file through stdin on the main thread and on one thread. */
async function benchStream(): Promise<void> {
  const set = await files('threads-big', BIG_FILES, BIG_MB * MB);
  const path = set.paths[0]!;
  const mb = (await stat(path)).size / MB;
  const rows: string[][] = [];
  for (const t of [0, 1]) {
    const r = await best([path], t, true);
    rows.push([
      threadsLabel(t),
      r.seconds.toFixed(2),
      (mb / r.seconds).toFixed(1),
      r.cpuSeconds.toFixed(1),
      r.peakMiB.toFixed(0),
      r.loads.join(', '),
    ]);
    console.log(`stream: threads ${t}: ${rows.at(-1)!.join(', ')}`);
  }
  console.log(`\none ${BIG_MB} MB file through stdin (the stream path), best of ${REPEAT}:\n`);
  table(['threads', 'seconds', 'MB/s', 'CPU s', 'peak RSS MiB', 'load avg (1 min) before each run'], rows);
}

async function main(): Promise<void> {
  console.log(
    `batch CLI on the thread pool: ${availableParallelism()} cores, Node ${process.version}, load average ${load()}`,
  );
  const only = process.env.BENCH_THREADS_ONLY;
  if (only === undefined || only === 'big') await benchBig();
  if (only === undefined || only === 'small') await benchSmall();
  if (only === undefined || only === 'stream') await benchStream();
  console.log(`load average at the end ${load()}`);
}

await main();
