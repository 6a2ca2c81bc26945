import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import S3rver from 's3rver';
import { DUMMY_ACCOUNT } from 's3rver/lib/models/account.js';
import { installS3rverDesShim } from './s3rver-shim.js';

/** s3rver checks only the access key id; these are its public defaults, safe to log. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface EmbeddedS3Options {
  /** Where s3rver keeps buckets and objects (created if missing). */
  directory: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  buckets: string[];
  /** A key pair s3rver accepts in addition to its default S3RVER/S3RVER. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface EmbeddedS3 {
  /** e.g. `http://127.0.0.1:4566`, for the S3 client's `endpoint`. */
  endpoint: string;
  port: number;
  /**
   * The s3rver instance: an EventEmitter that emits `event` with an S3 notification
   * (`{ Records: [...] }`) for every object created or deleted (the embedded event source listens).
   */
  server: S3rver;
  close(): Promise<void>;
}

/** Starts a real s3rver (files on disk) with the given buckets; used by the embedded default and tests. */
export async function startEmbeddedS3(options: EmbeddedS3Options): Promise<EmbeddedS3> {
  installS3rverDesShim();
  if (options.credentials) {
    DUMMY_ACCOUNT.createKeyPair(options.credentials.accessKeyId, options.credentials.secretAccessKey);
  }
  await mkdir(options.directory, { recursive: true });
  const host = options.host ?? '127.0.0.1';
  // s3rver does not report listen errors (the http server's `error` goes unhandled and kills the
  // process), so a busy port is detected here first and rejected with EADDRINUSE.
  if (options.port) await assertPortFree(host, options.port);
  const server = new S3rver({
    address: host,
    port: options.port ?? 0,
    directory: options.directory,
    silent: true,
    // Path-style only: virtual-host matching would treat `127.0.0.1` oddly and we never need it.
    vhostBuckets: false,
    configureBuckets: options.buckets.map((name) => ({ name })),
  });
  const address = await server.run();
  const endpoint = `http://${host}:${address.port}`;
  let closed = false;
  return {
    endpoint,
    port: address.port,
    server,
    async close() {
      if (closed) return;
      closed = true;
      const http = server.httpServer;
      const done = server.close();
      // Keep-alive sockets from SDK clients would hold close() open; drop them.
      http?.closeAllConnections();
      await done;
    },
  };
}

function assertPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}
