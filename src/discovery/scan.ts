import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config/types.js';
import type { Ledger, ObjectVersion, ScanProgress } from '../ledger/types.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { createKeyFilter } from './types.js';

export interface ScanDeps {
  s3: S3Client;
  ledger: Ledger;
  config: Pick<Config, 'sourceBucket' | 'sourcePrefix' | 'sourceSuffixes'>;
  metrics: Metrics;
  logger: Logger;
  /** Called after a page recorded new versions, so workers start while the listing goes on. */
  onRecorded?: (count: number) => void;
  signal?: AbortSignal;
}

/**
 * Lists the source bucket (ListObjectsV2, 1000 keys a page, under SOURCE_PREFIX), keeps the keys that
 * match the suffixes, and records each page's versions in one ledger transaction. Recording is
 * idempotent, so overlapping scans (or a scan racing an event) are harmless. Progress is written to
 * the scan's row after every page.
 */
export async function scanSourceBucket(deps: ScanDeps, scanId: number): Promise<ScanProgress> {
  const { s3, ledger, config, metrics, logger, signal } = deps;
  const matches = createKeyFilter(config);
  const progress: ScanProgress = { listed: 0, matched: 0, recorded: 0 };
  const timer = metrics.scanSeconds.startTimer();
  let token: string | undefined;
  try {
    do {
      signal?.throwIfAborted();
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: config.sourceBucket,
          Prefix: config.sourcePrefix || undefined,
          ContinuationToken: token,
          MaxKeys: 1000,
        }),
        { abortSignal: signal },
      );
      const contents = page.Contents ?? [];
      const versions: ObjectVersion[] = [];
      for (const o of contents) {
        if (o.Key === undefined || o.ETag === undefined || !matches(o.Key)) continue;
        versions.push({
          bucket: config.sourceBucket,
          key: o.Key,
          etag: o.ETag,
          size: o.Size ?? null,
          lastModified: o.LastModified ?? null,
        });
      }
      const recorded = await ledger.recordVersions(versions, 'scan');
      progress.listed += contents.length;
      progress.matched += versions.length;
      progress.recorded += recorded;
      metrics.scanObjectsListedTotal.inc(contents.length);
      await ledger.updateScan(scanId, progress);
      if (recorded > 0) deps.onRecorded?.(recorded);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } finally {
    timer();
  }
  logger.info({ scanId, ...progress }, 'scan finished');
  return progress;
}
