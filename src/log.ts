import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * One structured JSON event per line on stdout. Errors go under `err`, always the error object itself
 * (pino's serializer writes its type, message, stack, cause chain and our fields such as `code` and
 * `retryable`), never `String(err)`. Secrets: the paths below are redacted at the top level and one
 * level down (`*.x`; pino's wildcards match one level only), which covers every event the service
 * logs (its configuration is logged through `redactedConfig`); a secret nested deeper would not be.
 */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service: 'file-transformer' },
    redact: {
      paths: [
        'secretAccessKey',
        '*.secretAccessKey',
        'sessionToken',
        '*.sessionToken',
        'apiToken',
        '*.apiToken',
        'authorization',
        '*.authorization',
        'req.headers.authorization',
        'databaseUrl',
        '*.databaseUrl',
      ],
      censor: '[redacted]',
    },
  });
}
