/**
 * How S3 spells the two things every layer passes around: ETags and the keys inside event
 * notifications. Pure functions, no imports, so discovery, storage, the ledger and the workers all
 * use the same rule.
 */

/**
 * The bare form of an ETag, as the ledger stores it. S3 quotes ETags in listings and headers and not
 * in events; some stores add a weak-validator prefix (`W/"..."`). Multipart ETags keep their `-N`.
 */
export function normalizeEtag(etag: string): string {
  return etag
    .trim()
    .replace(/^W\//, '')
    .replace(/^"+|"+$/g, '');
}

/** Decodes an S3 notification key: `+` is a space, then percent-escapes. Throws URIError when malformed. */
export function decodeEventKey(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}

/** Encodes a key as S3 does in notifications (the embedded forwarder uses this). */
export function encodeEventKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+');
}
