/**
 * `file-transformer convert a.xml b.xml.gz ... --output-dir DIR`: a backfill. Converts many files in
 * parallel on the conversion thread pool, each to `DIR/<name>.json` (written to a temp file and renamed
 * when complete) with `DIR/<name>.report.json` when it had rejected items or failed; one progress bar
 * (stderr, terminals only), a summary, and the exit status of the worst file.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ConversionReport, ConvertOptions } from '../convert/types.js';
import { TransformerError } from '../errors.js';
import { type Conversions, startConversions } from '../worker/conversions.js';
import { convertStream, type FileResult } from '../worker/convert-file.js';

export interface BatchOptions {
  /** Paths, or `-` for stdin (at most once). */
  inputs: string[];
  outputDir: string;
  /** Conversion threads; 0 converts on the main thread, one file at a time. */
  threads: number;
  convert: Pick<ConvertOptions, 'strict' | 'maxImageType' | 'maxBytes' | 'maxItemBytes'>;
}

/** A file whose thread died is tried this many times in all (a crash may be the thread's, not the file's). */
const ATTEMPTS = 3;

interface Job {
  input: string;
  /** File name in the output directory, without `.json`. */
  name: string;
  size: number | null;
}

type Outcome =
  | { status: 'converted'; report: ConversionReport; reportPath: string | null }
  | { status: 'failed'; error: string; reportPath: string | null; report: ConversionReport | null };

/** The output names for the inputs; two inputs with one name would overwrite each other's output. */
export function outputNames(inputs: string[]): { names: string[]; clash: string | null } {
  const names = inputs.map((input) => (input === '-' ? 'stdin' : basename(input)));
  const seen = new Map<string, string>();
  for (const [i, name] of names.entries()) {
    const before = seen.get(name);
    if (before !== undefined)
      return { names, clash: `${before} and ${inputs[i]} would both write ${name}.json` };
    seen.set(name, inputs[i]!);
  }
  return { names, clash: null };
}

class ProgressBar {
  private timer: NodeJS.Timeout | null = null;
  private readonly started = Date.now();
  bytes = 0;
  done = 0;
  failed = 0;

  constructor(
    private readonly files: number,
    private readonly totalBytes: number,
    private readonly enabled: boolean,
  ) {
    if (!enabled) return;
    this.timer = setInterval(() => this.draw(), 250);
    this.timer.unref();
  }

