/**
 * Conversion off the main thread: a pool of worker threads, each running the converter on one file at
 * a time (convert-thread.ts). `pool.createConverter` has the converter's own signature (a Duplex of
 * bytes and a report), so whoever converts takes either this or the in-thread converter.
 *
 * - Streaming: bytes move between threads as transferred buffers, at most a few MiB in flight per file
 *   each way (thread-protocol.ts); a slow reader slows the thread, a slow thread slows the writer.
 * - Cancellation: destroying the stream (graceful stop, lost lease, stalled input) aborts the
 *   conversion in its thread; a thread that does not answer within ABORT_GRACE_MS is terminated.
 * - Isolation: a thread that dies (a crash, out of memory) fails only the file it was converting, with
 *   a TransientError so the worker retries it like any transient failure; the next file gets a new thread.
 * - Files beyond the thread count wait (FIFO) for a free thread, their input held by backpressure.
 * - Local files (`convertFile`): the thread reads and writes them itself, so no bytes cross threads.
 */
import { existsSync } from 'node:fs';
import { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { emptyReport } from '../convert/report.js';
import type { ConversionReport, ConvertOptions } from '../convert/types.js';
import { ConversionError, ConverterCrashedError, type TransientError } from '../errors.js';
import type { Logger } from '../log.js';
import type { FileJob, FileResult } from './convert-file.js';
import type { ConverterFactory } from './converter.js';
import {
  BATCH_BYTES,
  ChunkBatcher,
  type FileJobMessage,
  type FromFileThread,
  type FromThread,
  type JobMessage,
  MAX_BATCHES_IN_FLIGHT,
  postTransferring,
  type ThreadData,
  type ToFileThread,
  type ToThread,
} from './thread-protocol.js';

/** A short input batch is sent only while the thread has fewer batches than this to convert. */
const FEED_AHEAD = 2;
/** How long an aborted conversion's thread may take to acknowledge before it is terminated. */
export const ABORT_GRACE_MS = 5000;
/**
 * Heap limit of one conversion thread. The converter needs a few tens of MiB whatever the file (items
 * have a byte limit); this only turns a runaway thread into a failed file instead of a dead process.
 */
const THREAD_HEAP_MB = 512;

export interface ConvertPoolOptions {
  /** Threads at most (started when first needed, kept while the pool lives). */
  threads: number;
  logger?: Logger;
  /**
   * Whether input chunks may be moved to the thread instead of copied when they are whole buffers:
   * only when nothing else reads them (the CLI's own file streams). Default false.
   */
  transferInput?: boolean;
  /** Test-only fault hook (thread-protocol.ts ThreadData.crashOnSource). */
  crashOnSource?: string;
}

/** The compiled thread entry. Under vitest this module runs from src/ (TypeScript): use the build. */
function threadEntry(): URL {
  const own = new URL('./convert-thread.js', import.meta.url);
  if (!import.meta.url.endsWith('.ts')) return own;
  const built = new URL('../../dist/src/worker/convert-thread.js', import.meta.url);
  if (!existsSync(fileURLToPath(built)))
    throw new Error(`${fileURLToPath(built)} missing: run npm run build`);
  return built;
}

const ABORTED = 'conversion aborted before the end of the input';

/**
 * What a thread works on (a stream conversion, or a local file the thread reads and writes itself),
 * and the part both share: waiting in the queue, taking a thread over a port of its own, giving the
 * thread back once settled, and an abort that reaches the thread or, unanswered, terminates it.
 */
abstract class PoolJob<Incoming> {
  protected port: MessagePort | null = null;
  private release: (() => void) | null = null;
  private terminate: (() => void) | null = null;
  private finished = false;
  private abortTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly source: string | null,
    private readonly leaveQueue: () => void,
  ) {}

  get isFinished(): boolean {
    return this.finished;
  }

  /** A thread takes the job: `release` gives the thread back, `terminate` stops it (unresponsive). */
  attach(worker: Worker, release: () => void, terminate: () => void): void {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.release = release;
    this.terminate = terminate;
    port1.on('message', (message: Incoming) => this.receive(message));
    worker.postMessage(this.jobMessage(port2), [port2]);
    this.attached();
  }

  /** The thread died before finishing: no verdict on the file, so the error is a transient one. */
  threadDied(err: TransientError): void {
    if (this.finished) return;
    if (this.abortTimer) {
      // Terminated because it did not answer an abort: the conversion was given up anyway.
      this.settleAborted();
      return;
    }
    this.end();
    this.failed(err);
  }

  /** Gives up on the job (its report says "aborted"). */
  abstract cancel(): void;

  /** What the thread is sent to start the job, talking over `port`. */
  protected abstract jobMessage(port: MessagePort): JobMessage | FileJobMessage;
  /** Just sent to a thread: what waited for one goes now. */
  protected abstract attached(): void;
  protected abstract receive(message: Incoming): void;
  /** Settles the job as aborted (a report saying so). */
  protected abstract settleAborted(): void;
  /** Settles the job with no verdict. */
  protected abstract failed(err: Error): void;

  /** Stop the thread's work; the report says "aborted". */
  protected abort(): void {
    if (this.finished) return;
    if (this.port === null) {
      // Still queued: no thread has seen it.
      this.leaveQueue();
      this.settleAborted();
      return;
    }
    if (this.abortTimer) return;
    this.port.postMessage({ type: 'abort' } satisfies ToThread & ToFileThread);
    // A thread busy in a long synchronous stretch (or stuck) reads the abort late or never: then the
    // thread goes, and the pool's exit handler settles this conversion.
    this.abortTimer = setTimeout(() => this.terminate?.(), ABORT_GRACE_MS);
    this.abortTimer.unref();
  }

  /** Settled one way or another: give the thread back. */
  protected end(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.abortTimer) clearTimeout(this.abortTimer);
    this.port?.close();
    this.release?.();
  }
}

