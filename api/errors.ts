/**
 * The one error mapper: every failure leaves as `{statusCode, error, message, requestId, ...}`.
 * Bad input is a 4xx naming the field; Temporal down is a 503 with Retry-After; anything else is a
 * 500 that says only its request id (the log has the rest). Never a stack trace.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AlreadyRunningError, RunEndedError, RunNotFoundError, RunRefusedError, TemporalUnreachableError, isTimeout, isUnreachable } from '../client';
import { ErrorResponseSchema, type ErrorResponse } from '../core/api';
import { ValidationError } from '../core/errors';

/** An error with its HTTP status, thrown by routes and hooks. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly extra: Partial<Pick<ErrorResponse, 'issues' | 'workflowId' | 'runId'>> & { retryAfterSeconds?: number; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Seconds a client should wait before retrying while Temporal is unreachable. */
export const UNAVAILABLE_RETRY_AFTER = 5;

const CONTEXT: Record<string, string> = { body: 'body', querystring: 'query', params: 'params', headers: 'headers' };

/** `/components/0/id` in `body` → `body.components[0].id`. */
function fieldPath(context: string | undefined, pointer: string): string {
  let out = CONTEXT[context ?? ''] ?? context ?? 'request';
  for (const part of pointer.split('/').filter(Boolean)) out += /^\d+$/.test(part) ? `[${part}]` : `.${part}`;
  return out;
}

export function toErrorResponse(
  err: unknown,
  requestId: string,
  contentType?: string,
): { body: ErrorResponse; headers: Record<string, string>; internal: boolean } {
  const body = (statusCode: number, message: string, extra: Partial<ErrorResponse> = {}): ErrorResponse => ({
    statusCode,
    error: STATUS_CODES[statusCode] ?? 'Error',
    message,
    requestId,
    ...extra,
  });
  if (hasZodFastifySchemaValidationErrors(err)) {
    const context = (err as FastifyError).validationContext;
    const issues = err.validation.flatMap((v) => {
      const path = fieldPath(context, v.instancePath);
      // Strict schemas: each unknown field is named where it is (`body.extra: unknown field`).
      const keys = v.keyword === 'unrecognized_keys' ? (v.params as { keys?: unknown }).keys : undefined;
      if (Array.isArray(keys) && keys.length > 0) return keys.map((k) => ({ path: `${path}.${String(k)}`, message: 'unknown field' }));
      return [{ path, message: v.message ?? 'invalid' }];
    });
    return { body: body(400, issues.map((i) => `${i.path}: ${i.message}`).join('; '), { issues }), headers: {}, internal: false };
  }
  if (err instanceof HttpError) {
    const headers = { ...err.extra.headers, ...(err.extra.retryAfterSeconds ? { 'retry-after': String(err.extra.retryAfterSeconds) } : {}) };
    return {
      body: body(err.statusCode, err.message, { issues: err.extra.issues, workflowId: err.extra.workflowId, runId: err.extra.runId }),
      headers,
      internal: false,
    };
  }
  if (err instanceof AlreadyRunningError)
    return { body: body(409, err.message, { workflowId: err.workflowId, runId: err.runId }), headers: {}, internal: false };
  if (err instanceof RunNotFoundError) return { body: body(404, err.message), headers: {}, internal: false };
  if (err instanceof RunEndedError) return { body: body(409, err.message, { workflowId: err.workflowId, runId: err.runId }), headers: {}, internal: false };
  if (err instanceof RunRefusedError) return { body: body(409, err.message), headers: {}, internal: false };
  // A call that reached Temporal but got no answer before the request's deadline (a busy worker
  // answering a query, gRPC DEADLINE_EXCEEDED, or CANCELLED, as gRPC sometimes reports a deadline:
  // `npm run fuzz` saw a backlog query end so) is said as such, not as Temporal being down.
  if (isTimeout(err))
    return {
      body: body(503, 'Temporal did not answer in time (a busy server or worker); try again shortly'),
      headers: { 'retry-after': String(UNAVAILABLE_RETRY_AFTER) },
      internal: false,
    };
  if (err instanceof TemporalUnreachableError || isUnreachable(err))
    return { body: body(503, 'Temporal is not reachable; try again shortly'), headers: { 'retry-after': String(UNAVAILABLE_RETRY_AFTER) }, internal: false };
  if (err instanceof ValidationError) return { body: body(400, err.message), headers: {}, internal: false };
  if ((err as FastifyError | undefined)?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    const given = contentType ? `content-type ${JSON.stringify(contentType.slice(0, 100))}` : 'a body without a content-type';
    return { body: body(415, `${given} is not accepted: send application/json (or no body where none is needed)`), headers: {}, internal: false };
  }
  const status = (err as FastifyError | undefined)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own client errors (bad JSON, 413, 415, ...): their messages name no internals.
    return { body: body(status, (err as Error).message), headers: {}, internal: false };
  }
  return { body: body(500, `internal error (request ${requestId}); the API log has the details`), headers: {}, internal: true };
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { body, headers, internal } = toErrorResponse(err, request.id, request.headers['content-type']);
    if (internal) request.log.error({ err }, 'request failed');
    else request.log.debug({ statusCode: body.statusCode, message: body.message }, 'request refused');
    return sendError(reply, body, headers);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!.slice(0, 200);
    return sendError(reply, { statusCode: 404, error: 'Not Found', message: `no route ${request.method} ${path}`, requestId: request.id }, {});
  });
}

