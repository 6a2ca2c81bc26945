/**
 * Event ingestion as the service runs it: one SQS source (the embedded queue fed by the embedded
 * s3rver, or the configured SQS_QUEUE_URL) and the S3 webhook plugin for the API, both recording
 * into the same sink with the scan's key filter. `EVENTS=off` turns all of it off (scan only).
 */
import { eventsPlugin } from '../api/events.js';
import type { ApiPlugin } from '../api/server.js';
import type { Config } from '../config/types.js';
import type { ReadinessCheck, VersionSink } from '../contracts.js';
import type { EventFilter } from '../discovery/s3-events.js';
import { type SqsConnection, SqsEventSource } from '../discovery/sqs.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { type EmbeddedEvents, startEmbeddedEvents } from '../storage/embedded-events.js';
import type { EmbeddedS3 } from '../storage/embedded-s3.js';
import { explainPortInUse } from './embedded.js';

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

export interface IngestionDeps {
  sink: VersionSink;
  /** The scan's key rule (createKeyFilter), so events and scans accept exactly the same keys. */
  matchesKey: (key: string) => boolean;
  /** The embedded s3rver, whose object events feed the embedded queue; null outside embedded mode. */
  embeddedS3: EmbeddedS3 | null;
  logger: Logger;
  metrics: Metrics;
  /** Long-poll wait (default 20 s). */
  waitTimeSeconds?: number;
}

/** Ingestion that does nothing (EVENTS=off, or a host that does not take events). */
export const NO_EVENTS: EventIngestion = {
  plugins: [],
  readinessChecks: [],
  source: null,
  embedded: null,
  async stop() {},
};

export async function startEventIngestion(config: Config, deps: IngestionDeps): Promise<EventIngestion> {
  const { logger, metrics, sink } = deps;
  if (!config.events) {
    logger.info('event ingestion off (EVENTS=off): the scan alone finds new files');
    return NO_EVENTS;
  }
  const filter: EventFilter = { bucket: config.sourceBucket, matchesKey: deps.matchesKey };

  let embedded: EmbeddedEvents | null = null;
  let connection: SqsConnection | null = null;
  if (config.embedded && deps.embeddedS3) {
    embedded = await startEmbeddedEvents({
      s3: deps.embeddedS3.server,
      bucket: config.sourceBucket,
      port: config.embeddedSqsPort,
      logger,
    }).catch((err: unknown) => {
      throw explainPortInUse(err, 'EMBEDDED_SQS_PORT', config.embeddedSqsPort);
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
        sink,
        logger,
        metrics,
        waitTimeSeconds: deps.waitTimeSeconds,
        ioTimeoutMs: config.ioTimeoutMs,
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
    sink,
    filter,
    logger,
    metrics,
    apiToken: config.apiToken,
    versionsPerSecond: config.webhookVersionsPerSecond,
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