type AnyJob = PoolJob<FromThread> | PoolJob<FromFileThread>;

interface Thread {
  worker: Worker;
  job: AnyJob | null;
}

/** A local file's conversion on a thread (`ConvertThreadPool.convertFile`). */
export interface FileConversionOptions {
  /** Input bytes read, as they are read (in steps of a few MiB, and the rest at the end). */
  onBytes?: (bytes: number) => void;
  /** Aborts the conversion: the result's report then says "aborted". */
  signal?: AbortSignal;
}

export interface PoolStats {
  threads: number;
  busy: number;
  queued: number;
}

/** Batches of bytes that crossed threads on the stream path (fewer, fuller batches cost less CPU). */
export interface PoolTraffic {
  batchesIn: number;
  bytesIn: number;
  /** Fresh batch buffers taken for the input; the thread hands consumed ones back for reuse. */
  buffersIn: number;
  batchesOut: number;
  bytesOut: number;
  /** Fresh batch buffers taken for the output; those the caller recycles go back to the thread. */
  buffersOut: number;
}

export class ConvertThreadPool {
  private readonly threads = new Set<Thread>();
  private readonly queue: AnyJob[] = [];
  private readonly counted: PoolTraffic = {
    batchesIn: 0,
    bytesIn: 0,
    buffersIn: 0,
    batchesOut: 0,
    bytesOut: 0,
    buffersOut: 0,
  };
  private closed = false;
  private readonly entry = threadEntry();

  constructor(private readonly options: ConvertPoolOptions) {
    if (!Number.isSafeInteger(options.threads) || options.threads < 1) {
      throw new RangeError(`threads must be a whole number of at least 1, got ${options.threads}`);
    }
  }

  /** The converter's factory, running each conversion on a pool thread. */
  readonly createConverter: ConverterFactory = (options: ConvertOptions = {}) => {
    if (this.closed) throw new Error('the conversion thread pool is closed');
    const conversion = new Conversion(options, this.options.transferInput ?? false, this.counted, () =>
      this.dequeue(conversion),
    );
    this.queue.push(conversion);
    this.dispatch();
    return {
      stream: conversion.stream,
      report: conversion.report,
      recycle: (chunk: Uint8Array) => conversion.recycleOutput(chunk),
    };
  };

