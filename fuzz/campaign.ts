/**
 * The converter's fuzzing campaign (issue 8): a long, seeded mutation run against the saxes reference.
 * Each case takes a base input (a generated catalogue, or an entry of the mutation corpus), applies 0-4
 * mutations (bytes deleted, duplicated, inserted or replaced, XML tokens inserted, truncation) and
 * sometimes splices in a piece of another corpus entry or gzips the result, then converts it with the
 * converter (whole, at random chunk boundaries, and now and then one byte at a time) and with the
 * reference. Every verdict and output must agree, across chunkings too; an exception out of the
 * converter, or an "internal converter error" verdict, is a crash.
 *
 * The corpus starts from the repository's sample and a few generated catalogues and keeps every mutant
 * that shows a behaviour not seen before (its verdict, the error message's shape, the rejection
 * reasons), so later cases mutate inputs that already reach deeper states: the usual substitute for
 * coverage feedback when no coverage-guided fuzzer runs (`@jazzer.js/core` does not, here).
 * Everything derives from the seed: the same seed and case count replay the same campaign.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { convertChunks } from '../src/convert/index.js';
import type { ConversionReport, ConvertOptions } from '../src/convert/types.js';
import { packageRoot } from '../src/package-root.js';
import { catalogueArb, chunksOf, cutAt, renderCatalogue, styleArb } from '../test/support/catalogue.js';
import {
  at,
  comparable,
  describeInput,
  type Mutation,
  mutate,
  mutationArb,
} from '../test/support/mutations.js';
import { referenceConvertChunks } from '../test/support/reference-converter.js';

export interface CampaignOptions {
  seed: number;
  cases: number;
  /** Called every `progressEvery` cases (and at the end) with the number done. */
  onProgress?: (done: number) => void;
  progressEvery?: number;
  /** Stop at the first failure (the short run in `npm test`); default: collect up to 20. */
  stopAtFirstFailure?: boolean;
}

export interface CampaignFailure {
  case: number;
  kind: 'disagreement' | 'chunking' | 'crash';
  detail: string;
  /** The input, base64 (to replay it). */
  input: string;
}

export interface CampaignResult {
  seed: number;
  cases: number;
  /** Cases whose verdict (converted or failed) and output equal saxes's. */
  agreed: number;
  converted: number;
  failedFiles: number;
  /** Conversions run (ours at every chunking plus the reference). */
  conversions: number;
  inputBytes: number;
  corpusSize: number;
  /** Distinct behaviours seen (see `behaviour`). */
  behaviours: number;
  failures: CampaignFailure[];
  seconds: number;
  slowestCaseMs: number;
  /** Heap in use after a full GC, once warmed up (case 1,000 or 10%) and at the end; null without --expose-gc. */
  heapWarm: number | null;
  heapEnd: number | null;
}

const CORPUS_MAX = 2000;
const BATCH = 500;

const baseArb = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('generated' as const),
      catalogue: catalogueArb({ maxItems: 4 }),
      style: styleArb,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('corpus' as const), pick: fc.nat() }) },
);

const caseArb = fc.record({
  base: baseArb,
  // A third unmutated (the corpus holds mutants already), the rest 1-4 mutations: most single mutations
  // of XML break it, so fewer would leave the converting paths under-fuzzed.
  mutations: fc.oneof(
    { weight: 1, arbitrary: fc.constant<Mutation[]>([]) },
    { weight: 2, arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 4 }) },
  ),
  // One case in five splices in up to 64 bytes of another corpus entry (crossover).
  splice: fc.oneof(
    { weight: 4, arbitrary: fc.constant(null) },
    {
      weight: 1,
      arbitrary: fc.record({ pick: fc.nat(), from: at, length: fc.integer({ min: 1, max: 64 }), into: at }),
    },
  ),
  gzip: fc.integer({ min: 0, max: 19 }).map((n) => n === 0),
  cuts: fc.array(at, { maxLength: 8 }),
  bytewise: fc.integer({ min: 0, max: 49 }).map((n) => n === 0),
});

type CaseValue = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/** The behaviour a result shows, coarsely: verdict, error shape (numbers and quotes blanked), rejection fields. */
function behaviour(r: { report: ConversionReport }): string {
  if (r.report.error) {
    return `failed:${r.report.error.message
      .replace(/[0-9]+/g, '#')
      .replace(/'[^']*'|"[^"]*"|<[^>]*>/g, 'Q')
      .slice(0, 80)}`;
  }
  const fields = [...new Set(r.report.rejections.map((x) => x.field))].sort().join(',');
  return `ok:${r.report.itemsWritten > 0 ? 'items' : 'empty'}:${fields}:${r.report.warningsTotal > 0 ? 'warn' : ''}`;
}

function seedCorpus(): Uint8Array[] {
  const corpus: Uint8Array[] = [readFileSync(join(packageRoot(), 'samples', 'seed-sample.xml'))];
  const samples = fc.sample(fc.tuple(catalogueArb({ maxItems: 6 }), styleArb), { seed: 42, numRuns: 20 });
  for (const [catalogue, style] of samples) corpus.push(renderCatalogue(catalogue, style).bytes);
  return corpus;
}

