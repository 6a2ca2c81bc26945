/**
 * Preloaded into a benchmarked process (`node --import <this file> …`): at exit, writes the process'
 * peak RSS and CPU time as JSON to the file named by BENCH_PEAK_RSS_FILE. This measures a command as it
 * is (the CLI) without changing it: Node cannot read a child's rusage, and polling /proc misses peaks.
 */
import { writeFileSync } from 'node:fs';

export interface PeakFigures {
  /** Peak resident set size of the whole process, in bytes. */
  maxRss: number;
  /** CPU time (user + system), in seconds. */
  cpuSeconds: number;
}

const target = process.env.BENCH_PEAK_RSS_FILE;
if (target) {
  process.once('exit', () => {
    const u = process.resourceUsage();
    const figures: PeakFigures = {
      maxRss: u.maxRSS * 1024,
      cpuSeconds: (u.userCPUTime + u.systemCPUTime) / 1e6,
    };
    writeFileSync(target, JSON.stringify(figures));
  });
}
