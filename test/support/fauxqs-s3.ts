import { startFauxqs } from 'fauxqs';

/** fauxqs's S3 emulator on a free port with the given buckets: a second S3 implementation for tests. */
export async function startFauxqsS3(
  buckets: string[] = ['xml-bucket', 'json-bucket'],
): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server = await startFauxqs({ port: 0, logger: false });
  for (const b of buckets) server.createBucket(b);
  return { endpoint: server.address, close: () => server.stop() };
}
