/**
 * One local file converted into another, read and written by whoever runs the conversion: a
 * conversion thread (thread-pool.ts `convertFile`) or, with no threads, the main thread. On a thread
 * the file's bytes never cross threads: only the job, the progress counts and the report do, which is
 * what makes a batch of local files (the backfill CLI) cost no more CPU on threads than on one.
 */

import { once } from 'node:events';
import {
  closeSync,
  createReadStream,
  createWriteStream,
  fstatSync,
  openSync,
  readSync,
  writeSync,
} from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { ConversionReport, ConvertOptions } from '../convert/types.js';
import { ConversionError } from '../errors.js';
import type { ConverterFactory } from './converter.js';

/** Read and write buffers: large enough that per-chunk costs vanish, small enough to stay bounded. */
const IO_CHUNK_BYTES = 1024 * 1024;
/** The smallest read buffer (a small file gets a buffer of its own size, not a whole MiB). */
const MIN_READ_BYTES = 64 * 1024;

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
 */
export function convertFile(
  createConverter: ConverterFactory,
  job: FileJob,
  onBytes: (bytes: number) => void,
  signal?: AbortSignal,
): Promise<FileResult> {
  const input = createReadStream(job.input, { highWaterMark: IO_CHUNK_BYTES });
  return convertStream(createConverter, input, job.output, job.options, onBytes, signal);
}

/** `convertFile` from a stream of bytes that is not a file (stdin). */
export async function convertStream(
  createConverter: ConverterFactory,
  input: Readable,
  output: string,
  options: ConvertOptions,
  onBytes: (bytes: number) => void,
  signal?: AbortSignal,
): Promise<FileResult> {
  const { stream, report } = createConverter(options);
  // Counted where they are read, not through an extra stream stage (one more hop for every chunk).
  input.on('data', (chunk: Buffer) => onBytes(chunk.length));
  let ioError: FileIoError | null = null;
  try {
    await pipeline(
      input,
      stream,
      createWriteStream(output, { highWaterMark: IO_CHUNK_BYTES }),
      signal ? { signal } : {},
    );
  } catch (err) {
    // The converter's own verdict is in its report; an abort is the report's "aborted".
    if (!(err instanceof ConversionError) && !(err instanceof Error && err.name === 'AbortError')) {
      ioError = asIoError(err);
    }
  }
  return { report: await report, ioError };
}

/**
 * `convertFile` for a conversion thread: the same result, but the file is read and written with
 * blocking calls. The thread has nothing else to do while it waits, and each asynchronous call would be
 * a round trip through libuv's small shared pool of I/O threads: on a backlog of small files those
 * round trips (open, read, read, open, write, close, close per file) left a thread idle ~40% of the
 * time. Memory stays bounded: one read buffer of at most IO_CHUNK_BYTES in the converter at a time,
 * and each output chunk written as it comes out. Between chunks the event loop turns, so an abort
 * (a message to the thread) is heard within one chunk.
 */
export async function convertFileBlocking(
  createConverter: ConverterFactory,
  job: FileJob,
  onBytes: (bytes: number) => void,
  signal?: AbortSignal,
): Promise<FileResult> {
  const { stream, report } = createConverter(job.options);
  let ioError: FileIoError | null = null;
  let input: number | null = null;
  let output: number | null = null;
  const closed = once(stream, 'close').catch(() => {});
  stream.on('error', () => {
    // The report carries the converter's verdict.
  });
  stream.on('data', (chunk: Buffer) => {
    if (ioError || output === null) return;
    try {
      for (let at = 0; at < chunk.length; ) at += writeSync(output, chunk, at);
    } catch (err) {
      ioError = asIoError(err);
      stream.destroy();
    }
  });
  try {
    input = openSync(job.input, 'r');
    output = openSync(job.output, 'w');
    let left = fstatSync(input).size;
    for (;;) {
      if (signal?.aborted || stream.destroyed) {
        stream.destroy();
        break;
      }
      const buffer = Buffer.allocUnsafe(Math.max(MIN_READ_BYTES, Math.min(left, IO_CHUNK_BYTES)));
      const n = readSync(input, buffer, 0, buffer.length, null);
      if (n === 0) {
        stream.end();
        break;
      }
      left -= n;
      onBytes(n);
      // Waits until the converter took the chunk (its output written meanwhile), then lets the event
      // loop turn once, so messages to the thread (an abort) are heard.
      if (!stream.write(n === buffer.length ? buffer : buffer.subarray(0, n))) {
        await Promise.race([once(stream, 'drain').catch(() => {}), closed]);
      }
      await nextTurn();
    }
  } catch (err) {
    ioError ??= asIoError(err);
    stream.destroy();
  }
  // Ended (then closed by autoDestroy) or destroyed: either way 'close' comes once the output is out.
  await closed;
  for (const fd of [input, output]) {
    if (fd === null) continue;
    try {
      closeSync(fd);
    } catch (err) {
      ioError ??= asIoError(err);
    }
  }
  return { report: await report, ioError };
}

function asIoError(err: unknown): FileIoError {
  const e = err as NodeJS.ErrnoException;
  return { message: e?.message ?? String(err), code: typeof e?.code === 'string' ? e.code : null };
}
