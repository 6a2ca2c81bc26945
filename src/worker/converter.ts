import type { Duplex } from 'node:stream';
import type { ConversionReport, ConvertOptions } from '../convert/types.js';

/** The converter's factory (src/convert/index.ts): XML bytes in, compact JSON bytes out, a report. */
export type ConverterFactory = (options?: ConvertOptions) => {
  stream: Duplex;
  report: Promise<ConversionReport>;
};

/** Loads the converter lazily, so the service modules do not pull it in before they need it. */
export async function loadConverter(): Promise<ConverterFactory> {
  // A variable specifier until src/convert/index.ts lands (H1); then this becomes a static import.
  const specifier = '../convert/index.js';
  const mod = (await import(specifier)) as { createConverter: ConverterFactory };
  return mod.createConverter;
}
