/**
 * The one path from an S3 notification to the ledger, shared by the SQS source and the webhook:
 * parse (with the source filter), record every version it names in one `recordVersions` call, and say
 * which records could not be used. What a failure means (leave the message for redrive, answer 400 or
 * 503) is the caller's business.
 */

import type { VersionSink } from '../contracts.js';
import { type EventFilter, type ParsedNotification, parseNotification } from './s3-events.js';

export interface RecordedNotification extends ParsedNotification {
  /** Of `versions`, how many were new to the ledger. */
  recorded: number;
  /** `record <i>: <reason>; ...` for the records that could not be used (the others were recorded). */
  unusable: string | null;
}

/**
 * Throws MalformedNotificationError (from parsing, before anything is recorded) when the body is not a
 * notification, and whatever the sink throws when the versions could not be recorded.
 */
export async function recordNotification(
  body: string | unknown,
  filter: EventFilter,
  sink: VersionSink,
): Promise<RecordedNotification> {
  const parsed = parseNotification(body, filter);
  const recorded = parsed.versions.length > 0 ? await sink.recordVersions(parsed.versions, 'event') : 0;
  const unusable =
    parsed.invalid.length > 0 ? parsed.invalid.map((i) => `record ${i.index}: ${i.reason}`).join('; ') : null;
  return { ...parsed, recorded, unusable };
}
