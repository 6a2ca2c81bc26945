/**
 * One local file converted into another, read and written by whoever runs the conversion: a
 * conversion thread (thread-pool.ts `convertFile`) or, with no threads, the main thread. On a thread
 * the file's bytes never cross threads: only the job, the progress counts and the report do, which is
 * what makes a batch of local files (the backfill CLI) cost no more CPU on threads than on one.
 */

import { once } from 'node:events';
import { type Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { ConversionReport, ConvertOptions } from '../convert/types.js';
import { ConversionError } from '../errors.js';
import { FileChunks, OutputFile, READ_SIZE, written } from '../storage/local-file.js';
import type { ConverterFactory } from './converter.js';

/**
 * Files up to this size are read and written with blocking calls: a few reads, where the round trips
 * of asynchronous calls cost more than the overlap gains (a backlog of small files).
 */
const BLOCKING_UP_TO = 4 * READ_SIZE;

export interface FileJob {
  /** The file to convert (plain or gzip). */
  input: string;
  /** Where the JSON goes: created or truncated; the caller renames or removes it afterwards. */
  output: string;
  options: ConvertOptions;
}

/** Why the bytes stopped: reading the input or writing the output failed. */
export interface FileIoError {
  message: string;
  /** The system error code (ENOENT, EACCES, ENOSPC, ...), when there is one. */
  code: string | null;
}

export interface FileResult {
  /** Always there: with `error` set when the file failed, or was cut short by an I/O error or abort. */
  report: ConversionReport;
  /** Set when reading or writing failed; the report's "aborted" then says less than this. */
  ioError: FileIoError | null;
}

/**
 * Converts `job.input` into `job.output`. `onBytes` hears of the input bytes read as they are read.
 * Never rejects for the file's content or I/O (both are in the result); throws RangeError for invalid
 * options, as the converter does.
 *
 * A small file is read and written with blocking calls (src/storage/local-file.ts says why); a big one
 * keeps the next read and the output's writes in flight on libuv's threads while the converter works,
 * so a thread converting it is never idle waiting for the disk. Memory stays bounded: two read buffers
 * and at most a few MiB of output queued (the converter is paused past that). Between chunks the event
 * loop turns, so an abort (a message to the thread) is heard within one chunk.
 */
export async function convertFile(
  createConverter: ConverterFactory,
  job: FileJob,
  onBytes: (bytes: number) => void,
  signal?: AbortSignal,
): Promise<FileResult> {
  const { stream, report, recycle } = createConverter(job.options);
  let ioError: FileIoError | null = null;
  let input: FileChunks | null = null;
  let output: OutputFile | null = null;
  const closed = once(stream, 'close').catch(() => {});
  stream.on('error', () => {
    // The report carries the converter's verdict.
  });
  const failWrite = (err: unknown): void => {
    ioError ??= asIoError(err);
    stream.destroy();
  };
  stream.on('data', (chunk: Buffer) => {
    if (output === null || ioError) return;
    if (output.error) return failWrite(output.error);
    try {
      if (!output.write(chunk)) {
        stream.pause();
        void output.drained().then(() => stream.resume());
      }
    } catch (err) {
      failWrite(err);
    }
  });
  try {
    input = new FileChunks(job.input, { blockingUpTo: BLOCKING_UP_TO });
    // A chunk written out goes back to the converter, whose next output fills its memory again.
    output = new OutputFile(job.output, input.blocking, recycle);
    for (;;) {
      if (signal?.aborted || stream.destroyed || output.error) {
        if (output.error) ioError ??= asIoError(output.error);
        stream.destroy();
        break;
      }
      const chunk = await input.next();
      if (chunk === null) {
        stream.end();
        break;
      }
      onBytes(chunk.length);
      // The chunk's buffer is read into again only once the converter took it (the write callback).
      // A failed or destroyed converter rejects this: its report says why.
      const taken = await written(stream, chunk).then(
        () => true,
        () => false,
      );
      if (!taken) break;
      // Lets the event loop turn once, so messages to the thread (an abort) are heard.
      await nextTurn();
    }
  } catch (err) {
    ioError ??= asIoError(err);
    stream.destroy();
  }
  // Ended (then closed by autoDestroy) or destroyed: either way 'close' comes once the output is out.
  await closed;
  for (const file of [input, output]) {
    try {
      await file?.close();
    } catch (err) {
      ioError ??= asIoError(err);
    }
  }
  return { report: await report, ioError };
}

/**
 * `convertFile` from a stream of bytes that is not a file (stdin). The output goes through the same
 * writer as `convertFile`'s, so its chunks go back to the converter once written.
 */
export async function convertStream(
  createConverter: ConverterFactory,
  input: Readable,
  output: string,
  options: ConvertOptions,
  onBytes: (bytes: number) => void,
  signal?: AbortSignal,
): Promise<FileResult> {
  const { stream, report, recycle } = createConverter(options);
  // Counted where they are read, not through an extra stream stage (one more hop for every chunk).
  input.on('data', (chunk: Buffer) => onBytes(chunk.length));
  let ioError: FileIoError | null = null;
  try {
    const file = new OutputFile(output, false, recycle);
    await pipeline(input, stream, writableInto(file), signal ? { signal } : {});
  } catch (err) {
    // The converter's own verdict is in its report; an abort is the report's "aborted".
    if (!(err instanceof ConversionError) && !(err instanceof Error && err.name === 'AbortError')) {
      ioError = asIoError(err);
    }
    // The output could not be opened: the converter never started, and only ends when told to.
    stream.destroy();
  }
  return { report: await report, ioError };
}

/** `file` as the end of a pipeline: waits while its queue is full, and closes it at the end. */
function writableInto(file: OutputFile): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (file.error) return callback(file.error);
      if (file.write(chunk)) return callback();
      void file.drained().then(() => callback(file.error));
    },
    final(callback) {
      file.close().then(() => callback(), callback);
    },
    destroy(err, callback) {
      file.close().then(
        () => callback(err),
        () => callback(err),
      );
    },
  });
}

function asIoError(err: unknown): FileIoError {
  const e = err as NodeJS.ErrnoException;
  return { message: e?.message ?? String(err), code: typeof e?.code === 'string' ? e.code : null };
}
