/**
 * `file-transformer convert`: one catalogue file (or stdin) through the same converter the service
 * uses. Output appears only when the whole file converted: it is written to a temp file first and
 * renamed (or copied to stdout) at the end, so a failed run never leaves half a JSON document behind.
 * With several inputs or `--output-dir`, a batch on the conversion threads (convert-batch.ts).
 */
import { createReadStream, rmSync } from 'node:fs';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { byteSize, defaultConvertThreads, parseConvertThreads } from '../config/parse.js';
import { type ConversionReport, createConverter, MAX_IMAGE_TYPE_LIMIT } from '../convert/index.js';
import { ConfigError } from '../errors.js';
import { convertFile, convertStream, type FileIoError } from '../worker/convert-file.js';
import { expandGlob, isGlob } from './globs.js';

const HELP = `Usage: file-transformer convert <input|-> [options]
       file-transformer convert <input|glob|->... --output-dir DIR [options]

Converts one partner XML product catalogue into the shop's JSON product format
(an array of products; the rules are in docs/format.md). The input may be
gzip-compressed (detected automatically). Use - to read from stdin.

With --output-dir, converts any number of files in parallel (a backfill), each
to DIR/<name>.json, with DIR/<name>.report.json for a file that had rejected
items or failed. Quoted globs ('in/*.xml', 'feeds/**/*.xml.gz') are expanded.

Items with invalid data (no id, a bad image type, a malformed price, ...) are
left out and listed in the report; the rest of the file still converts. A file
that is not well-formed XML, has another root element than <items>, declares a
DOCTYPE, or is larger than --max-bytes fails as a whole and produces no output.

Options:
  -o, --output FILE        write the JSON here (default: stdout). Written to a
                           temp file next to FILE and renamed when complete, so
                           a failed run leaves no FILE behind.
  -r, --report FILE        write the report (counts, every rejected item and
                           warning with its line, or the error) as JSON here
      --strict             fail the whole file at the first rejected item
      --max-image-type N   highest accepted image type (default 100)
      --max-bytes N        largest accepted input after decompression, in bytes;
                           K, M and G suffixes are allowed (default 2G)
      --max-item-bytes N   largest accepted item (XML from <item to </item>), in
                           bytes, K/M/G allowed (default 16M); a longer item is
                           rejected and skipped, so memory stays bounded by it
  -d, --output-dir DIR     batch mode: write DIR/<name>.json for each input
                           (DIR is created; replaces --output and --report)
      --threads N          batch mode: files converted at once, each on its own
                           thread (default: CONVERT_THREADS, else one per core;
                           0 = one at a time on the main thread)
  -h, --help               show this help

Examples:
  file-transformer convert catalogue.xml.gz -o catalogue.json -r report.json
  file-transformer convert 'backlog/**/*.xml.gz' --output-dir out/

Exit codes:
  0  converted (also when some items were rejected: see the summary and report);
     in batch mode: every file converted
  1  the file (in batch mode: at least one file) failed as a whole, or could
     not be read or written (no output for that file)
  2  usage error (unknown option, missing input, bad number, no file matches a
     glob, two inputs with the same name) or a bad CONVERT_THREADS
`;

/** Above this input size (on a terminal) a progress line shows how far the conversion is. */
const PROGRESS_MIN_BYTES = 50 * 1024 * 1024;

class UsageError extends Error {}

interface Args {
  /** As given: globs are expanded later (batch mode only). */
  inputs: string[];
  output: string | undefined;
  outputDir: string | undefined;
  threads: number | undefined;
  report: string | undefined;
  strict: boolean;
  maxImageType: number | undefined;
  maxBytes: number | undefined;
  maxItemBytes: number | undefined;
}

/** A whole number, or with `bytes` a byte size as the environment takes it (`64k`, `2GiB`). */
function parseCount(flag: string, text: string | undefined, bytes: boolean): number | undefined {
  if (text === undefined) return undefined;
  const value = bytes ? byteSize(text) : /^\s*\d+\s*$/.test(text) ? Number(text) : null;
  if (value === null) throw new UsageError(`${flag} needs a whole number, got "${text}"`);
  if (!Number.isSafeInteger(value)) throw new UsageError(`${flag} is too large: "${text}"`);
  return value;
}

