/**
 * The SQS event source: long-polls a queue of S3 notifications and records the object versions they
 * name in the ledger. It converts nothing itself (docs/architecture.md: discovery only records).
 *
 * Life of a message:
 * 1. received only when there is room (`MaxNumberOfMessages` ≤ free handling slots, ≤ 10);
 * 2. kept invisible by a heartbeat (`ChangeMessageVisibility`) for as long as it is being handled;
 * 3. parsed; every version in it recorded (`sink.recordVersions`, one transaction);
 * 4. deleted only then. Recording is enough: from that moment the ledger guarantees conversion
 *    (retries, leases, restarts), so holding the message until the JSON exists would only tie the
 *    queue to conversion time (heartbeats for hours on a big backlog) and duplicate what the ledger
 *    already tracks, while a crash between recording and deleting merely redelivers a message whose
 *    versions the ledger already has (a no-op).
 *
 * Messages it cannot use are never deleted: a body that is not a notification, or one with a record it
 * cannot decode, is counted (`failed`), logged with its message id and left to the queue's redrive
 * policy, which moves it to the dead-letter queue after `maxReceiveCount` receives (`redrive` counts
 * the last of those receives). The valid records of a partly bad message are still recorded, so the
 * good files convert at once. `s3:TestEvent` messages are deleted.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { backoffDelayMs } from '../backoff.js';
import type { ReadinessCheck, VersionSink } from '../contracts.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { type RecordedNotification, recordNotification } from './record-notification.js';
import { type EventFilter, MalformedNotificationError } from './s3-events.js';

export interface SqsConnection {
  queueUrl: string;
  /** Custom endpoint (fauxqs, ElasticMQ, LocalStack); absent for AWS. */
  endpoint?: string;
  region?: string;
  /** Static credentials; absent = the SDK's default chain (instance role, env, profile). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Connect / idle-socket / answer deadline of each request beyond the long poll; default 30 s. */
  ioTimeoutMs?: number;
  /** Long-poll wait, 0–20 s. Default 20 (fewest empty receives, and messages still arrive at once). */
  waitTimeSeconds?: number;
}

export interface SqsEventSourceOptions extends SqsConnection {
  filter: EventFilter;
  sink: VersionSink;
  logger: Logger;
  metrics: Metrics;
  /** A client to use instead of one built from the connection settings (tests). */
  client?: SQSClient;
  /** Messages handled at the same time. Default 10. */
  maxInFlight?: number;
  /**
   * Visibility the heartbeat keeps renewing, in seconds. Default: the queue's VisibilityTimeout
   * (read at start), else 30.
   */
  visibilityTimeoutSeconds?: number;
  /** Heartbeat period in ms. Default: a third of the visibility timeout. */
  heartbeatMs?: number;
}

/** Receive failures back off like conversions (backoff.ts: full jitter), from 0.5 s up to 30 s. */
const RECEIVE_BACKOFF_BASE_MS = 500;
const RECEIVE_BACKOFF_MAX_MS = 30_000;

/**
 * Every request has deadlines, so a queue endpoint that stops answering (a half-open connection, a
 * proxy that stopped forwarding) cannot stall ingestion: connecting, the socket idle, and the wait for
 * the answer. A long poll legitimately keeps the socket silent for `waitTimeSeconds`, so the idle and
 * answer deadlines are the I/O timeout on top of it.
 */
export function createSqsClient(connection: SqsConnection): SQSClient {
  const io = connection.ioTimeoutMs ?? 30_000;
  const quietMs = io + (connection.waitTimeSeconds ?? 20) * 1000;
  return new SQSClient({
    region: connection.region ?? 'us-east-1',
    endpoint: connection.endpoint,
    credentials: connection.credentials,
    maxAttempts: 3,
    requestHandler: {
      connectionTimeout: Math.min(io, 10_000),
      socketTimeout: quietMs,
      requestTimeout: quietMs,
      throwOnRequestTimeout: true,
    },
  });
}

