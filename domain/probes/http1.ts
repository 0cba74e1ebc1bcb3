/**
 * A minimal HTTP/1.1 client for health probes of plain `http:` URLs: one prebuilt request per URL
 * written to a kept-alive socket, and the answer parsed from the socket's bytes (status line,
 * headers, then the body by Content-Length, chunks or the connection's close). Probing 500
 * components a second under the agent's node flags took 170 µs of CPU per probe through node:http
 * (its request and response streams, the keep-alive agent's bookkeeping, the garbage of both) and
 * 112 µs this way. HTTPS and URLs with credentials go through node:http (http-get.ts).
 */
import net from 'node:net';
import { ProbeRequestError, type ProbeAnswer } from './probe-error';

/** What a probe of one URL sends and where: parsed once per URL (http-get.ts keeps them). */
export interface Http1Target {
  host: string;
  port: number;
  /** `GET /healthz HTTP/1.1` and its headers, per method. */
  request: Record<'GET' | 'HEAD', Buffer>;
}

/** A failed exchange; `stale`: on a reused socket the server had closed before any answer (worth one retry on a fresh socket). */
type ExchangeError = ProbeRequestError & { stale?: boolean };

/** Nothing pending between two chunks of an answer. */
const NO_BYTES = Buffer.alloc(0);

/** Headers longer than this are no health answer. */
const MAX_HEAD = 64 * 1024;
/** Idle sockets kept per host and port (most recently used first). */
const MAX_IDLE = 512;

const idle = new Map<string, net.Socket[]>();