  /**
   * Converts a local file into another on a thread, which reads and writes them itself (no bytes
   * cross threads). Resolves with the report and any I/O error; rejects with a TransientError when
   * the thread died (worth another try), or a RangeError for invalid options.
   */
  convertFile(job: FileJob, options: FileConversionOptions = {}): Promise<FileResult> {
    if (this.closed) return Promise.reject(new Error('the conversion thread pool is closed'));
    const conversion = new FileConversion(job, options, () => this.dequeue(conversion));
    this.queue.push(conversion);
    this.dispatch();
    return conversion.result;
  }

  /** Starts the threads now rather than when the first files arrive (a batch that will use them all). */
  warm(): void {
    while (this.threads.size < this.options.threads && !this.closed) this.spawn();
  }

  /** Since the pool started. */
  traffic(): PoolTraffic {
    return { ...this.counted };
  }

  stats(): PoolStats {
    let busy = 0;
    for (const t of this.threads) if (t.job) busy++;
    return { threads: this.threads.size, busy, queued: this.queue.length };
  }

  /** Aborts what is queued or running and stops every thread. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.cancel();
    await Promise.all([...this.threads].map((t) => t.worker.terminate()));
    this.threads.clear();
  }

  private dequeue(conversion: AnyJob): void {
    const i = this.queue.indexOf(conversion);
    if (i >= 0) this.queue.splice(i, 1);
  }

  private dispatch(): void {
    while (this.queue.length > 0 && !this.closed) {
      let thread = [...this.threads].find((t) => t.job === null);
      if (!thread) {
        if (this.threads.size >= this.options.threads) return;
        thread = this.spawn();
      }
      const conversion = this.queue.shift()!;
      this.run(thread, conversion);
    }
  }

  private spawn(): Thread {
    const data: ThreadData = { crashOnSource: this.options.crashOnSource ?? null };
    const worker = new Worker(this.entry, {
      workerData: data,
      resourceLimits: { maxOldGenerationSizeMb: THREAD_HEAP_MB },
      // The thread's own console output (none expected) goes to ours; stdin is not shared.
      stdout: false,
      stderr: false,
    });
    const thread: Thread = { worker, job: null };
    this.threads.add(thread);
    let failure: Error | null = null;
    worker.on('error', (err) => {
      failure = err;
    });
    worker.on('exit', (code) => {
      this.threads.delete(thread);
      const job = thread.job;
      thread.job = null;
      if (job && !job.isFinished) {
        const why = failure ? failure.message : `exit code ${code}`;
        this.options.logger?.error(
          { err: failure ?? undefined, exitCode: code, source: job.source },
          'conversion thread died; its file will be retried',
        );
        job.threadDied(
          new ConverterCrashedError(`the conversion thread died: ${why}`, { cause: failure ?? undefined }),
        );
      }
      this.dispatch();
    });
    worker.unref();
    return thread;
  }

  private run(thread: Thread, job: AnyJob): void {
    thread.job = job;
    thread.worker.ref();
    job.attach(
      thread.worker,
      () => {
        thread.job = null;
        thread.worker.unref();
        this.dispatch();
      },
      () => void thread.worker.terminate(),
    );
  }
}

/** One local file's conversion as the main thread sees it: the job, its progress and its result. */
class FileConversion extends PoolJob<FromFileThread> {
  readonly result: Promise<FileResult>;
  private settle!: (result: FileResult) => void;
  private reject!: (err: Error) => void;

  constructor(
    private readonly job: FileJob,
    private readonly options: FileConversionOptions,
    leaveQueue: () => void,
  ) {
    super(job.options.source ?? null, leaveQueue);
    this.result = new Promise<FileResult>((resolve, reject) => {
      this.settle = resolve;
      this.reject = reject;
    });
    const { signal } = options;
    if (signal?.aborted) queueMicrotask(() => this.abort());
    else signal?.addEventListener('abort', () => this.abort(), { once: true });
  }

