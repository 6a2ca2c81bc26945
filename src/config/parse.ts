import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { ConfigError } from '../errors.js';

// croner is loaded on first use: `file-transformer convert` reads byte sizes from this module, and its
// start-up (paid on every file of a backfill script) should not include the scheduler's cron parser.
const requireLazily = createRequire(import.meta.url);

/**
 * Small parsers for environment values. Each throws a ConfigError that names the variable and says
 * what is expected; `secret` variables never echo their value.
 */

export function describe(value: string, secret = false): string {
  return secret ? '(value hidden)' : JSON.stringify(value);
}

export function parseInteger(name: string, value: string, min: number, max: number): number {
  const n = Number(value.trim());
  if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got ${describe(value)}`);
  }
  return n;
}

export function parsePositiveNumber(name: string, value: string, max: number): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > max) {
    throw new ConfigError(
      name,
      `expected a number greater than 0 and at most ${max}, got ${describe(value)}`,
    );
  }
  return n;
}

/** A scan interval: the environment's SCAN_INTERVAL_HOURS and the API's schedule share this bound. */
export const MAX_INTERVAL_HOURS = 24 * 366;

export function parseIntervalHours(name: string, value: string): number {
  return parsePositiveNumber(name, value, MAX_INTERVAL_HOURS);
}

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);

export function parseBoolean(name: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new ConfigError(name, `expected on/off (true/false, 1/0, yes/no), got ${describe(value)}`);
}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/**
 * A size in bytes, optionally with a binary unit: `1048576`, `512MiB`, `2G`, `64k`. Null when the text
 * is not such a size or exceeds Number's exact range. The one byte-size rule (environment and CLI).
 */
export function byteSize(value: string): number | null {
  const m = /^\s*(\d+)\s*([kmg]?)(?:i?b)?\s*$/i.exec(value);
  const n = m ? Number(m[1]) * (UNITS[m[2]!.toLowerCase()] ?? 1) : Number.NaN;
  return Number.isSafeInteger(n) ? n : null;
}

/** A positive byte size from the environment (see byteSize). */
export function parseBytes(name: string, value: string): number {
  const n = byteSize(value);
  if (n === null || n <= 0) {
    throw new ConfigError(
      name,
      `expected a size in bytes such as 1073741824, 512MiB or 2GiB, got ${describe(value)}`,
    );
  }
  return n;
}

export function parseUrl(name: string, value: string): string {
  try {
    const url = new URL(value.trim());
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
    return value.trim().replace(/\/+$/, '');
  } catch {
    throw new ConfigError(
      name,
      `expected an http(s) URL such as http://127.0.0.1:4566, got ${describe(value)}`,
    );
  }
}

/**
 * A PostgreSQL connection URL (postgres:// or postgresql://). The value holds a password, so the error
 * never repeats it: it names only what was wrong.
 */
export function parseDatabaseUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new ConfigError(
      name,
      'expected a URL such as postgres://user:password@host:5432/db (value hidden)',
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(name, `expected a postgres:// or postgresql:// URL, got a ${url.protocol} URL`);
  }
  if (url.hostname === '') throw new ConfigError(name, 'expected a host in the URL (value hidden)');
  return value.trim();
}

/** A database URL as safe to log: the password replaced. */
export function redactDatabaseUrl(value: string): string {
  const url = new URL(value);
  if (url.password !== '') url.password = 'redacted';
  return url.toString();
}

/** S3 bucket naming rules (3-63 chars, lowercase letters, digits, dots, hyphens). */
export function parseBucket(name: string, value: string): string {
  const v = value.trim();
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(v)) {
    throw new ConfigError(
      name,
      `expected an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens), got ${describe(value)}`,
    );
  }
  return v;
}

/** Runs of a cron schedule checked for the one-minute minimum (enough to see any sub-minute pattern). */
const CRON_RUNS_CHECKED = 120;

/**
 * A cron expression (5 or 6 fields). Like the interval, it may not fire more often than once a minute:
 * a seconds field that fires every few seconds would list the whole bucket every few seconds.
 */
export function parseCron(name: string, value: string): string {
  const v = value.trim();
  let runs: Date[];
  try {
    const { Cron } = requireLazily('croner') as typeof import('croner');
    const cron = new Cron(v, { paused: true });
    runs = cron.nextRuns(CRON_RUNS_CHECKED);
    cron.stop();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ConfigError(
      name,
      `expected a cron expression such as "0 */3 * * *" (${why}), got ${describe(value)}`,
    );
  }
  for (let i = 1; i < runs.length; i++) {
    if (runs[i]!.getTime() - runs[i - 1]!.getTime() < 60_000) {
      throw new ConfigError(
        name,
        `expected a cron expression that runs at most once a minute (as the interval's minimum), got ${describe(value)}`,
      );
    }
  }
  return v;
}

/** Comma-separated suffixes; `*` alone means every key. */
export function parseSuffixes(name: string, value: string): string[] {
  const parts = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (parts.length === 1 && parts[0] === '*') return [];
  if (parts.length === 0) {
    throw new ConfigError(
      name,
      `expected a comma-separated list such as .xml,.xml.gz (or * for all keys), got ${describe(value)}`,
    );
  }
  return parts;
}

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export function parseLogLevel(name: string, value: string): string {
  const v = value.trim().toLowerCase();
  if (!LEVELS.has(v)) {
    throw new ConfigError(name, `expected one of ${[...LEVELS].join(', ')}, got ${describe(value)}`);
  }
  return v;
}

/** CONVERT_THREADS: conversion threads; 0 converts on the main thread. Default: one per core. */
export function parseConvertThreads(name: string, value: string): number {
  return parseInteger(name, value, 0, 256);
}

export function defaultConvertThreads(): number {
  return availableParallelism();
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1']);

/** Whether an address or host name is this machine's loopback (only it may serve the API without a token). */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}
