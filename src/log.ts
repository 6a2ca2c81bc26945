import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * One structured JSON event per line on stdout. Secrets never reach the log: the paths below are
 * redacted wherever they appear in a logged object.
 */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service: 'file-transformer' },
    redact: {
      paths: [
        'secretAccessKey',
        '*.secretAccessKey',
        'apiToken',
        '*.apiToken',
        'authorization',
        '*.authorization',
        'req.headers.authorization',
      ],
      censor: '[redacted]',
    },
  });
}
