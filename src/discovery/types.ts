import type { Config } from '../config/types.js';

/**
 * Which keys of the source bucket are catalogues: under SOURCE_PREFIX and ending with one of
 * SOURCE_SUFFIXES. Suffix matching is case-sensitive (S3 keys are: `a.xml` and `a.XML` are different
 * objects); list `.XML` too if the partner uploads that. Used by the scan and by event ingestion so both
 * apply exactly the same rule.
 */
export function createKeyFilter(
  config: Pick<Config, 'sourcePrefix' | 'sourceSuffixes'>,
): (key: string) => boolean {
  const { sourcePrefix: prefix, sourceSuffixes: suffixes } = config;
  return (key) => key.startsWith(prefix) && (suffixes.length === 0 || suffixes.some((s) => key.endsWith(s)));
}
