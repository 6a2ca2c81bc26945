/**
 * The S3 event webhook: `POST /api/events/s3` takes the same notification JSON the SQS source reads,
 * for senders that push over HTTP: MinIO's webhook target (`{Records: [...]}`), SNS HTTP(S)
 * subscriptions (SNS-wrapped, `Content-Type: text/plain`, including the SubscriptionConfirmation
 * handshake), or anything that relays S3 notifications. It answers 200 only once the ledger has the
 * versions, so a sender that gets 200 may forget the event; any other answer means "send it again".
 *
 * Auth: the API's bearer token, like every POST. Because SNS cannot send a bearer header, the route
 * also accepts the token as the password of HTTP Basic auth (`https://sns:<token>@host/api/events/s3`),
 * when the plugin is given the token.
 *
 * SubscriptionConfirmation: the SubscribeURL is fetched only when it is https on an
 * `sns.<region>.amazonaws.com` host (so a caller cannot make the service fetch arbitrary URLs), and
 * only when the caller passed auth; otherwise it is logged for the operator to open by hand.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ReadinessCheck, VersionSink } from '../contracts.js';
import { type RecordedNotification, recordNotification } from '../discovery/record-notification.js';
import { type EventFilter, MalformedNotificationError } from '../discovery/s3-events.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { presentedToken, secretsEqual } from './auth.js';
import { HttpError } from './errors.js';
import { TokenBucket } from './rate-limit.js';
import type { ApiPlugin } from './server.js';

export interface EventsPluginOptions {
  sink: VersionSink;
  filter: EventFilter;
  logger: Logger;
  metrics: Metrics;
  /**
   * The API token. When set, the route checks it itself and accepts it as a bearer token or as the
   * Basic-auth password (SNS). When absent, the API's own bearer check (if any) applies.
   */
  apiToken?: string;
  /** Confirm SNS subscriptions by fetching their SubscribeURL (AWS hosts only). Default true. */
  confirmSubscriptions?: boolean;
  /** Checks added to GET /health/ready (the SQS queue), where the API exposes `app.readinessChecks`. */
  readinessChecks?: readonly ReadinessCheck[];
  /** How the SubscribeURL is fetched (replaceable only for tests: nothing real answers as AWS here). */
  fetchUrl?: (url: string) => Promise<{ ok: boolean; status: number }>;
  /**
   * Object versions the webhook records per second (sustained; bursts up to WEBHOOK_BURST_SECONDS
   * worth); beyond it the sender gets 429 with Retry-After. Default 20.
   */
  versionsPerSecond?: number;
}

/** The burst allowance of the webhook's rate, in seconds of it. */
export const WEBHOOK_BURST_SECONDS = 25;

/** The sink refused the versions: over the webhook's rate. */
class OverRateError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('over the rate');
    this.name = 'OverRateError';
  }
}

const ROUTE = '/api/events/s3';

/** `https://sns.<region>.amazonaws.com/...` (and the China partition). */
export function isTrustedSubscribeUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (
    url.protocol === 'https:' &&
    url.username === '' &&
    url.port === '' &&
    /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/.test(url.hostname)
  );
}

const responseSchema = {
  type: 'object',
  properties: {
    status: {
      type: 'string',
      enum: ['recorded', 'test-event', 'subscription-confirmed', 'subscription-logged'],
    },
    versions: { type: 'integer', description: 'object versions in the notification that start work' },
    recorded: { type: 'integer', description: 'of those, versions new to the ledger' },
    ignored: { type: 'integer', description: 'records not for us (other events, buckets or keys)' },
  },
} as const;

