import type { Duplex } from 'node:stream';
import type { ConversionReport, ConvertOptions } from '../convert/types.js';
import type { Logger } from '../log.js';

/** The converter's factory (src/convert/index.ts): XML bytes in, compact JSON bytes out, a report. */
export type ConverterFactory = (options?: ConvertOptions) => {
  stream: Duplex;
  report: Promise<ConversionReport>;
};

/** Loads the converter lazily, so the service modules do not pull it in before they need it. */
export async function loadConverter(): Promise<ConverterFactory> {
  const { createConverter } = await import('../convert/index.js');
  return createConverter;
}

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
  const { ConvertThreadPool } = await import('./thread-pool.js');
  const pool = new ConvertThreadPool({ threads, logger });
  return { createConverter: pool.createConverter, close: () => pool.close() };
}
