/**
 * The probes' own HTTP/1.1 client (domain/probes/http1.ts, behind probeRequest for plain http:
 * URLs) against real servers: node:http ones, and raw TCP ones that answer byte by byte, by
 * chunks, until close, or with nonsense. Each answer's status and body as node:http would read
 * them; kept-alive sockets reused, and one the server closed meanwhile retried on a fresh socket.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { probeRequest, type ProbeRequestError } from '../domain/probes/http-get';

const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();
after(() => {
  for (const s of servers) s.close();
  for (const socket of sockets) socket.destroy();
});

async function listen<T extends net.Server>(server: T): Promise<string> {
  servers.push(server);
  // Every server-side socket, so that the end of the file closes them all.
  server.on('connection', (socket: net.Socket) => (sockets.add(socket), socket.once('close', () => sockets.delete(socket))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A raw server: each request (up to its blank line) gets `answer(n)` written in `pieces`, then `after`. */
async function rawServer(
  answer: (n: number) => string,
  opts: { pieces?: number; closeAfter?: boolean } = {},
): Promise<{ base: string; connections: () => number }> {
  let connections = 0;
  let requests = 0;
  const server = net.createServer((socket) => {
    connections++;
    let pending = '';
    socket.on('error', () => undefined);
    socket.on('data', async (d) => {
      pending += d.toString('latin1');
      while (pending.includes('\r\n\r\n')) {
        pending = pending.slice(pending.indexOf('\r\n\r\n') + 4);
        const bytes = Buffer.from(answer(requests++), 'latin1');
        const size = Math.max(1, Math.ceil(bytes.length / (opts.pieces ?? 1)));
        for (let at = 0; at < bytes.length; at += size) {
          socket.write(bytes.subarray(at, at + size));
          if (opts.pieces) await new Promise((r) => setTimeout(r, 1));
        }
        if (opts.closeAfter) socket.end();
      }
    });
  });
  return { base: await listen(server), connections: () => connections };
}

describe('the probes’ HTTP/1.1 client', () => {
  test('reads status and body by Content-Length, and reuses the kept-alive socket for the next probe', async () => {
    let connections = 0;
    const server = http.createServer((req, res) => res.writeHead(req.url === '/bad' ? 503 : 200, { 'content-type': 'text/plain' }).end(`ok ${req.url}`));
    server.on('connection', () => connections++);
    const base = await listen(server);
    assert.deepEqual(await probeRequest(`${base}/healthz`, 'GET', 1_000, true), { status: 200, body: 'ok /healthz' });
    assert.deepEqual(await probeRequest(`${base}/bad`, 'GET', 1_000, false), { status: 503, body: '' });
    assert.deepEqual(await probeRequest(`${base}/healthz?x=1`, 'GET', 1_000, true), { status: 200, body: 'ok /healthz?x=1' });
    assert.equal(connections, 1, 'three probes, one connection');
  });

  test('reads a chunked body with trailers, answered a byte at a time', async () => {
    const body = 'status: all good';
    const { base } = await rawServer(
      () =>
        `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6;ext=1\r\n${body.slice(0, 6)}\r\n${(body.length - 6).toString(16)}\r\n${body.slice(6)}\r\n0\r\nX-Trailer: t\r\n\r\n`,
      { pieces: 200 },
    );
    assert.deepEqual(await probeRequest(`${base}/`, 'GET', 2_000, true), { status: 200, body });
    assert.deepEqual(await probeRequest(`${base}/`, 'GET', 2_000, true), { status: 200, body }, 'and again on the same socket');
  });

  test('reads a body that runs to the close, an interim 100 answer, HEAD and 204 without a body', async () => {
    const untilClose = await rawServer(() => 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nready', { closeAfter: true });
    assert.deepEqual(await probeRequest(`${untilClose.base}/`, 'GET', 1_000, true), { status: 200, body: 'ready' });
    assert.deepEqual(await probeRequest(`${untilClose.base}/`, 'GET', 1_000, true), { status: 200, body: 'ready' }, 'a new socket each time');
    assert.equal(untilClose.connections(), 2);

    const interim = await rawServer(() => 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    assert.deepEqual(await probeRequest(`${interim.base}/`, 'GET', 1_000, true), { status: 200, body: 'ok' });

    const headServer = http.createServer((req, res) =>
      res.writeHead(req.method === 'HEAD' ? 200 : 204, { 'content-length': req.method === 'HEAD' ? '10' : '0' }).end(),
    );
    const base = await listen(headServer);
    assert.deepEqual(await probeRequest(`${base}/`, 'HEAD', 1_000, true), { status: 200, body: '' });
    assert.deepEqual(await probeRequest(`${base}/`, 'GET', 1_000, true), { status: 204, body: '' });
    assert.deepEqual(await probeRequest(`${base}/`, 'HEAD', 1_000, false), { status: 200, body: '' }, 'the socket still usable after a HEAD');
  });

  test('a kept-alive socket the server closed meanwhile is retried on a fresh one, not a failed probe', async () => {
    let connections = 0;
    const server = http.createServer((_req, res) => res.end('ok'));
    server.on('connection', (socket) => {
      connections++;
      // Closed by the server right after its answer, as a restarting service drops its connections.
      server.once('request', (_req, res) => res.once('finish', () => setImmediate(() => socket.destroy())));
    });
    const base = await listen(server);
    for (let i = 0; i < 4; i++) assert.deepEqual(await probeRequest(`${base}/`, 'GET', 1_000, true), { status: 200, body: 'ok' }, `probe ${i}`);
    assert.ok(connections >= 4, `a fresh connection after each close (${connections})`);
  });

  test('refused, hung and nonsense answers fail as node:http would name them, each within its timeout', async () => {
    const free = net.createServer();
    const refusedBase = await listen(free);
    await new Promise<void>((resolve) => free.close(() => resolve()));
    const refused = await probeRequest(`${refusedBase}/`, 'GET', 1_000, false).catch((e: ProbeRequestError) => e);
    assert.equal((refused as ProbeRequestError).code, 'ECONNREFUSED');

    const hung = net.createServer((socket) => socket.on('error', () => undefined));
    const hungBase = await listen(hung);
    const t0 = Date.now();
    const timedOut = await probeRequest(`${hungBase}/`, 'GET', 300, false).catch((e: ProbeRequestError) => e);
    assert.equal((timedOut as ProbeRequestError).name, 'TimeoutError');
    assert.ok(Date.now() - t0 < 2_000, 'within about its timeout');

    const nonsense = await rawServer(() => 'SSH-2.0-OpenSSH_9.6\r\n\r\n');
    const bad = await probeRequest(`${nonsense.base}/`, 'GET', 1_000, false).catch((e: ProbeRequestError) => e);
    assert.match((bad as ProbeRequestError).code ?? '', /^HPE_/);

    const hangUp = await rawServer(() => 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort', { closeAfter: true });
    const cut = await probeRequest(`${hangUp.base}/`, 'GET', 1_000, false).catch((e: ProbeRequestError) => e);
    assert.equal((cut as ProbeRequestError).code, 'ECONNRESET', 'a body cut short is a hang-up');
  });
});
