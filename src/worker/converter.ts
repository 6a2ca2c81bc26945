import type { Duplex } from 'node:stream';
import type { ConversionReport, ConvertOptions } from '../convert/types.js';

/**
 * The converter's factory (src/convert/index.ts, or a pool thread's: src/worker/thread-pool.ts): XML
 * bytes in, compact JSON bytes out, a report, and a way to hand output chunks back for reuse.
 */
export type ConverterFactory = (options?: ConvertOptions) => {
  stream: Duplex;
  report: Promise<ConversionReport>;
  /**
   * Optional to call: the caller is done with an output chunk it read from `stream` (it keeps no view
   * of it and nothing it handed the chunk to reads it any more, e.g. written out or copied), so its
   * memory may carry later output. Calling it for a chunk still in use corrupts that use; a converter
   * may ignore it.
   */
  recycle?: (chunk: Uint8Array) => void;
};

/** Loads the converter lazily, so the service modules do not pull it in before they need it. */
export async function loadConverter(): Promise<ConverterFactory> {
  const { createConverter } = await import('../convert/index.js');
  return createConverter;
}