  cancel(): void {
    this.abort();
  }

  protected jobMessage(port: MessagePort): FileJobMessage {
    return { type: 'file', port, job: this.job };
  }

  protected attached(): void {}

  protected receive(message: FromFileThread): void {
    switch (message.type) {
      case 'progress':
        this.options.onBytes?.(message.bytes);
        return;
      case 'finished':
        if (message.bytes > 0) this.options.onBytes?.(message.bytes);
        this.end();
        this.settle(message.result);
        return;
      case 'invalid':
        this.end();
        this.reject(new RangeError(message.message));
        return;
    }
  }

  protected settleAborted(): void {
    this.end();
    this.settle({
      report: { ...emptyReport(this.source), error: { message: ABORTED, line: null } },
      ioError: null,
    });
  }

  protected failed(err: Error): void {
    this.reject(err);
  }
}

/** One file's conversion as the main thread sees it: the stream the caller uses, and its thread's port. */
class Conversion extends PoolJob<FromThread> {
  readonly stream: Duplex;
  readonly report: Promise<ConversionReport>;
  private settle!: (report: ConversionReport) => void;
  private reject!: (err: Error) => void;
  /** Input batches sent and not yet consumed by the converter. */
  private inputInFlight = 0;
  /** Sent batches wait here until a thread is attached. */
  private readonly unsent: Uint8Array[] = [];
  private endRequested = false;
  private writeCallback: ((err?: Error | null) => void) | null = null;
  /** Output batches received but still above the readable high-water mark. */
  private unacknowledged = 0;
  /** Output batch buffers received whole from the thread (what `recycle` may hand back). */
  private readonly lent = new WeakSet<ArrayBuffer>();
  /** Recycled output batch buffers, going back to the thread with the next credits. */
  private readonly returning: ArrayBuffer[] = [];
  private readonly batcher: ChunkBatcher;
  private flushScheduled = false;

  constructor(
    readonly options: ConvertOptions,
    mayTransfer: boolean,
    private readonly traffic: PoolTraffic,
    leaveQueue: () => void,
  ) {
    super(options.source ?? null, leaveQueue);
    this.report = new Promise<ConversionReport>((resolve, reject) => {
      this.settle = resolve;
      this.reject = reject;
    });
    // A caller that gave up on the stream may never look at the report: its rejection is not a crash.
    this.report.catch(() => {});
    this.batcher = new ChunkBatcher(
      (data) => this.sendChunk(data),
      true,
      () => this.traffic.buffersIn++,
    );
    const self = this;
    this.stream = new Duplex({
      readableHighWaterMark: 1024 * 1024,
      write(chunk: Buffer, _encoding, callback) {
        self.batcher.add(chunk, mayTransfer);
        self.flushSoon();
        if (self.inputInFlight < MAX_BATCHES_IN_FLIGHT) callback();
        else self.writeCallback = callback;
      },
      final(callback) {
        self.batcher.flush();
        self.endRequested = true;
        self.post({ type: 'end' });
        callback();
      },
      read() {
        if (self.unacknowledged > 0) {
          self.acknowledge(self.unacknowledged);
          self.unacknowledged = 0;
        }
      },
      destroy(err, callback) {
        self.abort();
        callback(err);
      },
    });
  }

  cancel(): void {
    this.stream.destroy();
  }

  protected jobMessage(port: MessagePort): JobMessage {
    return { type: 'job', port, options: this.options };
  }

  /** What was buffered while queued goes to the thread. */
  protected attached(): void {
    const port = this.port!;
    for (const data of this.unsent.splice(0)) postTransferring(port, { type: 'chunk', data });
    if (this.endRequested) port.postMessage({ type: 'end' } satisfies ToThread);
    if (this.stream.destroyed) this.abort();
  }