export class SqsEventSource {
  private readonly client: SQSClient;
  private readonly ownsClient: boolean;
  private readonly queueUrl: string;
  private readonly log: Logger;
  private readonly inFlight = new Set<Promise<void>>();
  private slotFreed: (() => void) | null = null;
  private abort = new AbortController();
  private loop: Promise<void> | null = null;
  private stopping = false;
  private visibilitySeconds = 30;
  /** From the queue's RedrivePolicy; null when the queue has none (bad messages then cycle until expiry). */
  private maxReceiveCount: number | null = null;

  constructor(private readonly options: SqsEventSourceOptions) {
    this.client = options.client ?? createSqsClient(options);
    this.ownsClient = options.client === undefined;
    this.queueUrl = options.queueUrl;
    this.log = options.logger.child({ component: 'sqs', queueUrl: options.queueUrl });
  }

  /** Reads the queue's settings, then polls until `stop()`. Rejects when the queue cannot be read. */
  async start(): Promise<void> {
    if (this.loop) return;
    const attributes = await this.queueAttributes(['VisibilityTimeout', 'RedrivePolicy']);
    this.visibilitySeconds =
      this.options.visibilityTimeoutSeconds ?? (Number(attributes.VisibilityTimeout) || 30);
    this.maxReceiveCount = maxReceiveCountOf(attributes.RedrivePolicy);
    if (this.maxReceiveCount === null) {
      this.log.warn('queue has no redrive policy: messages that cannot be parsed return until they expire');
    }
    this.log.info(
      { visibilityTimeoutSeconds: this.visibilitySeconds, maxReceiveCount: this.maxReceiveCount },
      'sqs event source started',
    );
    this.loop = this.pollLoop();
  }

  /** Aborts the long poll, lets messages being handled finish (record + delete), then returns. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.abort.abort();
    this.slotFreed?.();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
    if (this.ownsClient) this.client.destroy();
    this.log.info('sqs event source stopped');
  }

  /** For /health/ready: the queue answers GetQueueAttributes. */
  readinessCheck(): ReadinessCheck {
    return {
      name: 'queue',
      check: async () => {
        await this.queueAttributes(['QueueArn'], AbortSignal.timeout(3000));
      },
    };
  }

  private async queueAttributes(
    names: ('VisibilityTimeout' | 'RedrivePolicy' | 'QueueArn')[],
    abortSignal?: AbortSignal,
  ): Promise<Record<string, string>> {
    const res = await this.client.send(
      new GetQueueAttributesCommand({ QueueUrl: this.queueUrl, AttributeNames: names }),
      { abortSignal },
    );
    return res.Attributes ?? {};
  }

