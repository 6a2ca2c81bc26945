import type { Readable } from 'node:stream';
import { TransientError } from '../errors.js';

/**
 * Destroys `source` with a TransientError when it delivers no byte for `ms` while its consumer waits
 * for more: a download that stopped moving (a half-dead connection, a store that stopped sending)
 * would otherwise hold its worker, its lease and its conversion thread for ever, since the SDK sets no
 * read timeout. Time spent paused by backpressure (the converter or the upload is the slow side) does
 * not count. Returns a function that stops watching (it also stops when the source closes).
 */
export function watchForStall(source: Readable, ms: number): () => void {
  let last = Date.now();
  const onData = (): void => {
    last = Date.now();
  };
  const timer = setInterval(
    () => {
      if (source.destroyed || source.readableEnded) return stop();
      // Paused by backpressure: not the source's fault; its clock starts again when it resumes.
      if (source.readableFlowing !== true) {
        last = Date.now();
        return;
      }
      if (Date.now() - last < ms) return;
      stop();
      source.destroy(
        new TransientError(`the download stalled: no bytes for ${ms / 1000} s`, { code: 'timeout' }),
      );
    },
    Math.min(1000, Math.max(25, ms / 4)),
  );
  timer.unref();
  const stop = (): void => {
    clearInterval(timer);
    source.off('data', onData);
  };
  source.on('data', onData);
  source.once('close', stop);
  return stop;
}
