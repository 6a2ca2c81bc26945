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
  /**
   * `record <i>: <reason>; ...` for the records that could not be used (the others were recorded): the
   * first few only, so a body of 200,000 bad records gives a short answer and log line, not 8 MB.
   */
  unusable: string | null;
}

/** Reasons listed in `unusable`; the rest are counted. */
export const MAX_REASONS_LISTED = 10;

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
  const listed = parsed.invalid.slice(0, MAX_REASONS_LISTED).map((i) => `record ${i.index}: ${i.reason}`);
  const more = parsed.invalid.length - listed.length;
  if (more > 0) listed.push(`and ${more} more`);
  const unusable = listed.length > 0 ? listed.join('; ') : null;
  return { ...parsed, recorded, unusable };
}
