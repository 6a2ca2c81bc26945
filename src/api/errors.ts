/**
 * One error shape for every response that is not a success: `{ error, message }`, where `error` is a
 * short stable code (the HTTP reason without spaces) and `message` says what to fix. Validation
 * failures, bad JSON, unknown routes and thrown errors all end here, so clients parse one shape.
 */
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance } from 'fastify';
import { ConfigError } from '../errors.js';

/** JSON schema of the error body, referenced by every route's responses (`$ref: 'ApiError#'`). */
export const apiErrorSchema = {
  $id: 'ApiError',
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', examples: ['NotFound'] },
    message: { type: 'string' },
  },
} as const;

const CODES: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  413: 'PayloadTooLarge',
  415: 'UnsupportedMediaType',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

export function errorCode(status: number): string {
  return CODES[status] ?? (status >= 500 ? 'InternalServerError' : 'BadRequest');
}

/** Thrown by route handlers for an expected refusal (404 unknown key, 400 bad cursor, ...). */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Longest error message sent: an answer (and its log line) stays small whatever the input was. */
export const MAX_ERROR_MESSAGE_LENGTH = 2000;

function capMessage(message: string): string {
  return message.length <= MAX_ERROR_MESSAGE_LENGTH
    ? message
    : `${message.slice(0, MAX_ERROR_MESSAGE_LENGTH)}…`;
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: 'NotFound', message: `no route ${request.method} ${request.url}` });
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    let status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
    let message = err.message;
    if (err.validation) {
      status = 400;
      message = `invalid ${err.validationContext ?? 'request'}: ${err.message}`;
    } else if (err instanceof ConfigError || err.name === 'ConfigError' || err.name === 'RangeError') {
      // The service rejects bad settings (a cron that does not parse, a cursor it did not issue)
      // with these: the caller's input is at fault, not the server.
      status = 400;
    }
    // An HttpError is a refusal the route chose, its message written for the caller (a 503 says "send
    // it again"); any other 5xx is unexpected and its message may expose internals.
    if (status >= 500 && !(err instanceof HttpError)) {
      request.log.error({ err }, 'request failed');
      // Internal details stay in the log.
      message = 'internal error; see the service log';
    }
    reply.code(status).send({ error: errorCode(status), message: capMessage(message) });
  });
}

/**
 * A request Node's HTTP parser refused (headers too large, a body length that does not match, bad
 * framing): answered on the raw socket, still as `{ error, message }`, then the connection closes.
 */
export function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const status =
    err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const reason =
    status === 431 ? 'RequestHeaderFieldsTooLarge' : status === 408 ? 'RequestTimeout' : 'BadRequest';
  const message =
    status === 431
      ? 'the request headers are too large'
      : status === 408
        ? 'the request took too long to arrive'
        : `the request is not valid HTTP (${err.code ?? 'parse error'})`;
  const body = JSON.stringify({ error: reason, message });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
