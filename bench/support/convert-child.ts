/**
 * One benchmark run in its own process, so its peak RSS is its own:
 * `node convert-child.js <ours|saxes|fxp> <file>` prints one JSON line (a `ChildResult`).
 * Every parser reads the file and discards the JSON it produces, counting its bytes (and, with
 * BENCH_VERIFY=1, hashing them) so the parent can check that all parsers produced the same output.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface ChildResult {
  parser: string;
  bytes: number;
  seconds: number;
  /** CPU time (user + system) of the run: less sensitive than wall time to other load on the machine. */
  cpuSeconds: number;
  /** Peak resident set size of the whole process, in bytes. */
  maxRss: number;
  itemsWritten: number;
  outputBytes: number;
  /** sha256 of the output JSON, only with BENCH_VERIFY=1 (hashing costs time). */
  outputSha256: string | null;
  error: string | null;
}

type Outcome = Omit<ChildResult, 'parser' | 'seconds' | 'cpuSeconds' | 'maxRss'>;

/** Large reads: the converters are fast enough that small reads would measure syscalls. */
const HIGH_WATER_MARK = 1 << 20;

/** Where output goes: counted, optionally hashed, then dropped. */
class OutputTally {
  bytes = 0;
  private readonly hash: Hash | null = process.env.BENCH_VERIFY === '1' ? createHash('sha256') : null;

  add(chunk: Buffer | string): void {
    this.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    this.hash?.update(chunk);
  }

  outcome(bytes: number, itemsWritten: number, error: string | null): Outcome {
    return {
      bytes,
      itemsWritten,
      outputBytes: this.bytes,
      outputSha256: this.hash?.digest('hex') ?? null,
      error,
    };
  }
}

type Runner = (file: string) => Promise<Outcome>;

// Each loader imports only its own parser (so the others' code does not count in its RSS), before the
// clock starts.
async function loadOurs(): Promise<Runner> {
  const { createConverter } = await import('../../src/convert/index.js');
  return async (file) => {
    const { stream, report } = createConverter({ source: file });
    const tally = new OutputTally();
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        tally.add(chunk);
        callback();
      },
    });
    await pipeline(createReadStream(file, { highWaterMark: HIGH_WATER_MARK }), stream, sink);
    const r = await report;
    return tally.outcome(r.bytes, r.itemsWritten, r.error?.message ?? null);
  };
}

async function loadSaxes(): Promise<Runner> {
  const { ReferenceConverter } = await import('../../test/support/reference-converter.js');
  return async (file) => {
    const tally = new OutputTally();
    const converter = new ReferenceConverter({ source: file }, (json) => tally.add(json));
    for await (const chunk of createReadStream(file, { highWaterMark: HIGH_WATER_MARK })) {
      if (!converter.write(chunk as Buffer)) break;
    }
    const r = converter.end();
    return tally.outcome(r.bytes, r.itemsWritten, r.error?.message ?? null);
  };
}

async function loadFxp(): Promise<Runner> {
  const { convertWholeDocument } = await import('./fxp-convert.js');
  return async (file) => {
    const xml = await readFile(file, 'utf8');
    const r = convertWholeDocument(xml);
    const tally = new OutputTally();
    tally.add(r.json);
    return tally.outcome(Buffer.byteLength(xml), r.written, null);
  };
}

const LOADERS = { ours: loadOurs, saxes: loadSaxes, fxp: loadFxp } as const;

async function main(): Promise<void> {
  const [parser, file] = process.argv.slice(2);
  const load = LOADERS[parser as keyof typeof LOADERS];
  if (!load || !file) throw new Error('usage: convert-child <ours|saxes|fxp> <file>');
  const runner = await load();
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const cpu = () => {
    const u = process.resourceUsage();
    return (u.userCPUTime + u.systemCPUTime) / 1e6;
  };
  const cpuStart = cpu();
  const start = performance.now();
  let outcome: Outcome;
  try {
    outcome = await runner(file);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    outcome = { bytes: 0, itemsWritten: 0, outputBytes: 0, outputSha256: null, error: message };
  }
  const seconds = (performance.now() - start) / 1000;
  const cpuSeconds = cpu() - cpuStart;
  const result: ChildResult = {
    parser,
    seconds,
    cpuSeconds,
    maxRss: process.resourceUsage().maxRSS * 1024,
    ...outcome,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
