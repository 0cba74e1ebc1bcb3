/**
 * One HTTP(S) request for a health probe. Plain `http:` URLs go through http1.ts, a minimal
 * keep-alive HTTP/1.1 client; HTTPS and URLs with credentials through node:http with keep-alive
 * agents rather than `fetch` (a worker probing thousands of endpoints a second spent ~310 µs of CPU
 * per probe in fetch, ~120 µs in node:http). Redirects are never followed (as `redirect: 'manual'`).
 */
import http from 'node:http';
import https from 'node:https';
import { urlToHttpOptions } from 'node:url';
import { http1Request, http1Target, type Http1Target } from './http1';
import { ProbeRequestError, type ProbeAnswer } from './probe-error';

export { ProbeRequestError, type ProbeAnswer };

/** Bodies are read only when a probe looks into them, and only this much of them. */
const MAX_BODY = 1024 * 1024;

const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };

/**
 * A probe URL's request options, parsed once: a sweep probes the same URLs every interval, and
 * parsing each one anew (WHATWG URL, its getters, then the conversion to request options) was
 * about 10 µs of CPU per probe in an agent's profile, and garbage. Bounded: past this many URLs,
 * the others are parsed each time.
 */
const MAX_PARSED = 50_000;

type Prepared =
  { client: 'http1'; target: Http1Target } | { client: 'node'; transport: typeof http | typeof https; options: http.RequestOptions } | ProbeRequestError;

const parsed = new Map<string, Prepared>();

function prepare(url: string): Prepared {
  const known = parsed.get(url);
  if (known) return known;
  const target = new URL(url);
  const agent = agents[target.protocol as keyof typeof agents];
  const made: Prepared = !agent
    ? new ProbeRequestError(`unsupported protocol ${target.protocol}`, undefined)
    : target.protocol === 'http:' && target.username === '' && target.password === ''
      ? { client: 'http1', target: http1Target(target) }
      : { client: 'node', transport: target.protocol === 'https:' ? https : http, options: { ...urlToHttpOptions(target), agent } };
  if (parsed.size < MAX_PARSED) parsed.set(url, made);
  return made;
}

/**
 * GET/HEAD `url` within `timeoutMs` (the whole exchange, not an idle gap). A kept-alive socket the
 * server closed meanwhile (it restarted) fails with ECONNRESET on reuse: that one case is sent
 * again once on a fresh socket, so a restart does not read as a failed probe.
 */
export function probeRequest(url: string, method: 'GET' | 'HEAD', timeoutMs: number, readBody: boolean): Promise<ProbeAnswer> {
  let made: Prepared;
  try {
    made = prepare(url);
  } catch (err) {
    return Promise.reject(new ProbeRequestError((err as Error).message, (err as NodeJS.ErrnoException).code));
  }
  if (made instanceof ProbeRequestError) return Promise.reject(made);
  if (made.client === 'http1') return http1Request(made.target, method, timeoutMs, readBody, MAX_BODY);
  const { transport, options } = made;
  const deadline = Date.now() + timeoutMs;
  const attempt = (retried: boolean): Promise<ProbeAnswer> =>
    new Promise((resolve, reject) => {
      const req = transport.request({ ...options, method }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (!readBody || size >= MAX_BODY) return;
          chunks.push(chunk);
          size += chunk.length;
        });
        res.once('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: readBody ? Buffer.concat(chunks).toString('utf8').slice(0, MAX_BODY) : '' });
        });
        res.once('error', fail);
      });
      const timer = setTimeout(
        () => req.destroy(new ProbeRequestError(`no answer within ${timeoutMs}ms`, undefined, 'TimeoutError')),
        Math.max(1, deadline - Date.now()),
      );
      function fail(err: NodeJS.ErrnoException) {
        clearTimeout(timer);
        if (!retried && req.reusedSocket && err.code === 'ECONNRESET' && Date.now() < deadline) return void attempt(true).then(resolve, reject);
        reject(err instanceof ProbeRequestError ? err : new ProbeRequestError(err.message, err.code));
      }
      req.once('error', fail);
      req.end();
    });
  return attempt(false);
}
