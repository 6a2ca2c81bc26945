/**
 * Event ingestion as `serve` runs it: one SQS source (the embedded queue fed by the embedded s3rver,
 * or the configured SQS_QUEUE_URL) and the S3 webhook plugin, both recording into the service.
 * `EVENTS=off` turns all of it off (scan only).
 */
import { eventsPlugin } from '../api/events.js';
import type { ApiPlugin } from '../api/server.js';
import type { ReadinessCheck } from '../api/types.js';
import type { Config } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { type EmbeddedEvents, startEmbeddedEvents } from '../storage/embedded-events.js';
import type { EmbeddedS3 } from '../storage/embedded-s3.js';
import type { EventFilter } from './s3-events.js';
import { type SqsConnection, SqsEventSource, type VersionSink } from './sqs.js';

/** What ingestion needs from the service. */
export interface IngestionTarget extends VersionSink {
  readonly metrics: Metrics;
  readonly embeddedS3: EmbeddedS3 | null;
  matchesKey(key: string): boolean;
}

export interface EventIngestion {
  /** API plugins (the S3 webhook). */
  plugins: ApiPlugin[];
  /** The queue's readiness check (empty when there is no queue). */
  readinessChecks: ReadinessCheck[];
  /** The running SQS source, if any. */
  source: SqsEventSource | null;
  /** The embedded queue, in embedded mode. */
  embedded: EmbeddedEvents | null;
  stop(): Promise<void>;
}

export interface IngestionOptions {
  /** Long-poll wait (default 20 s). */
  waitTimeSeconds?: number;
}

export async function startEventIngestion(
  service: IngestionTarget,
  config: Config,
  logger: Logger,
  options: IngestionOptions = {},
): Promise<EventIngestion> {
  if (!config.events) {
    logger.info('event ingestion off (EVENTS=off): the scan alone finds new files');
    return { plugins: [], readinessChecks: [], source: null, embedded: null, async stop() {} };
  }
  const filter: EventFilter = { bucket: config.sourceBucket, matchesKey: (key) => service.matchesKey(key) };

  let embedded: EmbeddedEvents | null = null;
  let connection: SqsConnection | null = null;
  if (config.embedded && service.embeddedS3) {
    embedded = await startEmbeddedEvents({
      s3: service.embeddedS3.server,
      bucket: config.sourceBucket,
      port: config.embeddedSqsPort,
      logger,
    }).catch((err: unknown) => {
      if ((err as { code?: unknown }).code !== 'EADDRINUSE') throw err;
      throw new ConfigError(
        'EMBEDDED_SQS_PORT',
        `port ${config.embeddedSqsPort} is in use; set another port (0 = any free port)`,
      );
    });
    connection = embedded;
  } else if (config.sqsQueueUrl) {
    connection = {
      queueUrl: config.sqsQueueUrl,
      endpoint: config.sqsEndpoint,
      region: config.s3.region,
      credentials: config.s3.credentials,
    };
  } else {
    logger.info('no SQS_QUEUE_URL: events arrive only through the webhook POST /api/events/s3');
  }

  let source: SqsEventSource | null = null;
  try {
    if (connection) {
      source = new SqsEventSource({
        ...connection,
        filter,
        sink: service,
        logger,
        metrics: service.metrics,
        waitTimeSeconds: options.waitTimeSeconds,
      });
      await source.start();
    }
  } catch (err) {
    await source?.stop();
    await embedded?.stop();
    throw explainStartFailure(err, config);
  }

  const readinessChecks = source ? [source.readinessCheck()] : [];
  const plugin = eventsPlugin({
    sink: service,
    filter,
    logger,
    metrics: service.metrics,
    apiToken: config.apiToken,
    readinessChecks,
  });
  return {
    plugins: [plugin],
    readinessChecks,
    source,
    embedded,
    async stop() {
      await source?.stop();
      await embedded?.stop();
    },
  };
}

/** A queue that does not exist or may not be read is a configuration mistake: say which variable. */
function explainStartFailure(err: unknown, config: Config): unknown {
  if (config.embedded || !config.sqsQueueUrl) return err;
  const name = (err as { name?: unknown }).name;
  const message = err instanceof Error ? err.message : String(err);
  if (name === 'QueueDoesNotExist' || name === 'AWS.SimpleQueueService.NonExistentQueue') {
    return new ConfigError('SQS_QUEUE_URL', `the queue does not exist (${message})`);
  }
  if (name === 'AccessDenied' || name === 'AccessDeniedException') {
    return new ConfigError(
      'SQS_QUEUE_URL',
      `the service may not read this queue (${message}); see docs/events.md`,
    );
  }
  return err;
}
