/**
 * One benchmark run in its own process, so its peak RSS is its own:
 * `node convert-child.js <ours|saxes|fxp> <file>` prints one JSON line (a `ChildResult`).
 * Every parser reads the file and discards the JSON it produces, counting only its bytes (so the
 * parent can check that all parsers produced the same output size).
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface ChildResult {
  parser: string;
  bytes: number;
  seconds: number;
  /** Peak resident set size of the whole process, in bytes. */
  maxRss: number;
  itemsWritten: number;
  outputBytes: number;
  error: string | null;
}

/** Large reads: the converters are fast enough that small reads would measure syscalls. */
const HIGH_WATER_MARK = 1 << 20;

// Each runner imports only its own parser, so the others' code does not count in its RSS.
async function runOurs(file: string): Promise<Omit<ChildResult, 'parser' | 'seconds' | 'maxRss'>> {
  const { createConverter } = await import('../../src/convert/index.js');
  const { stream, report } = createConverter({ source: file });
  let outputBytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      outputBytes += chunk.length;
      callback();
    },
  });
  await pipeline(createReadStream(file, { highWaterMark: HIGH_WATER_MARK }), stream, sink);
  const r = await report;
  return { bytes: r.bytes, itemsWritten: r.itemsWritten, outputBytes, error: r.error?.message ?? null };
}

async function runSaxes(file: string): Promise<Omit<ChildResult, 'parser' | 'seconds' | 'maxRss'>> {
  const { ReferenceConverter } = await import('../../test/support/reference-converter.js');
  let outputBytes = 0;
  const converter = new ReferenceConverter({ source: file }, (json) => {
    outputBytes += Buffer.byteLength(json);
  });
  for await (const chunk of createReadStream(file, { highWaterMark: HIGH_WATER_MARK })) {
    if (!converter.write(chunk as Buffer)) break;
  }
  const r = converter.end();
  return { bytes: r.bytes, itemsWritten: r.itemsWritten, outputBytes, error: r.error?.message ?? null };
}

async function runFxp(file: string): Promise<Omit<ChildResult, 'parser' | 'seconds' | 'maxRss'>> {
  const { convertWholeDocument } = await import('./fxp-convert.js');
  const xml = await readFile(file, 'utf8');
  const r = convertWholeDocument(xml);
  const outputBytes = Buffer.byteLength(r.json);
  return { bytes: Buffer.byteLength(xml), itemsWritten: r.written, outputBytes, error: null };
}

const RUNNERS = { ours: runOurs, saxes: runSaxes, fxp: runFxp } as const;

async function main(): Promise<void> {
  const [parser, file] = process.argv.slice(2);
  const runner = RUNNERS[parser as keyof typeof RUNNERS];
  if (!runner || !file) throw new Error('usage: convert-child <ours|saxes|fxp> <file>');
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const start = performance.now();
  let outcome: Omit<ChildResult, 'parser' | 'seconds' | 'maxRss'>;
  try {
    outcome = await runner(file);
  } catch (err) {
    outcome = {
      bytes: 0,
      itemsWritten: 0,
      outputBytes: 0,
      error: err instanceof Error ? err.message : String(err),
    };
  }
  const seconds = (performance.now() - start) / 1000;
  const result: ChildResult = { parser, seconds, maxRss: process.resourceUsage().maxRSS * 1024, ...outcome };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