export function eventsPlugin(options: EventsPluginOptions): ApiPlugin {
  const log = options.logger.child({ component: 'webhook' });
  const { metrics } = options;
  const rate = options.versionsPerSecond ?? 20;
  const bucket = new TokenBucket(rate, Math.max(1, Math.round(rate * WEBHOOK_BURST_SECONDS)));
  // Versions are admitted after parsing and before recording: one token each.
  const sink: VersionSink = {
    recordVersions(versions, discoveredBy) {
      const admitted = bucket.take(versions.length);
      if (!admitted.ok) throw new OverRateError(admitted.retryAfterSeconds);
      return options.sink.recordVersions(versions, discoveredBy);
    },
  };
  const fetchUrl =
    options.fetchUrl ??
    (async (url: string) => {
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000), redirect: 'error' });
      await res.body?.cancel();
      return { ok: res.ok, status: res.status };
    });

  const authenticate = async (request: FastifyRequest, reply: FastifyReply) => {
    const token = options.apiToken;
    if (!token) return;
    const given = presentedToken(request.headers.authorization, { basic: true });
    if (given !== null && secretsEqual(given, token)) return;
    metrics.webhookEventsTotal.inc({ outcome: 'unauthorized' });
    reply
      .code(401)
      .header('WWW-Authenticate', 'Bearer realm="file-transformer", Basic realm="file-transformer"')
      .send({
        error: 'Unauthorized',
        message: 'send the API token as a bearer token or Basic-auth password',
      });
    return reply;
  };

  const reject = (outcome: string, status: number, message: string): never => {
    metrics.webhookEventsTotal.inc({ outcome });
    throw new HttpError(status, message);
  };

  return async (app) => {
    if (app.hasDecorator('readinessChecks')) app.readinessChecks.push(...(options.readinessChecks ?? []));
    // MinIO checks that the target answers with a HEAD before sending events.
    app.head(ROUTE, { schema: { hide: true } }, async (_request, reply) => reply.code(200).send());

    app.post(
      ROUTE,
      {
        // With the token given, this route checks it itself (bearer or Basic); else the API's hook does.
        config: { auth: options.apiToken ? false : undefined },
        onRequest: authenticate,
        schema: {
          tags: ['events'],
          summary: 'Receive an S3 event notification (MinIO webhook, SNS HTTP subscription)',
          description:
            'Body: an S3 notification ({Records:[...]}), SNS-wrapped or EventBridge-shaped, as JSON or ' +
            'text/plain. 200 once the ledger has the versions; 400 when the body is not a notification ' +
            'or a record cannot be decoded; 429 (Retry-After) beyond the rate of object versions; 503 when ' +
            'the ledger is unavailable (send again).',
          security: [{ bearer: [] }],
          response: {
            200: responseSchema,
            400: { $ref: 'ApiError#' },
            429: { $ref: 'ApiError#' },
            503: { $ref: 'ApiError#' },
          },
        },
      },
      async (request, reply) => {
        let parsed: RecordedNotification;
        try {
          parsed = await recordNotification(request.body, options.filter, sink);
        } catch (err) {
          if (err instanceof OverRateError) {
            log.warn(
              { retryAfterSeconds: err.retryAfterSeconds },
              'webhook over its rate; sender told to wait',
            );
            reply.header('Retry-After', String(err.retryAfterSeconds));
            return reject(
              'throttled',
              429,
              `too many object versions; send again in ${err.retryAfterSeconds} s`,
            );
          }
          if (err instanceof MalformedNotificationError) {
            log.warn({ reason: err.message }, 'webhook body is not an S3 notification');
            return reject('rejected', 400, err.message);
          }
          log.error({ err }, 'webhook versions could not be recorded');
          return reject('failed', 503, 'the ledger is unavailable; send the notification again');
        }

        if (parsed.subscription) {
          const { type, topicArn, subscribeUrl } = parsed.subscription;
          metrics.webhookEventsTotal.inc({ outcome: 'subscription' });
          const confirm =
            type === 'SubscriptionConfirmation' &&
            subscribeUrl !== null &&
            options.confirmSubscriptions !== false &&
            isTrustedSubscribeUrl(subscribeUrl);
          if (!confirm) {
            log.warn(
              { type, topicArn, subscribeUrl },
              'SNS subscription message not acted on; confirm it by hand',
            );
            return { status: 'subscription-logged' };
          }
          const res = await fetchUrl(subscribeUrl).then(
            ({ ok, status }) => ({ ok, status, err: undefined as unknown }),
            (err: unknown) => ({ ok: false, status: 0, err }),
          );
          if (!res.ok) {
            log.error({ topicArn, status: res.status, err: res.err }, 'SNS subscription confirmation failed');
            throw new HttpError(503, 'could not confirm the SNS subscription; send it again');
          }
          log.info({ topicArn }, 'SNS subscription confirmed');
          return { status: 'subscription-confirmed' };
        }

        if (parsed.testEvent) {
          metrics.webhookEventsTotal.inc({ outcome: 'test' });
          log.info('s3 test event received');
          return { status: 'test-event' };
        }

        if (parsed.unusable !== null) {
          log.warn(
            { reasons: parsed.unusable, recorded: parsed.recorded },
            'webhook notification has records that cannot be used',
          );
          return reject(
            'rejected',
            400,
            `records that cannot be used (the others were recorded): ${parsed.unusable}`,
          );
        }
        metrics.webhookEventsTotal.inc({ outcome: parsed.versions.length > 0 ? 'recorded' : 'ignored' });
        const { versions, recorded, ignored } = parsed;
        log.debug({ versions: versions.length, recorded, ignored }, 'webhook recorded');
        return { status: 'recorded', versions: versions.length, recorded, ignored };
      },
    );
  };
}
