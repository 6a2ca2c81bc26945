/**
 * Where a host's conversions run: on a pool of conversion threads, or on the calling thread.
 */
import type { Logger } from '../log.js';
import { convertFile, type FileJob, type FileResult } from './convert-file.js';
import { type ConverterFactory, loadConverter } from './converter.js';
import { ConvertThreadPool, type FileConversionOptions } from './thread-pool.js';

/** Where a host's conversions run, and how to let go of it. */
export interface Conversions {
  createConverter: ConverterFactory;
  /**
   * A local file into another (convert-file.ts), read and written where the conversion runs. Rejects
   * with a TransientError when a conversion thread died, a RangeError for invalid options.
   */
  convertFile(job: FileJob, options?: FileConversionOptions): Promise<FileResult>;
  /** Aborts conversions still running and stops the threads. */
  close(): Promise<void>;
}

export interface ConversionsOptions {
  logger?: Logger;
  /** Start every thread now (a batch that will use them all) instead of when first needed. */
  warm?: boolean;
}

/**
 * `threads` > 0: a pool of that many conversion threads (thread-pool.ts), so conversions use every
 * core and leave the main thread to I/O and the API. 0: the converter on the calling thread (what a
 * single-file CLI run or a Lambda invocation wants: no threads to start).
 */
export async function startConversions(
  threads: number,
  options: ConversionsOptions = {},
): Promise<Conversions> {
  if (threads === 0) {
    const createConverter = await loadConverter();
    return {
      createConverter,
      convertFile: (job, { onBytes, signal } = {}) =>
        convertFile(createConverter, job, onBytes ?? (() => {}), signal),
      close: async () => {},
    };
  }
  const pool = new ConvertThreadPool({ threads, logger: options.logger });
  if (options.warm) pool.warm();
  return {
    createConverter: pool.createConverter,
    convertFile: (job, fileOptions) => pool.convertFile(job, fileOptions),
    close: () => pool.close(),
  };
}