/** Returns null when --help was asked for. */
function parse(argv: string[]): Args | null {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return null;
  if (positionals.length === 0) throw new UsageError('missing the input file (or - for stdin)');
  const outputDir = values['output-dir'];
  if (outputDir === undefined && positionals.length > 1) {
    throw new UsageError(
      `${positionals.length} inputs need --output-dir DIR (each is written to DIR/<name>.json)`,
    );
  }
  if (outputDir !== undefined && (values.output !== undefined || values.report !== undefined)) {
    throw new UsageError(
      '--output-dir writes DIR/<name>.json and its report: leave out --output and --report',
    );
  }
  if (positionals.filter((p) => p === '-').length > 1)
    throw new UsageError('stdin (-) can be read only once');
  const maxImageType = parseCount('--max-image-type', values['max-image-type'], false);
  if (maxImageType !== undefined && (maxImageType < 1 || maxImageType > MAX_IMAGE_TYPE_LIMIT)) {
    throw new UsageError(`--max-image-type must be from 1 to ${MAX_IMAGE_TYPE_LIMIT}`);
  }
  const maxItemBytes = parseCount('--max-item-bytes', values['max-item-bytes'], true);
  if (maxItemBytes === 0) throw new UsageError('--max-item-bytes must be at least 1');
  return {
    inputs: positionals,
    output: values.output,
    outputDir,
    threads: parseCount('--threads', values.threads, false),
    report: values.report,
    strict: values.strict ?? false,
    maxImageType,
    maxBytes: parseCount('--max-bytes', values['max-bytes'], true),
    maxItemBytes,
  };
}

const OPTIONS = {
  output: { type: 'string', short: 'o' },
  report: { type: 'string', short: 'r' },
  strict: { type: 'boolean' },
  'max-image-type': { type: 'string' },
  'max-bytes': { type: 'string' },
  'max-item-bytes': { type: 'string' },
  'output-dir': { type: 'string', short: 'd' },
  threads: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Counts the bytes read and redraws one progress line on stderr (a TTY) twice a second. */
function progressMeter(total: number): { count: (bytes: number) => void; stop: () => void } {
  let seen = 0;
  const started = Date.now();
  const draw = (): void => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const pct = Math.min(100, (seen / total) * 100).toFixed(0);
    const rate = (seen / 1e6 / seconds).toFixed(1);
    process.stderr.write(`\rconverting: ${pct.padStart(3)}%  ${rate} MB/s `);
  };
  const timer = setInterval(draw, 500);
  timer.unref();
  return {
    count: (bytes) => {
      seen += bytes;
    },
    stop: () => {
      clearInterval(timer);
      process.stderr.write('\r\x1b[K');
    },
  };
}

function summary(report: ConversionReport, reportPath: string | undefined): string {
  const parts = [`converted ${report.itemsWritten} item${report.itemsWritten === 1 ? '' : 's'}`];
  parts.push(`${report.itemsRejected} rejected`);
  if (report.warningsTotal > 0)
    parts.push(`${report.warningsTotal} warning${report.warningsTotal === 1 ? '' : 's'}`);
  let line = parts.join(', ');
  if (reportPath) line += ` (report: ${reportPath})`;
  const lines = [line];
  if (!reportPath) {
    // Without a report file, show the first rejections so the user sees what went wrong.
    for (const r of report.rejections.slice(0, 5)) {
      lines.push(`  rejected: line ${r.line}${r.id === null ? '' : ` (id ${r.id})`}: ${r.reason}`);
    }
    if (report.itemsRejected > 5)
      lines.push(`  ... and ${report.itemsRejected - 5} more (use --report FILE)`);
  }
  return lines.join('\n');
}

/**
 * A name no other run picks: the pid tells processes apart, the rest runs within one. (Not from
 * node:crypto: loading OpenSSL costs a one-file conversion more start-up than anything else it needs.)
 */
function uniqueSuffix(): string {
  const random = Math.floor(Math.random() * 0x1_0000_0000);
  return `${process.pid}.${Date.now().toString(36)}${random.toString(16).padStart(8, '0')}`;
}

function tempPathNear(path: string): string {
  return join(dirname(path), `.${basename(path)}.${uniqueSuffix()}.tmp`);
}

export async function run(argv: string[]): Promise<number> {
  let args: Args | null;
  try {
    args = parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageError(err.message);
  }
  if (args === null) {
    process.stdout.write(HELP);
    return 0;
  }
  if (args.outputDir !== undefined) return batch(args, args.outputDir);
  return single(args, args.inputs[0]!);
}

function usageError(message: string): number {
  process.stderr.write(
    `file-transformer convert: ${message}\nRun 'file-transformer convert --help' for usage.\n`,
  );
  return 2;
}