  /** Prints a line above the bar. */
  log(line: string): void {
    if (this.enabled) process.stderr.write('\r\x1b[K');
    process.stderr.write(`${line}\n`);
    if (this.enabled) this.draw();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.enabled) process.stderr.write('\r\x1b[K');
  }

  private draw(): void {
    const width = 24;
    const share = this.totalBytes > 0 ? Math.min(1, this.bytes / this.totalBytes) : this.done / this.files;
    const filled = Math.round(share * width);
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    const failed = this.failed > 0 ? `, ${this.failed} failed` : '';
    process.stderr.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${this.files} files, ` +
        `${megabytes(this.bytes)} of ${megabytes(this.totalBytes)} MB, ` +
        `${(this.bytes / 1e6 / seconds).toFixed(1)} MB/s${failed} \x1b[K`,
    );
  }
}

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0);
}

function plural(n: number, word: string): string {
  return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
}

export async function runBatch(options: BatchOptions): Promise<number> {
  const { names } = outputNames(options.inputs);
  const jobs: Job[] = [];
  for (const [i, input] of options.inputs.entries()) {
    const size = input === '-' ? null : ((await stat(input).catch(() => null))?.size ?? null);
    jobs.push({ input, name: names[i]!, size });
  }
  await mkdir(options.outputDir, { recursive: true });

  const totalBytes = jobs.reduce((sum, j) => sum + (j.size ?? 0), 0);
  const bar = new ProgressBar(jobs.length, totalBytes, process.stderr.isTTY === true);
  const temps = new Set<string>();
  // Ctrl-C: the temp files go too, so an interrupted backfill leaves only complete outputs.
  const onInterrupt = (): void => {
    for (const t of temps) rmSync(t, { force: true });
    bar.stop();
    process.stderr.write('\nfile-transformer convert: interrupted; files not finished were not written\n');
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);

  // Threads started at once, while the first files are being opened.
  const conversions = await startConversions(Math.min(options.threads, jobs.length), { warm: true });
  const started = performance.now();
  const outcomes: Outcome[] = new Array(jobs.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      const job = jobs[i]!;
      const outcome = await convertOne(job, options, conversions, temps, (n) => {
        bar.bytes += n;
      });
      outcomes[i] = outcome;
      bar.done++;
      if (outcome.status === 'failed') {
        bar.failed++;
        const where = outcome.reportPath ? ` (report: ${outcome.reportPath})` : '';
        bar.log(`failed: ${job.input}: ${outcome.error}${where}`);
      }
    }
  };
  try {
    // Twice as many files under way as threads: while a lane renames its output and writes its report,
    // its thread already converts the next lane's file.
    await Promise.all(Array.from({ length: Math.max(1, 2 * options.threads) }, lane));
  } finally {
    bar.stop();
    process.off('SIGINT', onInterrupt);
    await conversions.close();
  }
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(`${summary(outcomes, totalBytes, seconds, options)}\n`);
  return outcomes.some((o) => o.status === 'failed') ? 1 : 0;
}

function summary(outcomes: Outcome[], bytes: number, seconds: number, options: BatchOptions): string {
  const converted = outcomes.filter((o) => o.status === 'converted');
  const failed = outcomes.length - converted.length;
  const written = converted.reduce((n, o) => n + o.report.itemsWritten, 0);
  const rejected = converted.reduce((n, o) => n + o.report.itemsRejected, 0);
  const withRejections = converted.filter((o) => o.report.itemsRejected > 0).length;
  const parts = [
    `converted ${converted.length} of ${plural(outcomes.length, 'file')} to ${options.outputDir}`,
    `${plural(written, 'item')} written, ${rejected.toLocaleString('en-US')} rejected` +
      (withRejections > 0 ? ` (in ${plural(withRejections, 'file')}: see their .report.json)` : ''),
  ];
  if (failed > 0) parts.push(`${failed} failed`);
  const threads = options.threads === 0 ? 'the main thread' : plural(options.threads, 'thread');
  parts.push(
    `${megabytes(bytes)} MB in ${seconds.toFixed(1)} s ` +
      `(${(outcomes.length / seconds).toFixed(1)} files/s, ${(bytes / 1e6 / seconds).toFixed(1)} MB/s) on ${threads}`,
  );
  return parts.join('; ');
}

async function convertOne(
  job: Job,
  options: BatchOptions,
  conversions: Conversions,
  temps: Set<string>,
  onBytes: (n: number) => void,
): Promise<Outcome> {
  const output = join(options.outputDir, `${job.name}.json`);
  const reportPath = join(options.outputDir, `${job.name}.report.json`);
  const temp = join(
    options.outputDir,
    `.${job.name}.json.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  temps.add(temp);
  try {
    for (let attempt = 1; ; attempt++) {
      const result = await attemptOne(job, options, conversions, temp, onBytes);
      if (result.kind === 'retry' && attempt < ATTEMPTS && job.input !== '-') continue;
      if (result.kind === 'retry')
        return { status: 'failed', error: result.error, reportPath: null, report: null };
      if (result.kind === 'io')
        return { status: 'failed', error: result.error, reportPath: null, report: null };
      const report = result.report;
      if (report.error) {
        const line = report.error.line ? ` (line ${report.error.line})` : '';
        const saved = await writeReport(reportPath, report);
        return { status: 'failed', error: `${report.error.message}${line}`, reportPath: saved, report };
      }
      await rename(temp, output);
      temps.delete(temp);
      // A report describes problems; a clean file's stale one from an earlier run goes.
      const saved = report.itemsRejected > 0 ? await writeReport(reportPath, report) : null;
      if (saved === null) await removeIfThere(reportPath);
      return { status: 'converted', report, reportPath: saved };
    }
  } finally {
    if (temps.delete(temp)) await removeIfThere(temp);
  }
}

/** One unlink (rm's force option costs an lstat first, per file of a large backlog). */
async function removeIfThere(path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

async function writeReport(path: string, report: ConversionReport): Promise<string | null> {
  try {
    await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
    return path;
  } catch {
    return null;
  }
}

type Attempt =
  | { kind: 'report'; report: ConversionReport }
  /** No verdict (the conversion thread died): worth another try. */
  | { kind: 'retry'; error: string }
  /** The input could not be read or the output written. */
  | { kind: 'io'; error: string };

async function attemptOne(
  job: Job,
  options: BatchOptions,
  conversions: Conversions,
  temp: string,
  onBytes: (n: number) => void,
): Promise<Attempt> {
  const convert = { ...options.convert, source: job.input, gzip: 'auto' as const };
  let result: FileResult;
  try {
    result =
      job.input === '-'
        ? // Stdin's bytes arrive on the main thread: they stream to the converter (on a thread, if any).
          await convertStream(conversions.createConverter, process.stdin, temp, convert, onBytes)
        : // Read, converted and written on the conversion thread: no bytes cross threads.
          await conversions.convertFile({ input: job.input, output: temp, options: convert }, { onBytes });
  } catch (err) {
    const retryable = err instanceof TransformerError && err.retryable;
    const message = err instanceof Error ? err.message : String(err);
    return retryable ? { kind: 'retry', error: message } : { kind: 'io', error: message };
  }
  // A read or write failure also aborts the converter; its own message says more than "aborted".
  const { ioError } = result;
  if (ioError) {
    const code = ioError.code;
    const what = code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES' ? 'cannot read it' : 'I/O error';
    return { kind: 'io', error: `${what}: ${ioError.message}` };
  }
  return { kind: 'report', report: result.report };
}
