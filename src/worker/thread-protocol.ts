/**
 * What the main thread and a conversion thread say to each other about one file (src/worker/
 * thread-pool.ts and convert-thread.ts). Each conversion has its own MessagePort. Bytes travel as
 * transferred ArrayBuffers (moved, not copied), batched to about BATCH_BYTES per message, and each
 * direction has at most MAX_BATCHES_IN_FLIGHT batches that the other side has not consumed yet: that
 * credit is the backpressure, so a slow consumer stops the producer on the other thread, and the bytes
 * in flight per conversion stay bounded (~2 x 4 x 1 MiB) whatever the file size. Batch buffers go back
 * to the side that filled them once their bytes are consumed (the input's as the converter takes them,
 * the output's as the caller recycles them), so a file does not take fresh memory per MiB each way.
 */
import type { MessagePort } from 'node:worker_threads';
import type { ConversionReport, ConvertOptions } from '../convert/types.js';
import type { FileJob, FileResult } from './convert-file.js';

export const BATCH_BYTES = 1024 * 1024;
export const MAX_BATCHES_IN_FLIGHT = 4;

/** main → thread, on the conversion's port. */
export type ToThread =
  | { type: 'chunk'; data: Uint8Array }
  | { type: 'end' }
  | { type: 'abort' }
  /**
   * The main thread consumed `count` output batches: the thread may send that many more. `spares` are
   * output batch buffers whose bytes the caller no longer needs (see Conversion.recycleOutput),
   * handed back (transferred) for the next batches.
   */
  | { type: 'consumed'; count: number; spares?: ArrayBuffer[] };

/** thread → main, on the conversion's port. */
export type FromThread =
  | { type: 'chunk'; data: Uint8Array }
  /**
   * The converter consumed `count` input batches: the main thread may send that many more. `spare`
   * is the consumed batch's buffer handed back (transferred) for the next batch, so the stream path
   * does not take fresh memory (page faults) for every MiB of input.
   */
  | { type: 'consumed'; count: number; spare?: ArrayBuffer }
  /**
   * The last message: the report (with `error` set when the file failed or the conversion was
   * aborted), and how many fresh output batch buffers the thread took (the rest were recycled ones).
   */
  | { type: 'finished'; report: ConversionReport; outputBuffers: number }
  /** The converter refused its options (a RangeError): no report. */
  | { type: 'invalid'; message: string };

/** main → thread, on the thread's own port: convert one stream of bytes, talking over `port`. */
export interface JobMessage {
  type: 'job';
  port: MessagePort;
  options: ConvertOptions;
}

/**
 * main → thread, on the thread's own port: convert one local file into another, the thread reading
 * and writing them itself (convert-file.ts), so no bytes cross threads; progress and the result come
 * back over `port`, and an `abort` may go to it.
 */
export interface FileJobMessage {
  type: 'file';
  port: MessagePort;
  job: FileJob;
}

/** Input bytes a file job's thread gathers before it tells the main thread (progress, not flow). */
export const PROGRESS_BYTES = 4 * 1024 * 1024;

/** thread → main, on a file job's port. */
export type FromFileThread =
  /** Input bytes read since the last progress message. */
  | { type: 'progress'; bytes: number }
  /** The last message, with the input bytes read since the last progress message. */
  | { type: 'finished'; result: FileResult; bytes: number }
  /** The converter refused its options (a RangeError): no result. */
  | { type: 'invalid'; message: string };

/** main → thread, on a file job's port. */
export type ToFileThread = { type: 'abort' };

/** Given to each thread at start (`workerData`). */
export interface ThreadData {
  /**
   * Test-only fault hook: the thread crashes (an uncaught exception, as a bug in the converter would)
   * on the first chunk of a file whose `source` contains this text. Never set in production.
   */
  crashOnSource: string | null;
}

/** Posts `data` with its buffer transferred; `data` must be the only view of a buffer that is ours. */
export function postTransferring(
  port: { postMessage(message: unknown, transfer: ArrayBuffer[]): void },
  message: { type: 'chunk'; data: Uint8Array },
): void {
  port.postMessage(message, [message.data.buffer as ArrayBuffer]);
}

/** Whether `chunk` covers the whole of an ordinary ArrayBuffer (not a slice of a shared or pooled one). */
export function ownsWholeBuffer(chunk: Uint8Array): boolean {
  return (
    chunk.byteOffset === 0 &&
    chunk.byteLength === chunk.buffer.byteLength &&
    chunk.buffer instanceof ArrayBuffer
  );
}

/**
 * Gathers chunks into batches of `BATCH_BYTES` to send (fewer, larger messages). A chunk is copied
 * unless the caller says it may be given away and it is a whole buffer of at least a quarter batch:
 * then it is sent as it is. A short batch sent by `flush` is copied out, so the batch buffer is kept,
 * unless the batches come back (`recycled`, or since the first buffer came back through `recycle`):
 * then it goes as a view of its batch buffer, which returns.
 */
export class ChunkBatcher {
  private batch: Buffer | null = null;
  private filled = 0;
  /** Batch buffers handed back by the other side, for the next batches. */
  private readonly spares: Buffer[] = [];

  constructor(
    private readonly send: (data: Uint8Array) => void,
    private recycled = false,
    /** Told of each fresh batch buffer (not a recycled one). */
    private readonly onAllocate: () => void = () => {},
  ) {}

  /** A sent batch's buffer, back from the other side (at most MAX_BATCHES_IN_FLIGHT are kept). */
  recycle(buffer: ArrayBuffer): void {
    this.recycled = true;
    if (buffer.byteLength === BATCH_BYTES && this.spares.length < MAX_BATCHES_IN_FLIGHT)
      this.spares.push(Buffer.from(buffer));
  }

  get pending(): number {
    return this.filled;
  }

  add(chunk: Uint8Array, mayTransfer: boolean): void {
    if (mayTransfer && chunk.length >= BATCH_BYTES / 4 && ownsWholeBuffer(chunk)) {
      this.flush();
      this.send(chunk);
      return;
    }
    let offset = 0;
    while (offset < chunk.length) {
      this.batch ??= this.spares.pop() ?? this.allocate();
      const n = Math.min(chunk.length - offset, BATCH_BYTES - this.filled);
      this.batch.set(chunk.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === BATCH_BYTES) this.flush();
    }
  }

  private allocate(): Buffer {
    this.onAllocate();
    return Buffer.allocUnsafeSlow(BATCH_BYTES);
  }

  flush(): void {
    if (this.batch === null || this.filled === 0) return;
    let data: Uint8Array;
    if (this.filled === BATCH_BYTES || this.recycled) {
      data = this.batch.subarray(0, this.filled);
      this.batch = null;
    } else {
      data = new Uint8Array(this.filled);
      data.set(this.batch.subarray(0, this.filled));
    }
    this.filled = 0;
    this.send(data);
  }
}
