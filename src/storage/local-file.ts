/**
 * Local files read and written in big chunks for the converter: by the single-file CLI, by the batch
 * CLI on the main thread, and by a conversion thread (src/worker/convert-file.ts).
 *
 * Reads go into two buffers used in turn, where `fs.createReadStream` allocates a fresh one per read:
 * on a 100 MB catalogue that is 100 MB less fresh memory for the kernel to fault in and clear, and for
 * V8 to count as external memory (reading alone, 1 MiB reads: ~35 ms less CPU per 100 MB). The next
 * read runs on libuv's I/O threads while the caller converts the chunk before it, and so do the writes.
 *
 * Small files go the other way, with blocking calls: a conversion thread has nothing else to do while
 * it waits, and every asynchronous call is a round trip through libuv's small shared pool (on a backlog
 * of 250 KB files those round trips left a thread idle ~40% of the time). A file becomes "big" where
 * the overlap pays for the round trips: a few reads.
 */
import { closeSync, fstatSync, openSync, read, readSync, write, writeSync, writev } from 'node:fs';
import type { Writable } from 'node:stream';

/** 1 MiB reads: large enough that per-read costs vanish, small enough to stay cache-friendly. */
export const READ_SIZE = 1024 * 1024;
/** The smallest read buffer (a small file gets a buffer of its own size, not a whole MiB). */
const MIN_READ_BYTES = 64 * 1024;
/** Writes queued past this (bytes) ask the producer to wait (`OutputFile.write` returns false). */
const WRITE_QUEUE_BYTES = 4 * READ_SIZE;

export interface LocalFileOptions {
  /**
   * Files of at most this many bytes are read (and their output written) with blocking calls; larger
   * ones keep the next read and the writes in flight on libuv's threads. Default 0: always in flight.
   */
  blockingUpTo?: number;
}

/**
 * A file read chunk by chunk. Each chunk is a view of one of the reader's buffers and stays valid
 * until the call to `next` after the one that returned it: then the reader reads into it again.
 */
export class FileChunks {
  readonly size: number;
  /** Whether reads block (a small file, see LocalFileOptions.blockingUpTo). */
  readonly blocking: boolean;
  private readonly fd: number;
  private readonly buffers: Buffer[];
  private turn = 0;
  /** The read into `buffers[turn]` already in flight, if any. */
  private ahead: Promise<number> | null = null;
  private closed = false;

