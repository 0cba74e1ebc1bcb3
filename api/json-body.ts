/**
 * How the API reads request bodies: JSON only, parsed here instead of by Fastify's default parser
 * so that junk gets a 400 that says what is wrong with it.
 *
 * - An empty body is no body, and a route that declares a body then validates `{}`: routes that
 *   take nothing accept an absent body or `{}`, and a required field is named when it is missing.
 * - A JSON value that is not an object (`null`, an array, a number, a string) reaches the route's
 *   schema as itself, which refuses it with `body: expected object`.
 * - `__proto__` anywhere, or `constructor` holding `prototype` (the keys that pollute prototypes
 *   when an object is copied) is a 400 "forbidden key" naming where it is; Fastify's own parser
 *   would only say "Body is not valid JSON".
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from './errors';

/** Where the first forbidden key is (`body.alerts[0].labels.__proto__`), if any. */
export function forbiddenKeyPath(value: unknown, at = 'body'): string | undefined {
  const stack: Array<{ value: unknown; at: string }> = [{ value, at }];
  while (stack.length > 0) {
    const { value: v, at: here } = stack.pop()!;
    if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push({ value: item, at: `${here}[${i}]` }));
    } else if (v !== null && typeof v === 'object') {
      for (const key of Object.keys(v)) {
        const child = (v as Record<string, unknown>)[key];
        if (key === '__proto__') return `${here}.${key}`;
        if (key === 'constructor' && child !== null && typeof child === 'object' && Object.hasOwn(child, 'prototype')) return `${here}.constructor.prototype`;
        stack.push({ value: child, at: `${here}.${key}` });
      }
    }
  }
  return undefined;
}

/** The JSON parser for application/json (any charset parameter). */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    // JSON.parse defines "__proto__" as an own key (no pollution here); the walk below refuses it.
    value = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `body is not valid JSON: ${(err as Error).message}`, { issues: [{ path: 'body', message: 'not valid JSON' }] });
  }
  const forbidden = forbiddenKeyPath(value);
  if (forbidden) {
    const key = forbidden.slice(forbidden.lastIndexOf('.') + 1);
    throw new HttpError(400, `${forbidden}: forbidden key "${key === 'prototype' ? 'constructor.prototype' : key}"`, {
      issues: [{ path: forbidden, message: 'forbidden key' }],
    });
  }
  return value;
}

/** Installs the JSON parser, and `{}` for a missing body on routes that declare one. */
export function installBodyParsing(app: FastifyInstance, bodyLimit: number): void {
  // JSON only: anything else is a 415, never parsed as text.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit },
    (_request: FastifyRequest, body: string, done: (err: Error | null, value?: unknown) => void) => {
      try {
        done(null, parseJsonBody(body));
      } catch (err) {
        done(err as Error);
      }
    },
  );
  // Fastify hands a missing body to the validator as null, which would be the same as a JSON null:
  // a route that declares a body sees `{}` instead, so only a literal null is refused as one.
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined && request.routeOptions.schema?.body !== undefined) request.body = {};
  });
}
