/**
 * s3rver in a process of its own, so a benchmark can measure its CPU apart from the service's:
 * `node s3rver-child.js <directory> <bucket>...` prints one JSON line `{ "endpoint": ... }` once it
 * listens (127.0.0.1, a free port) and serves until SIGTERM. After that it prints one line
 * `{ "completeMs": ... }` per CompleteMultipartUpload it answered: s3rver concatenates and hashes the
 * parts on disk before it answers (S3 takes well under a second), and the service waits for it, so a
 * benchmark can tell that wait apart from the service's own time.
 */
import { startEmbeddedS3 } from '../../src/storage/embedded-s3.js';

const [directory, ...buckets] = process.argv.slice(2);
if (!directory || buckets.length === 0) throw new Error('usage: s3rver-child <directory> <bucket>...');
const s3 = await startEmbeddedS3({ directory, host: '127.0.0.1', port: 0, buckets });
s3.server.httpServer?.on('request', (req, res) => {
  // CompleteMultipartUpload: POST /bucket/key?uploadId=… (CreateMultipartUpload has ?uploads).
  if (req.method !== 'POST' || !/[?&]uploadId=/.test(req.url ?? '')) return;
  const started = performance.now();
  res.once('finish', () => {
    process.stdout.write(`${JSON.stringify({ completeMs: performance.now() - started })}\n`);
  });
});
process.stdout.write(`${JSON.stringify({ endpoint: s3.endpoint })}\n`);
process.once('SIGTERM', () => {
  void s3.close().then(() => process.exit(0));
});