  /** Opens `path` (blocking: an open is one short call). Throws the system error (ENOENT, ...). */
  constructor(path: string, options: LocalFileOptions = {}) {
    this.fd = openSync(path, 'r');
    try {
      this.size = fstatSync(this.fd).size;
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
    this.blocking = this.size <= (options.blockingUpTo ?? 0);
    const bytes = Math.max(MIN_READ_BYTES, Math.min(this.size, READ_SIZE));
    this.buffers = this.blocking
      ? [Buffer.allocUnsafe(bytes)]
      : [Buffer.allocUnsafe(bytes), Buffer.allocUnsafe(bytes)];
  }

  /** The next chunk, or null at the end of the file. Rejects with the system error of a failed read. */
  async next(): Promise<Buffer | null> {
    if (this.closed) throw new Error('the file was closed');
    if (this.blocking) {
      const buffer = this.buffers[0]!;
      const n = readSync(this.fd, buffer, 0, buffer.length, null);
      return n === 0 ? null : buffer.subarray(0, n);
    }
    const buffer = this.buffers[this.turn]!;
    const reading = this.ahead ?? this.readInto(buffer);
    this.ahead = null;
    const n = await reading;
    if (n === 0) return null;
    // The other buffer held the chunk before this one, which the caller is done with by now.
    this.turn ^= 1;
    this.ahead = this.readInto(this.buffers[this.turn]!);
    return buffer.subarray(0, n);
  }

  /** Closes the file once any read in flight has finished. Never rejects for that read's error. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ahead?.catch(() => undefined);
    this.ahead = null;
    closeSync(this.fd);
  }

  private readInto(buffer: Buffer): Promise<number> {
    const reading = new Promise<number>((resolve, reject) => {
      read(this.fd, buffer, 0, buffer.length, null, (err, n) => (err ? reject(err) : resolve(n)));
    });
    // Not an unhandled rejection when the caller stops before asking for it: close() waits for it.
    reading.catch(() => undefined);
    return reading;
  }
}

/**
 * A file written chunk by chunk, in order: with blocking calls, or queued and written on libuv's
 * threads (one write in flight, what queued meanwhile gathered into the next). The file takes the
 * chunks as they are: the caller must not change a chunk after handing it over.
 */
export class OutputFile {
  private readonly fd: number;
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private writing: Promise<void> | null = null;
  private failure: NodeJS.ErrnoException | null = null;
  private waiters: (() => void)[] = [];
  private closed = false;

  /**
   * Creates or truncates `path`. Throws the system error (ENOENT, EACCES, ...). `written` hears of
   * each chunk once it is in the file and the writer holds it no more (its memory may be reused).
   */
  constructor(
    path: string,
    private readonly blocking: boolean,
    private readonly written: (chunk: Buffer) => void = () => {},
  ) {
    this.fd = openSync(path, 'w');
  }

  /** The first write error, if any: later writes are dropped. */
  get error(): NodeJS.ErrnoException | null {
    return this.failure;
  }

  /**
   * Writes `chunk` (blocking) or queues it. Returns false when the queue is full: the caller should
   * wait for `drained()` before writing more. Throws a blocking write's error.
   */
  write(chunk: Buffer): boolean {
    if (this.failure || chunk.length === 0) return true;
    if (this.blocking) {
      try {
        for (let at = 0; at < chunk.length; ) at += writeSync(this.fd, chunk, at);
      } catch (err) {
        this.failure = err as NodeJS.ErrnoException;
        throw err;
      }
      this.written(chunk);
      return true;
    }
    this.queued.push(chunk);
    this.queuedBytes += chunk.length;
    this.writing ??= this.drain();
    return this.queuedBytes < WRITE_QUEUE_BYTES;
  }

  /** Resolves once the queue is below its bound again (at once when it is). */
  drained(): Promise<void> {
    if (this.queuedBytes < WRITE_QUEUE_BYTES || this.failure) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Writes what is queued and closes the file. Rejects with the first write or close error. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writing;
    try {
      closeSync(this.fd);
    } catch (err) {
      this.failure ??= err as NodeJS.ErrnoException;
    }
    if (this.failure) throw this.failure;
  }

  private async drain(): Promise<void> {
    while (this.queued.length > 0 && !this.failure) {
      const chunks = this.queued;
      this.queued = [];
      try {
        await writeAll(this.fd, chunks);
        for (const c of chunks) this.written(c);
      } catch (err) {
        this.failure = err as NodeJS.ErrnoException;
      }
      for (const c of chunks) this.queuedBytes -= c.length;
      if (this.queuedBytes < WRITE_QUEUE_BYTES || this.failure) {
        for (const wake of this.waiters.splice(0)) wake();
      }
    }
    this.queued = [];
    this.queuedBytes = 0;
    this.writing = null;
  }
}

/** Writes every byte of `chunks` at the file's position (a short write is continued). */
async function writeAll(fd: number, chunks: Buffer[]): Promise<void> {
  let rest = chunks;
  while (rest.length > 0) {
    const n =
      rest.length === 1
        ? await new Promise<number>((resolve, reject) =>
            write(fd, rest[0]!, (err, written) => (err ? reject(err) : resolve(written))),
          )
        : await new Promise<number>((resolve, reject) =>
            writev(fd, rest, (err, written) => (err ? reject(err) : resolve(written))),
          );
    rest = afterBytes(rest, n);
  }
}

/** What is left of `chunks` after its first `n` bytes. */
function afterBytes(chunks: Buffer[], n: number): Buffer[] {
  let skip = n;
  let i = 0;
  while (i < chunks.length && skip >= chunks[i]!.length) skip -= chunks[i++]!.length;
  if (i === chunks.length) return [];
  return skip === 0 ? chunks.slice(i) : [chunks[i]!.subarray(skip), ...chunks.slice(i + 1)];
}

/**
 * Resolves once the sink has processed `chunk`. Also settles when the sink closes first: a Transform
 * destroyed while it holds back a write's callback (its output side full) never calls it.
 */
export function written(sink: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const closed = (): void => reject(sink.errored ?? new Error('the output stream closed early'));
    sink.once('close', closed);
    sink.write(chunk, (err) => {
      sink.off('close', closed);
      if (err) reject(err);
      else resolve();
    });
  });
}
