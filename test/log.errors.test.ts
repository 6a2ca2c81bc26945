/** The service's log lines for errors (src/log.ts): each message once, the cause chain kept. */
import { describe, expect, it } from 'vitest';
import { toTransformerError } from '../src/errors.js';
import { createLogger, serializeError } from '../src/log.js';

describe('serializeError', () => {
  it('says a cause message that the error already carries once', () => {
    const cause = Object.assign(new Error('We encountered an internal error.'), {
      name: 'InternalError',
      $metadata: { httpStatusCode: 500 },
      $fault: 'server',
    });
    const err = toTransformerError(cause);
    const out = serializeError(err);
    expect(out.message).toBe('We encountered an internal error.');
    expect(out.type).toBe('TransientError');
    expect(out.stack).toContain('caused by: InternalError: We encountered an internal error.');
    expect((out as unknown as { retryable: boolean }).retryable).toBe(true);
  });

  it('keeps every distinct message of the chain, outermost first', () => {
    const err = new Error('upload failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:4568') });
    expect(serializeError(err).message).toBe('upload failed: connect ECONNREFUSED 127.0.0.1:4568');
  });

  it('is what the service logger writes under err', () => {
    const lines: string[] = [];
    const logger = createLogger('info', { write: (line: string) => void lines.push(line) });
    logger.warn({ err: new Error('same', { cause: new Error('same') }) }, 'retry');
    const event = JSON.parse(lines[0]!);
    expect(event.err.message).toBe('same');
    expect(event.err.stack).toContain('caused by: Error: same');
  });
});
