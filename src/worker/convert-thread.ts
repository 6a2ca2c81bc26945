/**
 * A conversion thread's entry point (started by src/worker/thread-pool.ts): runs the converter of
 * src/convert/ on one file at a time, either bytes in and out over the file's own MessagePort, or a
 * local file it reads and writes itself (thread-protocol.ts).
 */
import type { MessagePort } from 'node:worker_threads';
import { parentPort, workerData } from 'node:worker_threads';
import { createConverter } from '../convert/index.js';
import { convertFile } from './convert-file.js';
import {
  ChunkBatcher,
  type FileJobMessage,
  type FromFileThread,
  type FromThread,
  type JobMessage,
  MAX_BATCHES_IN_FLIGHT,
  PROGRESS_BYTES,
  postTransferring,
  type ThreadData,
  type ToFileThread,
  type ToThread,
} from './thread-protocol.js';

const { crashOnSource } = workerData as ThreadData;

function convert(port: MessagePort, job: JobMessage): void {
  const post = (message: FromThread): void => port.postMessage(message);
  let converter: ReturnType<typeof createConverter>;
  try {
    converter = createConverter(job.options);
  } catch (err) {
    post({ type: 'invalid', message: err instanceof Error ? err.message : String(err) });
    port.close();
    return;
  }
  const { stream, report, recycle } = converter;
  const crashing = crashes(job.options.source);

  // Output: batched, at most MAX_BATCHES_IN_FLIGHT unconsumed; past that the converter is paused, its
  // readable side fills, and it stops taking input, which stops the main thread's credits. Batch
  // buffers the caller recycled come back with the credits and carry the next batches.
  let outputInFlight = 0;
  let outputBuffers = 0;
  const batcher = new ChunkBatcher(
    (data) => {
      postTransferring(port, { type: 'chunk', data });
      outputInFlight++;
      if (outputInFlight >= MAX_BATCHES_IN_FLIGHT) stream.pause();
    },
    false,
    () => outputBuffers++,
  );
  // A short batch goes out once the converter has nothing more to say in this turn of the event loop.
  let flushScheduled = false;
  const flushSoon = (): void => {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      if (!stream.destroyed || stream.readableEnded) batcher.flush();
    });
  };
  stream.on('data', (chunk: Buffer) => {
    batcher.add(chunk, false);
    // Copied into the batch: the converter's next output may fill this chunk's memory.
    recycle(chunk);
    if (batcher.pending > 0) flushSoon();
  });
  stream.on('error', () => {
    // The report carries the error.
  });
  let finished = false;
  const finish = async (): Promise<void> => {
    if (finished) return;
    finished = true;
    batcher.flush();
    post({ type: 'finished', report: await report, outputBuffers });
    port.close();
  };
  stream.once('end', () => void finish());
  // Failed or aborted: the report says which (never any output after this).
  stream.once('close', () => void finish());

  let dying = false;
  port.on('message', (message: ToThread) => {
    if (dying) return;
    switch (message.type) {
      case 'chunk': {
        if (crashing) {
          // Thrown outside any handler, like a converter bug would be: the thread dies.
          dying = true;
          setImmediate(() => {
            throw new Error(`test-only crash hook: thread converting ${job.options.source} dies`);
          });
          return;
        }
        const data = message.data;
        if (stream.destroyed) return;
        // Once the converter took the batch it holds nothing of it: its buffer goes back for reuse.
        const spare = data.buffer as ArrayBuffer;
        stream.write(Buffer.from(spare, data.byteOffset, data.byteLength), () =>
          port.postMessage({ type: 'consumed', count: 1, spare } satisfies FromThread, [spare]),
        );
        return;
      }
      case 'end':
        if (!stream.destroyed) stream.end();
        return;
      case 'abort':
        stream.destroy();
        return;
      case 'consumed':
        for (const spare of message.spares ?? []) batcher.recycle(spare);
        outputInFlight -= message.count;
        if (outputInFlight < MAX_BATCHES_IN_FLIGHT && stream.isPaused()) stream.resume();
        return;
    }
  });
}

/** Whether the test-only crash hook applies to this file. */
function crashes(source: string | undefined): boolean {
  return crashOnSource !== null && (source ?? '').includes(crashOnSource);
}

async function convertLocalFile(port: MessagePort, { job }: FileJobMessage): Promise<void> {
  const post = (message: FromFileThread): void => port.postMessage(message);
  const aborted = new AbortController();
  port.on('message', (message: ToFileThread) => {
    if (message.type === 'abort') aborted.abort();
  });
  if (crashes(job.options.source)) {
    setImmediate(() => {
      throw new Error(`test-only crash hook: thread converting ${job.options.source} dies`);
    });
    return;
  }
  let unreported = 0;
  const onBytes = (n: number): void => {
    unreported += n;
    if (unreported >= PROGRESS_BYTES) {
      post({ type: 'progress', bytes: unreported });
      unreported = 0;
    }
  };
  try {
    const result = await convertFile(createConverter, job, onBytes, aborted.signal);
    post({ type: 'finished', result, bytes: unreported });
  } catch (err) {
    post({ type: 'invalid', message: err instanceof Error ? err.message : String(err) });
  }
  port.close();
}

parentPort!.on('message', (job: JobMessage | FileJobMessage) => {
  if (job.type === 'file') void convertLocalFile(job.port, job);
  else convert(job.port, job);
});
