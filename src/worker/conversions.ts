/**
 * Where a host's conversions run: on a pool of conversion threads, or on the calling thread.
 */
import type { Logger } from '../log.js';
import { type ConverterFactory, loadConverter } from './converter.js';
import { ConvertThreadPool } from './thread-pool.js';

/** Where a host's conversions run, and how to let go of it. */
export interface Conversions {
  createConverter: ConverterFactory;
  /** Aborts conversions still running and stops the threads. */
  close(): Promise<void>;
}

/**
 * `threads` > 0: a pool of that many conversion threads (thread-pool.ts), so conversions use every
 * core and leave the main thread to I/O and the API. 0: the converter on the calling thread (what a
 * single-file CLI run or a Lambda invocation wants: no threads to start).
 */
export async function startConversions(threads: number, logger?: Logger): Promise<Conversions> {
  if (threads === 0) return { createConverter: await loadConverter(), close: async () => {} };
  const pool = new ConvertThreadPool({ threads, logger });
  return { createConverter: pool.createConverter, close: () => pool.close() };
}