export function http1Target(url: URL): Http1Target {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? 80 : Number(url.port);
  const path = `${url.pathname}${url.search}`;
  const head = (method: string) =>
    Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: mend-probe\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n`, 'latin1');
  return { host, port, request: { GET: head('GET'), HEAD: head('HEAD') } };
}

/** GET/HEAD within `timeoutMs` (the whole exchange); a reused socket the server closed meanwhile is retried once on a fresh one. */
export function http1Request(target: Http1Target, method: 'GET' | 'HEAD', timeoutMs: number, readBody: boolean, maxBody: number): Promise<ProbeAnswer> {
  const deadline = Date.now() + timeoutMs;
  const key = `${target.host}:${target.port}`;
  const attempt = (fresh: boolean): Promise<ProbeAnswer> => {
    const pooled = fresh ? undefined : idle.get(key)?.pop();
    const socket = pooled ?? net.connect({ host: target.host, port: target.port, noDelay: true });
    return exchange(socket, pooled !== undefined, target.request[method], method === 'HEAD', Math.max(1, deadline - Date.now()), readBody, maxBody).then(
      ({ answer, reusable }) => {
        if (reusable) keepIdle(key, socket);
        else socket.destroy();
        return answer;
      },
      (err: ExchangeError) => {
        socket.destroy();
        if (err.stale && Date.now() < deadline) return attempt(true);
        throw err;
      },
    );
  };
  return attempt(false);
}

/** How to take an idle socket back out of the pool: its pool listeners removed. */
const leaveIdle = new WeakMap<net.Socket, () => void>();

/** Back in the pool, not keeping the process alive; dropped when the server closes it. */
function keepIdle(key: string, socket: net.Socket): void {
  let list = idle.get(key);
  if (!list) idle.set(key, (list = []));
  if (list.length >= MAX_IDLE) return void socket.destroy();
  socket.unref();
  const pool = list;
  const drop = () => {
    const at = pool.indexOf(socket);
    if (at >= 0) pool.splice(at, 1);
    socket.destroy();
  };
  // Nothing is due on an idle socket: data, an end or an error all retire it.
  socket.once('close', drop).once('error', drop).once('data', drop).once('end', drop);
  leaveIdle.set(socket, () => {
    socket.off('close', drop).off('error', drop).off('data', drop).off('end', drop);
    socket.ref();
  });
  pool.push(socket);
}

interface Exchanged {
  answer: ProbeAnswer;
  /** The socket is at a message boundary and the server keeps it open. */
  reusable: boolean;
}

function exchange(
  socket: net.Socket,
  reused: boolean,
  request: Buffer,
  head: boolean,
  timeoutMs: number,
  readBody: boolean,
  maxBody: number,
): Promise<Exchanged> {
  if (reused) leaveIdle.get(socket)?.();
  return new Promise((resolve, reject) => {
    const parser = new ResponseParser(head, readBody, maxBody);
    let settled = false;
    const done = (err: ExchangeError | undefined, value?: Exchanged) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData).off('error', onError).off('end', onEnd).off('close', onEnd);
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => done(new ProbeRequestError(`no answer within ${timeoutMs}ms`, undefined, 'TimeoutError')), timeoutMs);
    const onData = (chunk: Buffer) => {
      let status: ReturnType<ResponseParser['feed']>;
      try {
        status = parser.feed(chunk);
      } catch (err) {
        return done(err as ProbeRequestError);
      }
      if (status === 'complete') done(undefined, { answer: parser.answer(), reusable: parser.keepAlive });
    };
    const onError = (err: NodeJS.ErrnoException) => {
      const stale = reused && !parser.started && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
      done(Object.assign(new ProbeRequestError(err.message, err.code), { stale }));
    };
    const onEnd = () => {
      // A body that runs to the connection's close ends here; anything else cut short is a hang-up.
      if (parser.endedByClose()) return done(undefined, { answer: parser.answer(), reusable: false });
      done(Object.assign(new ProbeRequestError('socket hang up', 'ECONNRESET'), { stale: reused && !parser.started }));
    };
    socket.on('data', onData).once('error', onError).once('end', onEnd).once('close', onEnd);
    socket.write(request);
  });
}

type Stage = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'close' | 'complete';

/** An HTTP/1.x response parsed from the bytes as they come: status, framing, and the body's start when asked. */
class ResponseParser {
  private stage: Stage = 'head';
  private pending: Buffer = NO_BYTES;
  private status = 0;
  private remaining = 0;
  private readonly body: Buffer[] = [];
  private bodySize = 0;
  keepAlive = true;
  /** Any byte of the answer came. */
  started = false;

  constructor(
    private readonly head: boolean,
    private readonly readBody: boolean,
    private readonly maxBody: number,
  ) {}

  answer(): ProbeAnswer {
    return { status: this.status, body: this.readBody ? Buffer.concat(this.body).toString('utf8').slice(0, this.maxBody) : '' };
  }

  endedByClose(): boolean {
    return this.stage === 'close' || this.stage === 'complete';
  }

  feed(chunk: Buffer): 'more' | 'complete' {
    this.started = true;
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = NO_BYTES;
    while (data.length > 0 && this.stage !== 'complete') {
      switch (this.stage) {
        case 'head': {
          const end = data.indexOf('\r\n\r\n');
          if (end < 0) {
            if (data.length > MAX_HEAD) throw new ProbeRequestError('response headers too long', 'HPE_HEADER_OVERFLOW');
            this.pending = data;
            return 'more';
          }
          this.readHead(data.toString('latin1', 0, end));
          data = data.subarray(end + 4);
          break;
        }
        case 'length':
          data = this.bodyPart(data, 'complete');
          break;
        case 'chunk-size': {
          const end = data.indexOf('\r\n');
          if (end < 0) {
            if (data.length > 1024) throw new ProbeRequestError('malformed chunk size', 'HPE_INVALID_CHUNK_SIZE');
            this.pending = data;
            return 'more';
          }
          const size = parseInt(data.toString('latin1', 0, end).split(';')[0]!.trim(), 16);
          if (!Number.isInteger(size) || size < 0) throw new ProbeRequestError('malformed chunk size', 'HPE_INVALID_CHUNK_SIZE');
          data = data.subarray(end + 2);
          this.remaining = size;
          this.stage = size === 0 ? 'trailers' : 'chunk-data';
          break;
        }
        case 'chunk-data':
          data = this.bodyPart(data, 'chunk-end');
          break;
        case 'chunk-end': {
          if (data.length < 2) {
            this.pending = data;
            return 'more';
          }
          if (data[0] !== 0x0d || data[1] !== 0x0a) throw new ProbeRequestError('malformed chunk', 'HPE_STRICT');
          data = data.subarray(2);
          this.stage = 'chunk-size';
          break;
        }
        case 'trailers': {
          // The last chunk's trailer section: empty (\r\n) or header lines ending in an empty line.
          if (data.length >= 2 && data[0] === 0x0d && data[1] === 0x0a) {
            data = data.subarray(2);
            this.stage = 'complete';
            break;
          }
          const end = data.indexOf('\r\n\r\n');
          if (end < 0) {
            if (data.length > MAX_HEAD) throw new ProbeRequestError('response trailers too long', 'HPE_HEADER_OVERFLOW');
            this.pending = data;
            return 'more';
          }
          data = data.subarray(end + 4);
          this.stage = 'complete';
          break;
        }
        case 'close':
          this.keep(data);
          data = data.subarray(data.length);
          break;
      }
    }
    // Bytes after a complete answer: the server is not speaking request-response; do not reuse it.
    if (this.stage === 'complete' && data.length > 0) this.keepAlive = false;
    return this.stage === 'complete' ? 'complete' : 'more';
  }

  /** Up to `remaining` bytes of body from `data`; `next` once they are all in. Returns what follows them. */
  private bodyPart(data: Buffer, next: Stage): Buffer {
    const take = Math.min(this.remaining, data.length);
    this.keep(data.subarray(0, take));
    this.remaining -= take;
    if (this.remaining === 0) this.stage = next;
    return data.subarray(take);
  }

  private keep(part: Buffer): void {
    if (!this.readBody || this.bodySize >= this.maxBody || part.length === 0) return;
    this.body.push(part);
    this.bodySize += part.length;
  }

  private readHead(text: string): void {
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0] ?? '');
    if (!m) throw new ProbeRequestError(`not an HTTP/1.x answer: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`, 'HPE_INVALID_CONSTANT');
    const status = Number(m[2]);
    let length: number | undefined;
    let chunked = false;
    let connection = '';
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') length = Number(value);
      else if (name === 'transfer-encoding') chunked = value.toLowerCase().split(',').pop()!.trim() === 'chunked';
      else if (name === 'connection') connection = value.toLowerCase();
    }
    // An interim answer (100 Continue, 103 Early Hints): the real one follows.
    if (status >= 100 && status < 200 && status !== 101) return;
    this.status = status;
    this.keepAlive = m[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive');
    if (this.head || status === 204 || status === 304 || status === 101) {
      if (status === 101) this.keepAlive = false;
      this.stage = 'complete';
    } else if (chunked) this.stage = 'chunk-size';
    else if (length !== undefined) {
      if (!Number.isInteger(length) || length < 0) throw new ProbeRequestError('malformed Content-Length', 'HPE_INVALID_CONTENT_LENGTH');
      this.remaining = length;
      this.stage = length === 0 ? 'complete' : 'length';
    } else {
      this.keepAlive = false;
      this.stage = 'close';
    }
  }
}
