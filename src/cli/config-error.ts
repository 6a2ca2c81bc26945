/**
 * How `serve` and `scan --once` report a configuration error: one line on stderr naming the variable
 * (exit 2), whether it is found while loading the environment or while starting (a port in use).
 */
import { loadConfig } from '../config/index.js';
import type { Config } from '../config/types.js';
import { ConfigError } from '../errors.js';

/** Prints `err` if it is a ConfigError; false (nothing printed) for any other error. */
export function reportConfigError(err: unknown): boolean {
  if (!(err instanceof ConfigError)) return false;
  process.stderr.write(`file-transformer: configuration error: ${err.message}\n`);
  return true;
}

/** The configuration, or null once its error has been printed. */
export function loadConfigOrReport(): Config | null {
  try {
    return loadConfig();
  } catch (err) {
    if (reportConfigError(err)) return null;
    throw err;
  }
}
