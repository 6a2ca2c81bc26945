/**
 * `npm run bench:convert`: throughput and peak memory of the converter against two baselines, on
 * deterministic generated catalogues of 10 MB, 100 MB and 1 GB (kept in .bench/ and reused).
 *
 * - ours:  src/convert (createConverter), streaming, file read with 1 MiB reads, output discarded;
 * - saxes: saxes + the FORMAT.md mapping (test/support/reference-converter.ts), streaming likewise;
 * - fxp:   fast-xml-parser on the whole document + mapping (skipped when the file cannot be one string).
 *
 * Each run is a separate child process (bench/support/convert-child.ts), so the peak RSS is that run's.
 * Env: BENCH_SIZES=10,100 (MB, default 10,100,1000); BENCH_PARSERS=ours,saxes; BENCH_REPEAT=n runs per cell (default 3 up to
 * 100 MB, 1 above), best time reported; BENCH_VERIFY=1 also compares the outputs' sha256 (costs time).
 * MB = 10^6 bytes throughout.
 */
import { execFile } from 'node:child_process';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeLargeCatalogue } from '../test/support/catalogue.js';
import type { ChildResult } from './support/convert-child.js';

const run = promisify(execFile);
const MB = 1_000_000;
const here = dirname(fileURLToPath(import.meta.url));
const childScript = join(here, 'support', 'convert-child.js');
const benchDir = resolve('.bench');
/** V8 strings hold at most ~512 MiB: a larger document cannot even be read whole. */
const WHOLE_DOCUMENT_LIMIT = 500 * MB;
const GENERATOR_VERSION = 1;

async function catalogueFile(sizeMb: number): Promise<string> {
  const file = join(benchDir, `catalogue-${sizeMb}MB-v${GENERATOR_VERSION}.xml`);
  const present = await stat(file).catch(() => null);
  if (present && present.size >= sizeMb * MB) return file;
  await mkdir(benchDir, { recursive: true });
  process.stdout.write(`generating ${file} ... `);
  const started = performance.now();
  const { items, bytes } = await writeLargeCatalogue(file, sizeMb * MB, sizeMb);
  process.stdout.write(
    `${items} items, ${bytes} bytes in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
  return file;
}

async function runChild(parser: string, file: string): Promise<ChildResult> {
  const heap = parser === 'fxp' ? ['--max-old-space-size=16384'] : [];
  const { stdout } = await run(process.execPath, ['--expose-gc', ...heap, childScript, parser, file], {
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as ChildResult;
}

interface Row {
  parser: string;
  size: string;
  seconds: string;
  mbPerSecond: string;
  peakRssMb: string;
  note: string;
}

async function main(): Promise<void> {
  const sizes = (process.env.BENCH_SIZES ?? '10,100,1000').split(',').map((s) => Number(s.trim()));
  const parsers = (process.env.BENCH_PARSERS ?? 'ours,saxes,fxp').split(',').map((s) => s.trim());
  const rows: Row[] = [];
  for (const sizeMb of sizes) {
    const file = await catalogueFile(sizeMb);
    const { size } = await stat(file);
    const repeat = Number(process.env.BENCH_REPEAT ?? (sizeMb <= 100 ? 3 : 1));
    const outputs = new Map<string, string>();
    for (const parser of parsers) {
      const label = sizeMb >= 1000 ? `${sizeMb / 1000} GB` : `${sizeMb} MB`;
      if (parser === 'fxp' && size > WHOLE_DOCUMENT_LIMIT) {
        rows.push({
          parser,
          size: label,
          seconds: '-',
          mbPerSecond: '-',
          peakRssMb: '-',
          note: 'skipped (needs whole file in memory)',
        });
        continue;
      }
      let best: ChildResult | null = null;
      let peak = 0;
      for (let i = 0; i < repeat; i++) {
        const r = await runChild(parser, file);
        if (r.error !== null) throw new Error(`${parser} failed on ${file}: ${r.error}`);
        peak = Math.max(peak, r.maxRss);
        if (best === null || r.seconds < best.seconds) best = r;
      }
      const hash = best!.outputSha256 ? `, sha256 ${best!.outputSha256.slice(0, 16)}…` : '';
      outputs.set(parser, `${best!.itemsWritten} items, ${best!.outputBytes} bytes of JSON${hash}`);
      const row: Row = {
        parser,
        size: label,
        seconds: best!.seconds.toFixed(2),
        mbPerSecond: (size / MB / best!.seconds).toFixed(1),
        peakRssMb: (peak / MB).toFixed(0),
        note: repeat > 1 ? `best of ${repeat}` : '',
      };
      rows.push(row);
      process.stdout.write(
        `${row.parser.padEnd(6)} ${row.size.padStart(7)}  ${row.seconds.padStart(7)} s  ${row.mbPerSecond.padStart(7)} MB/s  ${row.peakRssMb.padStart(5)} MB RSS\n`,
      );
    }
    if (new Set(outputs.values()).size > 1) {
      process.stdout.write(
        `WARNING: parsers disagree on ${file}: ${JSON.stringify(Object.fromEntries(outputs))}\n`,
      );
    } else {
      process.stdout.write(`all parsers agree: ${[...outputs.values()][0]}\n`);
    }
  }
  process.stdout.write(
    '\n| parser | size | seconds | MB/s | peak RSS MB | note |\n| --- | --- | ---: | ---: | ---: | --- |\n',
  );
  for (const r of rows) {
    process.stdout.write(
      `| ${r.parser} | ${r.size} | ${r.seconds} | ${r.mbPerSecond} | ${r.peakRssMb} | ${r.note} |\n`,
    );
  }
}

await main();
