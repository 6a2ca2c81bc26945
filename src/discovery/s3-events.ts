/**
 * Parses S3 event notifications into the object versions they announce. Pure: no I/O, no clock.
 *
 * Accepted envelopes (one message or one webhook body each):
 * - S3 → SQS, MinIO webhooks, SNS raw delivery: `{ "Records": [ ... ] }` (several records per message);
 * - S3 → SNS → SQS (or an SNS HTTP subscription): `{ "Type": "Notification", "Message": "<JSON string>" }`,
 *   whose Message is any of the other envelopes;
 * - SNS `SubscriptionConfirmation` / `UnsubscribeConfirmation` (webhook only): reported, never acted on here;
 * - S3 → EventBridge → SQS: `{ "detail-type": "Object Created", "source": "aws.s3", "detail": {...} }`;
 * - `s3:TestEvent`, sent once when notifications are configured: recognised and otherwise ignored.
 *
 * Keys in S3 notifications (and MinIO's) are URL-encoded with `+` for space ("red flower.jpg" arrives as
 * "red+flower.jpg", "a+b" as "a%2Bb"), so `+` becomes a space first and then `decodeURIComponent` runs.
 * EventBridge carries the key as it is (its schema documents "the object key name", and consumers that
 * decoded it broke keys containing `+` or `%`), so EventBridge keys are taken verbatim.
 */
import { PermanentError } from '../errors.js';
import { decodeEventKey, normalizeEtag } from '../s3-format.js';

export { decodeEventKey, encodeEventKey } from '../s3-format.js';

/** One object version announced by an event: what the ledger records. */
export interface EventVersion {
  bucket: string;
  key: string;
  /** Without surrounding quotes (S3 sends it either way). Multipart ETags keep their `-N` suffix. */
  etag: string;
  /** Bytes, when the event says. */
  size: number | null;
  /** ISO-8601 time at which S3 finished the request (the start of the event lag), when known. */
  eventTime: string | null;
  /** Orders events for one key (hex string; longer/greater is later), when known. */
  sequencer: string | null;
}

/**
 * Records accepted in one notification. S3 sends one per message and MinIO a handful; a body with
 * thousands is a flood (9,000 records of absent objects once made 9,000 rows and delayed a real upload
 * by 152 s), refused as a whole.
 */
export const MAX_RECORDS_PER_NOTIFICATION = 1000;

/** S3's longest key, in bytes of UTF-8: a longer key cannot name an object. */
export const MAX_KEY_BYTES = 1024;

/** A key as it appears in a reason: quoted, cut to a readable length (keys can be 1 KiB, bodies 1 MiB). */
export function quoteKey(key: string, max = 100): string {
  return JSON.stringify(key.length > max ? `${key.slice(0, max)}…` : key);
}

/** Which objects start work: the configured source bucket, and the scan's key rule (createKeyFilter). */
export interface EventFilter {
  bucket: string;
  matchesKey: (key: string) => boolean;
}

export type Envelope = 'records' | 'sns' | 'eventbridge';

/** A record that claims to be an object creation but cannot be used (its message is left for the DLQ). */
export interface InvalidRecord {
  /** 0-based position of the record in its message. */
  index: number;
  reason: string;
}

export interface SnsSubscriptionMessage {
  type: 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';
  topicArn: string | null;
  subscribeUrl: string | null;
}

export interface ParsedNotification {
  /** The outermost envelope. */
  envelope: Envelope;
  /** True for `s3:TestEvent`: nothing to do, acknowledge it. */
  testEvent: boolean;
  /** Set for SNS subscription handshakes (webhook); there are no versions then. */
  subscription: SnsSubscriptionMessage | null;
  /** Object versions to record, de-duplicated, in message order. */
  versions: EventVersion[];
  /** Records that are fine but not for us: other event types, other buckets, filtered-out keys. */
  ignored: number;
  invalid: InvalidRecord[];
}

/** The message as a whole is not a notification we understand (bad JSON, unknown shape). */
export class MalformedNotificationError extends PermanentError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'malformed-event', cause });
    this.name = 'MalformedNotificationError';
  }
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new MalformedNotificationError(`${what} is not JSON: ${(err as Error).message}`, err);
  }
}

function sizeOf(value: unknown): number | null {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : null;
}

interface Accumulator {
  versions: EventVersion[];
  seen: Set<string>;
  ignored: number;
  invalid: InvalidRecord[];
}

/**
 * Adds the version named by an event's object description (S3 `s3.object` or EventBridge
 * `detail.object`) once, if it is for us. `key` is already decoded.
 */
function accept(
  acc: Accumulator,
  filter: EventFilter,
  index: number,
  where: { bucket: string; key: string; object: Json; eventTime: string | null },
): void {
  const etag = normalizeEtag(str(where.object.eTag) ?? str(where.object.etag) ?? '');
  if (etag === '') {
    // Without the ETag we cannot name the version; the scan will find it.
    acc.invalid.push({ index, reason: `event for ${quoteKey(where.key)} has no eTag` });
    return;
  }
  if (Buffer.byteLength(where.key, 'utf8') > MAX_KEY_BYTES) {
    acc.invalid.push({
      index,
      reason: `key ${quoteKey(where.key)} is longer than S3's ${MAX_KEY_BYTES} bytes`,
    });
    return;
  }
  if (where.bucket !== filter.bucket || !filter.matchesKey(where.key)) {
    acc.ignored++;
    return;
  }
  const id = `${where.bucket}\n${where.key}\n${etag}`;
  if (acc.seen.has(id)) return;
  acc.seen.add(id);
  acc.versions.push({
    bucket: where.bucket,
    key: where.key,
    etag,
    size: sizeOf(where.object.size),
    eventTime: where.eventTime,
    sequencer: str(where.object.sequencer),
  });
}

