/**
 * `npm run fuzz`: the converter's fuzzing campaign (./campaign.ts), bounded and seeded.
 * Env: FUZZ_CASES (default 100,000), FUZZ_SEED (default 1), FUZZ_STALL_SECONDS (default 60: a hang).
 *
 * The campaign runs in a worker thread so that this thread can watch it: a case that never ends (an
 * infinite loop cannot be interrupted from inside) stops the worker after FUZZ_STALL_SECONDS without
 * progress and is reported as a hang. Prints the figures and exits non-zero on any disagreement with
 * saxes, crash, hang, or heap growth over FUZZ_MAX_HEAP_GROWTH_MB (default 16) between the warmed-up
 * point and the end. Failing inputs are written to .fuzz/ to replay.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { packageRoot } from '../src/package-root.js';
import { type CampaignResult, runCampaign } from './campaign.js';

type Message = { done: number } | { result: CampaignResult };

interface Settings {
  seed: number;
  cases: number;
}

async function worker(settings: Settings): Promise<void> {
  const result = await runCampaign({
    ...settings,
    progressEvery: 1000,
    onProgress: (done) => parentPort!.postMessage({ done } satisfies Message),
  });
  parentPort!.postMessage({ result } satisfies Message);
}

function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`${name} must be a number, got ${process.env[name]}`);
  return value;
}

async function main(): Promise<void> {
  const settings: Settings = { seed: envNumber('FUZZ_SEED', 1), cases: envNumber('FUZZ_CASES', 100_000) };
  const stallMs = envNumber('FUZZ_STALL_SECONDS', 60) * 1000;
  const maxGrowth = envNumber('FUZZ_MAX_HEAP_GROWTH_MB', 16) * 1024 * 1024;
  process.stdout.write(
    `fuzzing the converter against saxes: seed ${settings.seed}, ${settings.cases} cases\n`,
  );
  const started = Date.now();
  let lastProgress = Date.now();
  let done = 0;
  const w = new Worker(new URL(import.meta.url), { workerData: settings });
  const outcome = await new Promise<CampaignResult | 'hang' | Error>((resolve) => {
    const watchdog = setInterval(() => {
      if (Date.now() - lastProgress > stallMs) {
        clearInterval(watchdog);
        void w.terminate();
        resolve('hang');
      }
    }, 1000);
    w.on('message', (m: Message) => {
      lastProgress = Date.now();
      if ('done' in m) {
        done = m.done;
        const rate = done / ((Date.now() - started) / 1000);
        process.stdout.write(`  ${done} cases, ${rate.toFixed(0)} cases/s\n`);
      } else {
        clearInterval(watchdog);
        resolve(m.result);
      }
    });
    w.on('error', (err) => {
      clearInterval(watchdog);
      resolve(err);
    });
  });
  if (outcome === 'hang') {
    process.stdout.write(
      `HANG: no progress for ${stallMs / 1000} s after case ${done} (seed ${settings.seed})\n`,
    );
    process.exit(1);
  }
  if (outcome instanceof Error) {
    process.stdout.write(`CRASH: the campaign's thread died: ${outcome.stack ?? outcome.message}\n`);
    process.exit(1);
  }
  const r = outcome;
  const growth = r.heapWarm !== null && r.heapEnd !== null ? r.heapEnd - r.heapWarm : null;
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  const rows: [string, string][] = [
    ['seed', String(r.seed)],
    ['cases', r.cases.toLocaleString('en')],
    ['conversions (ours at every chunking + saxes)', r.conversions.toLocaleString('en')],
    ['input bytes', r.inputBytes.toLocaleString('en')],
    ['verdicts equal to saxes', `${r.agreed.toLocaleString('en')} of ${r.cases.toLocaleString('en')}`],
    [
      'files converted / failed as a whole',
      `${r.converted.toLocaleString('en')} / ${r.failedFiles.toLocaleString('en')}`,
    ],
    ['distinct behaviours seen, corpus size', `${r.behaviours}, ${r.corpusSize}`],
    [
      'crashes, disagreements, hangs',
      `${r.failures.filter((f) => f.kind === 'crash').length}, ${r.failures.filter((f) => f.kind !== 'crash').length}, 0`,
    ],
    [
      'time',
      `${r.seconds.toFixed(0)} s (${(r.cases / r.seconds).toFixed(0)} cases/s), slowest case ${r.slowestCaseMs.toFixed(0)} ms`,
    ],
    [
      'heap after GC: warmed up → end',
      growth === null
        ? 'not measured (run with --expose-gc)'
        : `${mb(r.heapWarm!)} → ${mb(r.heapEnd!)} MB (${growth >= 0 ? '+' : ''}${mb(growth)} MB)`,
    ],
  ];
  process.stdout.write(
    `\n| figure | value |\n| --- | --- |\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}\n`,
  );
  let bad = r.failures.length > 0;
  if (r.failures.length > 0) {
    const dir = join(packageRoot(), '.fuzz');
    await mkdir(dir, { recursive: true });
    for (const f of r.failures) {
      const file = join(dir, `seed${r.seed}-case${f.case}.bin`);
      await writeFile(file, Buffer.from(f.input, 'base64'));
      process.stdout.write(`\n${f.kind.toUpperCase()} at case ${f.case} (input in ${file}):\n${f.detail}\n`);
    }
  }
  if (growth !== null && growth > maxGrowth) {
    process.stdout.write(`\nMEMORY: the heap grew by ${mb(growth)} MB (limit ${mb(maxGrowth)} MB)\n`);
    bad = true;
  }
  process.exit(bad ? 1 : 0);
}

if (isMainThread) await main();
else await worker(workerData as Settings);