function buildInput(c: CaseValue, corpus: Uint8Array[]): { bytes: Uint8Array; options: ConvertOptions } {
  let bytes: Uint8Array;
  let options: ConvertOptions = {};
  if (c.base.kind === 'generated') {
    bytes = renderCatalogue(c.base.catalogue, c.base.style).bytes;
    options = { maxImageType: c.base.catalogue.maxImageType };
  } else bytes = corpus[c.base.pick % corpus.length]!;
  bytes = c.mutations.reduce<Uint8Array>((b, m: Mutation) => mutate(b, m), bytes);
  if (c.splice) {
    const donor = corpus[c.splice.pick % corpus.length]!;
    const from = Math.floor(c.splice.from * donor.length);
    const piece = donor.subarray(from, from + c.splice.length);
    const into = Math.floor(c.splice.into * bytes.length);
    bytes = Buffer.concat([bytes.subarray(0, into), piece, bytes.subarray(into)]);
  }
  if (c.gzip) bytes = gzipSync(bytes);
  return { bytes, options };
}

const gc = (globalThis as { gc?: () => void }).gc;
function heapAfterGc(): number | null {
  if (!gc) return null;
  gc();
  return process.memoryUsage().heapUsed;
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  // Nearly every case ends in an error (saxes's, or the converter's verdict), and capturing a stack
  // trace for each was the campaign's largest single cost. Failures are reported by message.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return await campaign(options);
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

async function campaign(options: CampaignOptions): Promise<CampaignResult> {
  const started = performance.now();
  const corpus = seedCorpus();
  const seen = new Set<string>();
  const result: CampaignResult = {
    seed: options.seed,
    cases: 0,
    agreed: 0,
    converted: 0,
    failedFiles: 0,
    conversions: 0,
    inputBytes: 0,
    corpusSize: 0,
    behaviours: 0,
    failures: [],
    seconds: 0,
    slowestCaseMs: 0,
    heapWarm: null,
    heapEnd: null,
  };
  const warmAt = Math.min(1000, Math.floor(options.cases / 10));
  const every = options.progressEvery ?? 1000;
  const maxFailures = options.stopAtFirstFailure ? 1 : 20;
  const fail = (n: number, kind: CampaignFailure['kind'], detail: string, input: Uint8Array) => {
    result.failures.push({ case: n, kind, detail, input: Buffer.from(input).toString('base64') });
  };

  for (let batch = 0; result.cases < options.cases && result.failures.length < maxFailures; batch++) {
    const size = Math.min(BATCH, options.cases - result.cases);
    // One sample per batch, seeded from the campaign's seed: a long run never holds all its cases.
    const cases = fc.sample(caseArb, { seed: (options.seed * 1_000_003 + batch) | 0, numRuns: size });
    for (const c of cases) {
      const n = result.cases++;
      if (n === warmAt) result.heapWarm = heapAfterGc();
      const caseStarted = performance.now();
      const { bytes, options: convertOptions } = buildInput(c, corpus);
      result.inputBytes += bytes.length;
      try {
        const reference = await referenceConvertChunks([bytes], convertOptions);
        const expected = JSON.stringify(comparable(reference));
        const chunkings = [
          [bytes],
          cutAt(
            bytes,
            c.cuts.map((x) => Math.floor(x * bytes.length)),
          ),
        ];
        if (c.bytewise) chunkings.push(chunksOf(bytes, 1));
        let agreed = true;
        let first: string | null = null;
        for (const chunks of chunkings) {
          const ours = await convertChunks(chunks, convertOptions);
          result.conversions++;
          if (ours.report.error?.message.startsWith('internal converter error')) {
            fail(n, 'crash', ours.report.error.message, bytes);
            agreed = false;
            break;
          }
          const got = JSON.stringify(comparable(ours));
          first ??= got;
          if (got !== first) {
            fail(
              n,
              'chunking',
              `chunk sizes ${chunks.slice(0, 8).map((x) => x.length)}: ${got.slice(0, 300)}`,
              bytes,
            );
            agreed = false;
            break;
          }
          if (got !== expected) {
            const ourError = JSON.stringify(ours.report.error);
            const theirs = JSON.stringify(reference.report.error);
            fail(
              n,
              'disagreement',
              `${describeInput(bytes)}\nconverter ${got.slice(0, 300)} ${ourError}\nreference ${expected.slice(0, 300)} ${theirs}`,
              bytes,
            );
            agreed = false;
            break;
          }
          if (chunks === chunkings[0]) {
            const b = behaviour(ours);
            if (!seen.has(b)) {
              seen.add(b);
              if (corpus.length < CORPUS_MAX && !c.gzip) corpus.push(bytes);
            }
          }
        }
        result.conversions++;
        if (agreed) {
          result.agreed++;
          if (reference.report.error === null) result.converted++;
          else result.failedFiles++;
        }
      } catch (err) {
        fail(n, 'crash', err instanceof Error ? (err.stack ?? err.message) : String(err), bytes);
      }
      result.slowestCaseMs = Math.max(result.slowestCaseMs, performance.now() - caseStarted);
      if ((n + 1) % every === 0) options.onProgress?.(n + 1);
      if (result.failures.length >= maxFailures) break;
    }
  }
  result.heapEnd = heapAfterGc();
  result.corpusSize = corpus.length;
  result.behaviours = seen.size;
  result.seconds = (performance.now() - started) / 1000;
  options.onProgress?.(result.cases);
  return result;
}