/** Reads `{ bucket: { name }, object: { key, ... } }`: S3's `s3` and EventBridge's `detail` alike. */
function bucketAndObject(where: unknown): { bucket: string | null; object: Json; key: string | null } {
  const container = isObject(where) ? where : {};
  const object = isObject(container.object) ? container.object : {};
  return {
    bucket: isObject(container.bucket) ? str(container.bucket.name) : null,
    object,
    key: str(object.key),
  };
}

/** One entry of `Records`: S3 (aws:s3) and MinIO (minio:s3, event names prefixed `s3:`) alike. */
function parseRecord(acc: Accumulator, filter: EventFilter, record: unknown, index: number): void {
  if (!isObject(record)) {
    acc.invalid.push({ index, reason: 'record is not an object' });
    return;
  }
  const eventName = str(record.eventName)?.replace(/^s3:/, '') ?? '';
  if (!eventName.startsWith('ObjectCreated:')) {
    acc.ignored++;
    return;
  }
  const { bucket, object, key: rawKey } = bucketAndObject(record.s3);
  if (!bucket || rawKey === null) {
    acc.invalid.push({ index, reason: 'record has no s3.bucket.name or s3.object.key' });
    return;
  }
  let key: string;
  try {
    key = decodeEventKey(rawKey);
  } catch {
    acc.invalid.push({ index, reason: `key ${quoteKey(rawKey)} is not valid URL encoding` });
    return;
  }
  accept(acc, filter, index, { bucket, key, object, eventTime: str(record.eventTime) });
}

function parseEventBridge(acc: Accumulator, filter: EventFilter, event: Json): void {
  if (event['detail-type'] !== 'Object Created') {
    acc.ignored++;
    return;
  }
  const { bucket, object, key } = bucketAndObject(event.detail);
  if (!bucket || key === null) {
    acc.invalid.push({ index: 0, reason: 'EventBridge event lacks detail.bucket.name or detail.object.key' });
    return;
  }
  accept(acc, filter, 0, { bucket, key, object, eventTime: str(event.time) });
}

function isTestEvent(body: Json): boolean {
  return body.Event === 's3:TestEvent';
}

function isEventBridge(body: Json): boolean {
  return typeof body['detail-type'] === 'string' && isObject(body.detail);
}

/** Parses the body of an S3 notification (inner envelopes only: no SNS). */
function parseInner(
  acc: Accumulator,
  filter: EventFilter,
  body: Json,
): { test: boolean; envelope: Envelope } {
  if (isTestEvent(body)) return { test: true, envelope: 'records' };
  if (isEventBridge(body)) {
    parseEventBridge(acc, filter, body);
    return { test: false, envelope: 'eventbridge' };
  }
  if (Array.isArray(body.Records)) {
    if (body.Records.length > MAX_RECORDS_PER_NOTIFICATION) {
      throw new MalformedNotificationError(
        `${body.Records.length} records in one notification; at most ${MAX_RECORDS_PER_NOTIFICATION} are accepted`,
      );
    }
    body.Records.forEach((record, index) => {
      parseRecord(acc, filter, record, index);
    });
    return { test: false, envelope: 'records' };
  }
  throw new MalformedNotificationError(
    'not an S3 notification (no Records, test event or EventBridge event)',
  );
}

/**
 * Parses one notification (an SQS message body, a webhook body, or its parsed JSON) and returns the
 * versions to record for `filter`. Throws MalformedNotificationError when the message as a whole is not
 * understood; a bad record only lands in `invalid`.
 */
export function parseNotification(body: string | unknown, filter: EventFilter): ParsedNotification {
  const json = typeof body === 'string' ? parseJson(body, 'message body') : body;
  if (!isObject(json)) throw new MalformedNotificationError('notification is not a JSON object');
  const acc: Accumulator = { versions: [], seen: new Set(), ignored: 0, invalid: [] };
  const result = (envelope: Envelope, testEvent: boolean): ParsedNotification => ({
    envelope,
    testEvent,
    subscription: null,
    versions: acc.versions,
    ignored: acc.ignored,
    invalid: acc.invalid,
  });

  const snsType = str(json.Type);
  if (snsType === 'SubscriptionConfirmation' || snsType === 'UnsubscribeConfirmation') {
    return {
      ...result('sns', false),
      subscription: { type: snsType, topicArn: str(json.TopicArn), subscribeUrl: str(json.SubscribeURL) },
    };
  }
  if (snsType === 'Notification') {
    const message = str(json.Message);
    if (message === null) throw new MalformedNotificationError('SNS notification has no Message string');
    const inner = parseJson(message, 'SNS Message');
    if (!isObject(inner)) throw new MalformedNotificationError('SNS Message is not a JSON object');
    const { test } = parseInner(acc, filter, inner);
    return result('sns', test);
  }
  const { test, envelope } = parseInner(acc, filter, json);
  return result(envelope, test);
}
