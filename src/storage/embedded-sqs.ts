/**
 * The embedded SQS-compatible queue server: fauxqs 1.9.2 (real HTTP SQS, JSON protocol, in memory).
 * `startFauxqs()` always listens on 0.0.0.0, so we build its app and listen on loopback ourselves;
 * queues are created through the SQS API like on AWS.
 */
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';

/** fauxqs accepts any credentials; these are sent so the SDK signs requests without looking for real ones. */
export const EMBEDDED_SQS_CREDENTIALS = { accessKeyId: 'fauxqs', secretAccessKey: 'fauxqs' } as const;
export const EMBEDDED_SQS_REGION = 'us-east-1';

export interface EmbeddedSqs {
  /** e.g. `http://127.0.0.1:4576`, for the SQS client's `endpoint`. */
  endpoint: string;
  port: number;
  /** A client for this server (creating queues, sending events). */
  client: SQSClient;
  /**
   * Creates (idempotently) a queue and its dead-letter queue `<name>-dlq`, which takes messages
   * received `maxReceiveCount` times without being deleted (the layout docs/events.md advises on AWS).
   */
  createQueue(
    name: string,
    options?: { visibilityTimeoutSeconds?: number; maxReceiveCount?: number },
  ): Promise<{ queueUrl: string; dlqUrl: string }>;
  close(): Promise<void>;
}

export async function startEmbeddedSqs(options: { host?: string; port?: number } = {}): Promise<EmbeddedSqs> {
  const host = options.host ?? '127.0.0.1';
  const app = buildApp({ logger: false, host: 'localhost', defaultRegion: EMBEDDED_SQS_REGION });
  await app.listen({ host, port: options.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  const endpoint = `http://${host}:${port}`;
  const client = new SQSClient({
    endpoint,
    region: EMBEDDED_SQS_REGION,
    credentials: EMBEDDED_SQS_CREDENTIALS,
  });
  return {
    endpoint,
    port,
    client,
    async createQueue(name, queueOptions = {}) {
      const dlq = await client.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
      const dlqAttributes = await client.send(
        new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }),
      );
      const queue = await client.send(
        new CreateQueueCommand({
          QueueName: name,
          Attributes: {
            VisibilityTimeout: String(queueOptions.visibilityTimeoutSeconds ?? 30),
            RedrivePolicy: JSON.stringify({
              deadLetterTargetArn: dlqAttributes.Attributes?.QueueArn,
              maxReceiveCount: queueOptions.maxReceiveCount ?? 5,
            }),
          },
        }),
      );
      return { queueUrl: queue.QueueUrl!, dlqUrl: dlq.QueueUrl! };
    },
    async close() {
      client.destroy();
      await app.close();
    },
  };
}
