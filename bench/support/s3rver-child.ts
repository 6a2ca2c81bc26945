/**
 * s3rver in a process of its own, so a benchmark can measure its CPU apart from the service's:
 * `node s3rver-child.js <directory> <bucket>...` prints one JSON line `{ "endpoint": ... }` once it
 * listens (127.0.0.1, a free port) and serves until SIGTERM.
 */
import { startEmbeddedS3 } from '../../src/storage/embedded-s3.js';

const [directory, ...buckets] = process.argv.slice(2);
if (!directory || buckets.length === 0) throw new Error('usage: s3rver-child <directory> <bucket>...');
const s3 = await startEmbeddedS3({ directory, host: '127.0.0.1', port: 0, buckets });
process.stdout.write(`${JSON.stringify({ endpoint: s3.endpoint })}\n`);
process.once('SIGTERM', () => {
  void s3.close().then(() => process.exit(0));
});
