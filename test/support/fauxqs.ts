import { ReceiveMessageCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import {
  EMBEDDED_SQS_CREDENTIALS,
  EMBEDDED_SQS_REGION,
  type EmbeddedSqs,
  startEmbeddedSqs,
} from '../../src/storage/embedded-sqs.js';

export { EMBEDDED_SQS_CREDENTIALS as SQS_TEST_CREDENTIALS, EMBEDDED_SQS_REGION as SQS_TEST_REGION };

export interface QueueSnapshot {
  ready: number;
  inflight: number;
  /** ApproximateReceiveCount of every message still in the queue (ready or in flight). */
  receiveCounts: number[];
  bodies: string[];
  /** When each in-flight message becomes visible again (epoch ms, by fauxqs' clock: Date.now()). */
  visibilityDeadlines: number[];
}

/** The embedded queue server (endpoint, client, createQueue with a DLQ, close), plus test inspection. */
export interface TestSqs extends Pick<EmbeddedSqs, 'endpoint' | 'client' | 'createQueue' | 'close'> {
  send(queueUrl: string, body: unknown): Promise<string>;
  /** The queue's messages without receiving them (fauxqs' inspection endpoint). */
  inspect(queueName: string): Promise<QueueSnapshot>;
}

interface InspectedMessage {
  body: string;
  approximateReceiveCount: number;
}

/** Starts fauxqs (real HTTP SQS, in memory) on 127.0.0.1 and a free port. */
export async function startTestSqs(): Promise<TestSqs> {
  const sqs = await startEmbeddedSqs({ port: 0 });
  return {
    endpoint: sqs.endpoint,
    client: sqs.client,
    createQueue: (name, options) => sqs.createQueue(name, options),
    async send(queueUrl, body) {
      const res = await sqs.client.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: typeof body === 'string' ? body : JSON.stringify(body),
        }),
      );
      return res.MessageId!;
    },
    async inspect(queueName) {
      const res = await fetch(`${sqs.endpoint}/_fauxqs/queues/${encodeURIComponent(queueName)}`);
      if (!res.ok) throw new Error(`fauxqs inspection of ${queueName}: HTTP ${res.status}`);
      const q = (await res.json()) as {
        messages: {
          ready: InspectedMessage[];
          delayed: InspectedMessage[];
          inflight: { message: InspectedMessage; visibilityDeadline: number }[];
        };
      };
      const all = [...q.messages.ready, ...q.messages.delayed, ...q.messages.inflight.map((i) => i.message)];
      return {
        ready: q.messages.ready.length,
        inflight: q.messages.inflight.length,
        receiveCounts: all.map((m) => m.approximateReceiveCount),
        bodies: all.map((m) => m.body),
        visibilityDeadlines: q.messages.inflight.map((i) => i.visibilityDeadline),
      };
    },
    close: () => sqs.close(),
  };
}

/** Receives (and so hides) whatever is visible now, as a second consumer would. */
export async function receiveNow(client: SQSClient, queueUrl: string): Promise<number> {
  const res = await client.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
  );
  return res.Messages?.length ?? 0;
}

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes (then throws with `what`). */
export async function waitFor<T>(
  what: string,
  condition: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 15_000,
): Promise<T> {
  // performance.now(), not Date.now(): tests that fake Date still get a timeout in real time.
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
