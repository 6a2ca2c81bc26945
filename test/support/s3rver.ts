import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EmbeddedS3, S3RVER_CREDENTIALS, startEmbeddedS3 } from '../../src/storage/embedded-s3.js';

export { S3RVER_CREDENTIALS };

export interface TestS3 {
  endpoint: string;
  /** The s3rver instance (emits `event` with S3 notifications). */
  server: EmbeddedS3['server'];
  directory: string;
  close(): Promise<void>;
}

/**
 * A real s3rver on 127.0.0.1, a free port and a fresh temp directory, with the given buckets and the
 * Node 20 DES shim applied. `close()` stops it and removes the directory.
 */
export async function startS3rver(buckets: string[] = ['xml-bucket', 'json-bucket']): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 'ft-s3rver-'));
  const s3 = await startEmbeddedS3({ directory, port: 0, buckets });
  return {
    endpoint: s3.endpoint,
    server: s3.server,
    directory,
    async close() {
      await s3.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
