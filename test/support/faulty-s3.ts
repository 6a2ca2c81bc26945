import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/storage/s3-client.js';
import { FaultProxy } from './fault-proxy.js';
import { S3RVER_CREDENTIALS, startS3rver, type TestS3 } from './s3rver.js';

export interface FaultyS3 {
  /** The real s3rver behind the proxy. */
  s3rver: TestS3;
  /** The fault proxy in front of s3rver: point the code under test at `proxy.url`. */
  proxy: FaultProxy;
  /** A client whose requests go through the proxy, so they can be faulted and are logged. */
  throughProxy: S3Client;
  /** A client that talks to s3rver directly: the test's own uploads and reads never fault. */
  direct: S3Client;
  /** Destroys both clients, stops the proxy, then s3rver. */
  close(): Promise<void>;
}

/** A real s3rver with the given buckets, the fault proxy in front of it, and a client on either side. */
export async function startFaultyS3(buckets?: string[]): Promise<FaultyS3> {
  const s3rver = await startS3rver(buckets);
  const proxy = await FaultProxy.start(s3rver.endpoint);
  const client = (endpoint: string) =>
    createS3Client({ region: 'us-east-1', endpoint, credentials: S3RVER_CREDENTIALS });
  const throughProxy = client(proxy.url);
  const direct = client(s3rver.endpoint);
  return {
    s3rver,
    proxy,
    throughProxy,
    direct,
    async close() {
      throughProxy.destroy();
      direct.destroy();
      await proxy.close();
      await s3rver.close();
    },
  };
}