/** Globs the shell left alone are expanded here; one that matches nothing is a usage error, as in bash. */
async function expandInputs(inputs: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    const literal = input === '-' || !isGlob(input) || (await stat(input).catch(() => null)) !== null;
    if (literal) {
      files.push(input);
      continue;
    }
    const matches = await expandGlob(input);
    if (matches.length === 0) throw new UsageError(`no files match ${input}`);
    files.push(...matches);
  }
  return files;
}

async function batch(args: Args, outputDir: string): Promise<number> {
  // Loaded here, not at the top: the pool and its threads are for batches, and a single file should
  // not pay their start-up.
  const { outputNames, runBatch } = await import('./convert-batch.js');
  let threads = args.threads;
  if (threads === undefined) {
    const env = process.env.CONVERT_THREADS;
    try {
      threads =
        env === undefined || env.trim() === ''
          ? defaultConvertThreads()
          : parseConvertThreads('CONVERT_THREADS', env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(`file-transformer convert: configuration error: ${err.message}\n`);
      return 2;
    }
  } else if (threads > 256) {
    return usageError('--threads must be from 0 to 256');
  }
  let inputs: string[];
  try {
    inputs = await expandInputs(args.inputs);
    const { clash } = outputNames(inputs);
    if (clash) throw new UsageError(clash);
  } catch (err) {
    if (err instanceof UsageError) return usageError(err.message);
    throw err;
  }
  return runBatch({
    inputs,
    outputDir,
    threads,
    convert: {
      strict: args.strict,
      maxImageType: args.maxImageType,
      maxBytes: args.maxBytes,
      maxItemBytes: args.maxItemBytes,
    },
  });
}

async function single(args: Args, inputPath: string): Promise<number> {
  const fromStdin = inputPath === '-';
  let inputSize = 0;
  if (!fromStdin) {
    try {
      inputSize = (await stat(inputPath)).size;
    } catch (err) {
      process.stderr.write(`file-transformer convert: cannot read ${inputPath}: ${(err as Error).message}\n`);
      return 1;
    }
  }
  const source = fromStdin ? '-' : inputPath;
  const options = {
    source,
    strict: args.strict,
    maxImageType: args.maxImageType,
    maxBytes: args.maxBytes,
    maxItemBytes: args.maxItemBytes,
    gzip: 'auto' as const,
  };
  // Output goes to a temp file first: next to --output (so the rename is atomic), or in the temp dir
  // for stdout (copied out only after success).
  const temp = args.output
    ? tempPathNear(resolve(args.output))
    : join(tmpdir(), `file-transformer-${uniqueSuffix()}.json.tmp`);
  const progress =
    !fromStdin && process.stderr.isTTY && inputSize > PROGRESS_MIN_BYTES ? progressMeter(inputSize) : null;

  // Ctrl-C mid-way: take the temp file along, so an interrupted run leaves nothing behind either.
  const onInterrupt = (): void => {
    rmSync(temp, { force: true });
    process.stderr.write('\nfile-transformer convert: interrupted, no output written\n');
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  // The same path as a batch's files on the main thread: reused read and write buffers, the next read
  // and the output's writes in flight while the converter works.
  let result: ConversionReport;
  let ioError: FileIoError | null;
  try {
    const onBytes = progress?.count ?? (() => {});
    ({ report: result, ioError } = fromStdin
      ? await convertStream(createConverter, process.stdin, temp, options, onBytes)
      : await convertFile(createConverter, { input: inputPath, output: temp, options }, onBytes));
  } finally {
    progress?.stop();
  }
  process.off('SIGINT', onInterrupt);
  if (args.report) {
    try {
      await writeFile(args.report, `${JSON.stringify(result, null, 2)}\n`);
    } catch (err) {
      process.stderr.write(`file-transformer convert: cannot write the report: ${(err as Error).message}\n`);
      await rm(temp, { force: true });
      return 1;
    }
  }
  if (result.error || ioError) {
    await rm(temp, { force: true });
    // A read or write failure also aborts the converter; its own message says more than "aborted".
    const reason = ioError
      ? ioError.message
      : `${result.error?.message}${result.error?.line ? ` (line ${result.error.line})` : ''}`;
    process.stderr.write(`file-transformer convert: ${source} failed: ${reason}\n`);
    return 1;
  }
  try {
    if (args.output) await rename(temp, args.output);
    else {
      await pipeline(createReadStream(temp), process.stdout, { end: false });
      await rm(temp, { force: true });
    }
  } catch (err) {
    await rm(temp, { force: true });
    process.stderr.write(`file-transformer convert: cannot write the output: ${(err as Error).message}\n`);
    return 1;
  }
  process.stderr.write(`${summary(result, args.report)}\n`);
  return 0;
}