  protected failed(err: Error): void {
    this.reject(err);
    this.stream.destroy(err);
  }

  protected settleAborted(): void {
    this.end();
    this.settle({ ...emptyReport(this.source), error: { message: ABORTED, line: null } });
  }

  private post(message: ToThread): void {
    if (this.port) this.port.postMessage(message);
  }

  /**
   * The caller is done with an output chunk (ConverterFactory's `recycle`): a batch buffer of this
   * conversion's goes back to its thread with the next credits instead of the thread taking fresh
   * memory for every MiB of output. Anything else (a chunk the readable side joined from several, one
   * recycled twice, a conversion already over) is left to the garbage collector.
   */
  recycleOutput(chunk: Uint8Array): void {
    const buffer = chunk.buffer as ArrayBuffer;
    if (!this.lent.delete(buffer) || this.isFinished) return;
    // The thread keeps MAX_BATCHES_IN_FLIGHT spares at most: more would only be dropped there.
    if (this.returning.length < MAX_BATCHES_IN_FLIGHT) this.returning.push(buffer);
  }

  /** Gives the thread `count` output credits, with the recycled batch buffers. */
  private acknowledge(count: number): void {
    if (!this.port) return;
    if (this.returning.length === 0) {
      this.port.postMessage({ type: 'consumed', count } satisfies ToThread);
      return;
    }
    const spares = this.returning.splice(0);
    this.port.postMessage({ type: 'consumed', count, spares } satisfies ToThread, spares);
  }

  private sendChunk(data: Uint8Array): void {
    this.inputInFlight++;
    this.traffic.batchesIn++;
    this.traffic.bytesIn += data.byteLength;
    if (this.port) postTransferring(this.port, { type: 'chunk', data });
    else this.unsent.push(data);
  }

  /**
   * Sends a short batch once this turn's input is in, but only while the thread could run dry: a
   * network stream brings 16-64 KiB per turn, and sending each as its own batch (with its own copy,
   * message, wake-up and acknowledgement) cost more CPU than the conversion's own I/O. While the
   * thread has FEED_AHEAD batches to work on, the input gathers into full batches instead.
   */
  private flushSoon(): void {
    if (this.flushScheduled || this.batcher.pending === 0 || this.inputInFlight >= FEED_AHEAD) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (!this.stream.destroyed && this.inputInFlight < FEED_AHEAD) this.batcher.flush();
    });
  }

  protected receive(message: FromThread): void {
    switch (message.type) {
      case 'chunk': {
        const { data } = message;
        this.traffic.batchesOut++;
        this.traffic.bytesOut += data.byteLength;
        if (this.stream.destroyed) return;
        const buffer = data.buffer as ArrayBuffer;
        if (buffer.byteLength === BATCH_BYTES) this.lent.add(buffer);
        if (this.stream.push(Buffer.from(buffer, data.byteOffset, data.byteLength))) {
          this.acknowledge(1);
        } else {
          this.unacknowledged++;
        }
        return;
      }
      case 'consumed': {
        this.inputInFlight -= message.count;
        if (message.spare) this.batcher.recycle(message.spare);
        this.flushSoon();
        const callback = this.writeCallback;
        if (callback && this.inputInFlight < MAX_BATCHES_IN_FLIGHT) {
          this.writeCallback = null;
          callback();
        }
        return;
      }
      case 'finished': {
        const { report } = message;
        this.traffic.buffersOut += message.outputBuffers;
        this.end();
        this.settle(report);
        if (report.error) {
          this.stream.destroy(new ConversionError(report.error.message, report.error.line));
        } else {
          this.stream.push(null);
        }
        return;
      }
      case 'invalid': {
        this.end();
        const err = new RangeError(message.message);
        this.reject(err);
        this.stream.destroy(err);
        return;
      }
    }
  }

  /** Settled one way or another: a writer held back goes on (into a stream that is done). */
  protected override end(): void {
    if (this.isFinished) return;
    super.end();
    this.writeCallback?.();
    this.writeCallback = null;
  }
}
