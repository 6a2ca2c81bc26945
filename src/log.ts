import { type DestinationStream, type Logger, type LoggerOptions, pino, stdSerializers } from 'pino';

export type { Logger };

/**
 * One structured JSON event per line on stdout. Errors go under `err`, always the error object itself
 * (pino's serializer writes its type, message, stack, cause chain and our fields such as `code` and
 * `retryable`), never `String(err)`. Secrets: the paths below are redacted at the top level and one
 * level down (`*.x`; pino's wildcards match one level only), which covers every event the service
 * logs (its configuration is logged through `redactedConfig`); a secret nested deeper would not be.
 */
export function createLogger(
  level = process.env.LOG_LEVEL ?? 'info',
  destination?: DestinationStream,
): Logger {
  const options = {
    level,
    base: { service: 'file-transformer' },
    serializers: { err: serializeError },
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
  } satisfies LoggerOptions;
  // Without a destination pino picks its own default (stdout), as it always has here.
  return destination ? pino(options, destination) : pino(options);
}

/**
 * pino's own error serializer, with a message that says each thing once. pino joins the messages of
 * the cause chain (`outer: cause`), and our errors usually carry their cause's message as their own,
 * which printed "injected InternalError: injected InternalError" on every retry line.
 */
export function serializeError(err: unknown): ReturnType<typeof stdSerializers.err> {
  const out = stdSerializers.err(err as Error);
  if (err instanceof Error) out.message = distinctMessages(err);
  return out;
}

function distinctMessages(err: Error): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 10; depth++, e = e.cause) {
    const message = e.message;
    if (message !== '' && !parts.some((p) => p.includes(message))) parts.push(message);
  }
  return parts.join(': ');
}