/**
 * Fastify's `frameworkErrors`: failures before any route is found (a path whose %-escapes do not
 * decode) leave in the same shape as every other error, with the request id, instead of Fastify's own.
 */
export function frameworkErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', request.id);
  if (err.code === 'FST_ERR_BAD_URL') {
    const path = request.url.split('?')[0]!.slice(0, 200);
    void sendError(
      reply,
      {
        statusCode: 400,
        error: 'Bad Request',
        message: `path ${JSON.stringify(path)} is not a valid URL: a %-escape does not decode (percent-encode "%" as %25, and text as UTF-8)`,
        requestId: request.id,
        issues: [{ path: 'path', message: 'malformed percent-encoding' }],
      },
      {},
    );
    return;
  }
  const { body, headers, internal } = toErrorResponse(err, request.id, request.headers['content-type']);
  if (internal) request.log.error({ err }, 'request failed');
  void sendError(reply, body, headers);
}

/** Node's HTTP parser errors (`clientError`) the API answers, with what to say; the rest are a 400. */
const CLIENT_ERRORS: Record<string, { statusCode: number; message: string; path?: string }> = {
  HPE_INVALID_URL: {
    statusCode: 400,
    message: 'the request path is not valid: raw non-ASCII, space or control characters; percent-encode them (as UTF-8)',
    path: 'path',
  },
  HPE_HEADER_OVERFLOW: { statusCode: 431, message: 'the request headers are too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { statusCode: 408, message: 'the request did not arrive in time' },
};

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser refuses (raw non-ASCII bytes in the
 * path, a malformed request line or header) never becomes a request, so no route or error handler
 * sees it. It is answered here in the same shape as every other error, with a request id that the
 * log line names too, instead of Fastify's own `{"message":"Client Error"}`.
 */
export function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const known = CLIENT_ERRORS[err.code ?? ''];
  const statusCode = known?.statusCode ?? 400;
  const requestId = randomUUID();
  const body: ErrorResponse = ErrorResponseSchema.parse({
    statusCode,
    error: STATUS_CODES[statusCode] ?? 'Error',
    message: known?.message ?? 'the request is not valid HTTP',
    requestId,
    ...(known?.path ? { issues: [{ path: known.path, message: 'not a valid URL path' }] } : {}),
  });
  this.log.info({ reqId: requestId, statusCode, code: err.code, reason: err.message }, 'request refused by the HTTP parser');
  if (socket.writable) {
    const text = JSON.stringify(body);
    socket.write(
      `HTTP/1.1 ${statusCode} ${body.error}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n` +
        `x-request-id: ${requestId}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy(err);
}

/** Sends an error body with its own serializer, whatever the route declared. */
function sendError(reply: FastifyReply, body: ErrorResponse, headers: Record<string, string>): FastifyReply {
  return reply
    .code(body.statusCode)
    .headers(headers)
    .type('application/json; charset=utf-8')
    .serializer((payload: unknown) => JSON.stringify(ErrorResponseSchema.parse(payload)))
    .send(body);
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'bad input: `issues` names each field (`body.components[0]`) and what was expected',
  401: 'no bearer token, or an unknown one',
  403: "the token's role or component scope does not allow this",
  404: 'unknown component or run',
  409: 'a recovery is already running (its `workflowId`), or the run refused (e.g. it has ended)',
  413: 'body over 64 KiB',
  415: 'body is not application/json',
  429: 'too many run starts for this token; see Retry-After',
  503: 'Temporal is not reachable, or did not answer in time; see Retry-After',
};

/** OpenAPI response entries for the errors a route can answer with. */
export function errorResponses(...codes: number[]) {
  return Object.fromEntries(
    codes.map((c) => [
      c,
      { description: ERROR_DESCRIPTIONS[c] ?? STATUS_CODES[c] ?? 'error', content: { 'application/json': { schema: ErrorResponseSchema } } },
    ]),
  );
}
