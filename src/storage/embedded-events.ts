/**
 * The embedded default's event pipeline: s3rver's object events → an embedded SQS queue (fauxqs), in
 * the real AWS notification format, so the service consumes them through the same SQS source as in
 * production (nothing downstream knows it is not AWS). Plays the part of the bucket's notification
 * configuration: only the source bucket's events are sent.
 *
 * s3rver emits `event` on the server object with `{ Records: [...] }` after an object is stored, but
 * unlike S3 it does not URL-encode keys, omits the ETag of copies, and calls a completed multipart
 * upload `ObjectCreated:Post`. We encode keys like AWS (`encodeURIComponent`, then `%20` → `+`) and fill a
 * missing ETag from s3rver's metadata.
 */
import type { EventEmitter } from 'node:events';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { Logger } from '../log.js';
import { encodeEventKey, normalizeEtag } from '../s3-format.js';
import { EMBEDDED_SQS_CREDENTIALS, EMBEDDED_SQS_REGION, startEmbeddedSqs } from './embedded-sqs.js';

export const EMBEDDED_QUEUE_NAME = 'file-transformer-events';

/** The parts of an s3rver instance used here (its filesystem store answers metadata lookups). */
interface S3rverLike extends EventEmitter {
  store?: { getMetadata?(bucket: string, key: string): Promise<Record<string, unknown>> };
}

export interface EmbeddedEventsOptions {
  /** The running s3rver (`EmbeddedS3.server`). */
  s3: EventEmitter;
  /** Only this bucket's events are forwarded, like a bucket notification configuration. */
  bucket: string;
  /** Port of the embedded SQS server (EMBEDDED_SQS_PORT; 0 = any free port). */
  port?: number;
  host?: string;
  queueName?: string;
  logger: Logger;
}

export interface EmbeddedEvents {
  /** SQS endpoint, queue and credentials for the SQS source. */
  endpoint: string;
  queueUrl: string;
  dlqUrl: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Resolves when every event seen so far has been sent to the queue. */
  flush(): Promise<void>;
  /** Stops forwarding, waits for sends in progress, stops the SQS server. */
  stop(): Promise<void>;
}

interface S3rverRecord {
  eventName?: string;
  s3?: { bucket?: { name?: string }; object?: { key?: string; eTag?: string; size?: number } };
  [field: string]: unknown;
}

export async function startEmbeddedEvents(options: EmbeddedEventsOptions): Promise<EmbeddedEvents> {
  const log = options.logger.child({ component: 'embedded-events' });
  const sqs = await startEmbeddedSqs({ host: options.host, port: options.port });
  const { queueUrl, dlqUrl } = await sqs.createQueue(options.queueName ?? EMBEDDED_QUEUE_NAME);
  const s3 = options.s3 as S3rverLike;
  const pending = new Set<Promise<void>>();

  async function toAwsRecord(record: S3rverRecord): Promise<S3rverRecord> {
    const bucket = record.s3?.bucket?.name ?? '';
    const object = record.s3?.object ?? {};
    const key = object.key ?? '';
    let eTag = object.eTag;
    if (!eTag && record.eventName?.startsWith('ObjectCreated:') && s3.store?.getMetadata) {
      // Copies: s3rver leaves the ETag out of the event; its metadata has it (quoted).
      const metadata = await s3.store.getMetadata(bucket, key);
      eTag = typeof metadata.etag === 'string' ? normalizeEtag(metadata.etag) : undefined;
    }
    return { ...record, s3: { ...record.s3, object: { ...object, key: encodeEventKey(key), eTag } } };
  }

  async function forward(event: { Records?: S3rverRecord[] }): Promise<void> {
    const records = (event.Records ?? []).filter((r) => r.s3?.bucket?.name === options.bucket);
    if (records.length === 0) return;
    try {
      const body = JSON.stringify({ Records: await Promise.all(records.map(toAwsRecord)) });
      await sqs.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    } catch (err) {
      // The scan is the safety net: a lost event only delays that file to the next scan.
      log.warn({ err, keys: records.map((r) => r.s3?.object?.key) }, 'could not forward an s3rver event');
    }
  }

  const onEvent = (event: { Records?: S3rverRecord[] }) => {
    const sending = forward(event);
    pending.add(sending);
    void sending.finally(() => pending.delete(sending));
  };
  s3.on('event', onEvent);
  log.info({ endpoint: sqs.endpoint, queueUrl, bucket: options.bucket }, 'embedded event queue started');

  const flush = async () => {
    while (pending.size > 0) await Promise.allSettled([...pending]);
  };
  return {
    endpoint: sqs.endpoint,
    queueUrl,
    dlqUrl,
    region: EMBEDDED_SQS_REGION,
    credentials: { ...EMBEDDED_SQS_CREDENTIALS },
    flush,
    async stop() {
      s3.off('event', onEvent);
      await flush();
      await sqs.close();
    },
  };
}
