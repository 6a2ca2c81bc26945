import type { Duplex } from 'node:stream';
import type { ConversionReport, ConvertOptions } from '../convert/types.js';

/**
 * The converter's factory (src/convert/index.ts): XML bytes in, compact JSON bytes out, a report, and
 * where the converter runs in this thread, a way to hand written output chunks back for reuse.
 */
export type ConverterFactory = (options?: ConvertOptions) => {
  stream: Duplex;
  report: Promise<ConversionReport>;
  recycle?: (chunk: Uint8Array) => void;
};

/** Loads the converter lazily, so the service modules do not pull it in before they need it. */
export async function loadConverter(): Promise<ConverterFactory> {
  const { createConverter } = await import('../convert/index.js');
  return createConverter;
}