  private async pollLoop(): Promise<void> {
    const maxInFlight = this.options.maxInFlight ?? 10;
    let failures = 0;
    while (!this.stopping) {
      const free = Math.min(10, maxInFlight - this.inFlight.size);
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          this.slotFreed = resolve;
        });
        continue;
      }
      let messages: Message[];
      try {
        const res = await this.client.send(
          new ReceiveMessageCommand({
            QueueUrl: this.queueUrl,
            MaxNumberOfMessages: free,
            WaitTimeSeconds: this.options.waitTimeSeconds ?? 20,
            MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
          }),
          { abortSignal: this.abort.signal },
        );
        messages = res.Messages ?? [];
        failures = 0;
      } catch (err) {
        if (this.stopping) break;
        failures += 1;
        const delay = backoffDelayMs(failures, RECEIVE_BACKOFF_BASE_MS, RECEIVE_BACKOFF_MAX_MS);
        this.log.warn({ err, retryInMs: delay }, 'sqs receive failed');
        await sleep(delay, this.abort.signal);
        continue;
      }
      for (const message of messages) this.track(this.handle(message));
    }
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => {
      this.inFlight.delete(work);
      const wake = this.slotFreed;
      this.slotFreed = null;
      wake?.();
    });
  }

  private async handle(message: Message): Promise<void> {
    const { metrics } = this.options;
    const messageId = message.MessageId ?? '?';
    const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? 1);
    metrics.sqsMessagesTotal.inc({ event: 'received' });
    const stopHeartbeat = this.heartbeat(message);
    try {
      let parsed: RecordedNotification;
      try {
        parsed = await recordNotification(message.Body ?? '', this.options.filter, this.options.sink);
      } catch (err) {
        // Anything but a body that is not a notification (the ledger failed) is handled below.
        if (!(err instanceof MalformedNotificationError)) throw err;
        this.leaveForRedrive(messageId, receiveCount, err.message);
        return;
      }
      if (parsed.subscription) {
        // A cross-account SNS → SQS subscription delivers its handshake to the queue. The queue is not
        // authenticated like the webhook, so the URL is shown to the operator, never fetched.
        const { type, topicArn, subscribeUrl } = parsed.subscription;
        this.log.warn(
          { messageId, type, topicArn, subscribeUrl },
          'SNS subscription message on the queue: open its SubscribeURL to confirm the subscription',
        );
      }
      if (parsed.versions.length > 0) {
        this.log.debug(
          { messageId, versions: parsed.versions.length, recorded: parsed.recorded, ignored: parsed.ignored },
          'sqs message recorded',
        );
      }
      if (parsed.unusable !== null) {
        this.leaveForRedrive(messageId, receiveCount, parsed.unusable);
        return;
      }
      stopHeartbeat();
      await this.client.send(
        new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
      metrics.sqsMessagesTotal.inc({ event: 'deleted' });
      if (parsed.testEvent) this.log.info({ messageId }, 's3 test event acknowledged');
    } catch (err) {
      // The ledger or SQS failed: the message stays and comes back after a short delay (or, on its
      // last receive, goes to the DLQ like an unusable one; the scan still finds its files).
      metrics.sqsMessagesTotal.inc({ event: 'failed' });
      if (this.isLastReceive(receiveCount)) metrics.sqsMessagesTotal.inc({ event: 'redrive' });
      this.log.warn({ err, messageId, receiveCount }, 'sqs message not handled; it will be received again');
      stopHeartbeat();
      await this.setVisibility(message, Math.min(this.visibilitySeconds, 2 * receiveCount)).catch(() => {});
    } finally {
      stopHeartbeat();
    }
  }

  private leaveForRedrive(messageId: string, receiveCount: number, reason: string): void {
    const { metrics } = this.options;
    metrics.sqsMessagesTotal.inc({ event: 'failed' });
    const last = this.isLastReceive(receiveCount);
    if (last) metrics.sqsMessagesTotal.inc({ event: 'redrive' });
    this.log.error(
      { messageId, receiveCount, maxReceiveCount: this.maxReceiveCount, reason },
      last
        ? 'sqs message cannot be used; left for the dead-letter queue (last receive)'
        : 'sqs message cannot be used; left in the queue for its redrive policy',
    );
  }

  /** After this receive the queue's redrive policy moves the message to the dead-letter queue. */
  private isLastReceive(receiveCount: number): boolean {
    return this.maxReceiveCount !== null && receiveCount >= this.maxReceiveCount;
  }

  /** Renews the message's invisibility until the returned function is called. */
  private heartbeat(message: Message): () => void {
    const period = this.options.heartbeatMs ?? Math.max(500, (this.visibilitySeconds * 1000) / 3);
    let stopped = false;
    const timer = setInterval(() => {
      this.setVisibility(message, this.visibilitySeconds).catch((err: unknown) => {
        if (!stopped) this.log.warn({ err, messageId: message.MessageId }, 'sqs heartbeat failed');
      });
    }, period);
    timer.unref();
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }

  private async setVisibility(message: Message, seconds: number): Promise<void> {
    await this.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.queueUrl,
        ReceiptHandle: message.ReceiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  }
}

function maxReceiveCountOf(policy: string | undefined): number | null {
  if (!policy) return null;
  try {
    const n = Number((JSON.parse(policy) as { maxReceiveCount?: unknown }).maxReceiveCount);
    return Number.isFinite(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
