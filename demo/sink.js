// A small real sink for backlog replay demos and tests: it stores items it receives, once each.
//   PORT        port to listen on (127.0.0.1)
//   STORE_FILE  JSON of received items in arrival order, rewritten atomically on every new item
//   FAIL_RATE   0..1: that fraction of POST /items and GET /items/<id> answers 503 at random
//   DEDUPE      "off" stores every POST as a new copy (tests use it to catch a double delivery)
// Endpoints: GET /healthz, GET /admin/stats (counters; answers even while down), POST /items
// (body {id, createdAt, payload}; a second POST of the same id
// answers 200 {duplicate:true} and stores nothing), GET /items/<id> (200/404), GET /items (all, in
// arrival order), POST /admin/down and /admin/up (while down, /healthz and /items* answer 503).
// POST /admin/reject-posts?status=422 makes every POST /items answer that status (a sink whose
// validation refuses what it gets), POST /admin/accept-posts ends it.
// Each stored item keeps the x-mend-batch header it came with; /admin/stats reports the most requests
// it ever had in flight at once on /items (maxInFlight), so tests can see that replay never overlaps.
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');

const port = Number(process.env.PORT || 0);
const storeFile = process.env.STORE_FILE || path.join(process.cwd(), 'sink.store.json');
const failRate = Math.min(1, Math.max(0, Number(process.env.FAIL_RATE || 0)));
const dedupe = process.env.DEDUPE !== 'off';
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

function log(message) {
  process.stdout.write(`${new Date().toISOString()} sink[${process.pid}] ${message}\n`);
}

function loadStore() {
  try {
    return JSON.parse(fs.readFileSync(storeFile, 'utf8'));
  } catch (err) {
    if (err.code === 'ENOENT') return { items: [] };
    log(`store file ${storeFile} is corrupt: ${err.message}`);
    process.exit(3);
  }
}

const store = loadStore();
store.items = store.items || [];
const byId = new Map(store.items.map((item) => [item.id, item]));

function saveStore() {
  fs.mkdirSync(path.dirname(storeFile), { recursive: true });
  const tmp = `${storeFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(store, null, 2));
  fs.renameSync(tmp, storeFile);
}

let down = false;
/** While set, every POST /items answers this status and stores nothing. */
let rejectPostsWith = 0;
// refusedWhileDown: /healthz and /items* requests answered 503 because of /admin/down (an outage was felt).
const stats = { posts: 0, duplicates: 0, injectedFailures: 0, maxInFlight: 0, refusedWhileDown: 0 };
let inFlight = 0;

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req) {
  let body = '';
  let bytes = 0;
  for await (const chunk of req) {
    bytes += chunk.length;
    if (bytes > MAX_BODY_BYTES) return undefined;
    body += chunk;
  }
  return body;
}

const server = http.createServer((req, res) => {
  // Replay traffic only (lookups and posts), not health checks or the listing.
  if (req.url.startsWith('/items/') || (req.method === 'POST' && req.url === '/items')) {
    inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
    res.once('close', () => inFlight--);
  }
  void handle(req, res);
});

async function handle(req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (req.method === 'POST' && url.pathname === '/admin/down') {
    down = true;
    log('down: healthz and items answer 503');
    return send(res, 200, { down: true });
  }
  if (req.method === 'POST' && url.pathname === '/admin/up') {
    down = false;
    log('up again');
    return send(res, 200, { down: false });
  }
  if (req.method === 'POST' && url.pathname === '/admin/reject-posts') {
    rejectPostsWith = Number(url.searchParams.get('status') || 422);
    log(`rejecting posts with ${rejectPostsWith}`);
    return send(res, 200, { rejectPostsWith });
  }
  if (req.method === 'POST' && url.pathname === '/admin/accept-posts') {
    rejectPostsWith = 0;
    log('accepting posts again');
    return send(res, 200, { rejectPostsWith });
  }
  if (req.method === 'GET' && url.pathname === '/admin/stats') return send(res, 200, { down, items: store.items.length, ...stats });
  if (req.method === 'GET' && url.pathname === '/healthz') {
    if (down) {
      stats.refusedWhileDown++;
      return send(res, 503, { status: 'down' });
    }
    return send(res, 200, { status: 'ok', items: store.items.length, ...stats });
  }
  const one = /^\/items\/([^/]+)$/.exec(url.pathname);
  if (url.pathname !== '/items' && !one) return send(res, 404, { error: 'not found' });
  if (down) {
    stats.refusedWhileDown++;
    return send(res, 503, { error: 'sink is down' });
  }
  if (req.method === 'GET' && url.pathname === '/items') return send(res, 200, { items: store.items });
  // Injected failures hit the replay protocol (lookups and posts), not the listing above.
  if (Math.random() < failRate) {
    stats.injectedFailures++;
    return send(res, 503, { error: 'injected failure (FAIL_RATE)' });
  }
  if (one && req.method === 'GET') {
    let id;
    try {
      id = decodeURIComponent(one[1]);
    } catch {
      return send(res, 400, { error: 'bad item id' });
    }
    const item = byId.get(id);
    return item ? send(res, 200, item) : send(res, 404, { error: 'no such item' });
  }
  if (!one && req.method === 'POST') {
    stats.posts++;
    if (rejectPostsWith) return send(res, rejectPostsWith, { error: `posts rejected with ${rejectPostsWith} (/admin/reject-posts)` });
    const text = await readBody(req);
    if (text === undefined) return send(res, 413, { error: `body larger than ${MAX_BODY_BYTES} bytes` });
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      return send(res, 400, { error: 'body is not JSON' });
    }
    if (!body || typeof body.id !== 'string' || !ID_RE.test(body.id)) return send(res, 422, { error: 'expected {id, createdAt, payload} with a valid id' });
    const key = req.headers['idempotency-key'];
    if (key !== undefined && key !== body.id) return send(res, 422, { error: 'Idempotency-Key does not match the item id' });
    if (dedupe && byId.has(body.id)) {
      stats.duplicates++;
      return send(res, 200, { id: body.id, duplicate: true });
    }
    const batch = req.headers['x-mend-batch'];
    const item = {
      id: body.id,
      createdAt: body.createdAt,
      payload: body.payload,
      seq: store.items.length + 1,
      receivedAt: new Date().toISOString(),
      ...(batch ? { batch } : {}),
    };
    store.items.push(item);
    byId.set(item.id, item);
    saveStore();
    return send(res, 201, { id: item.id, stored: true, seq: item.seq });
  }
  send(res, 405, { error: 'method not allowed' });
}

function shutdown(signal) {
  log(`${signal}: stopping`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

server.listen(port, '127.0.0.1', () => {
  log(`listening on 127.0.0.1:${server.address().port} (${store.items.length} items stored, FAIL_RATE=${failRate}${dedupe ? '' : ', DEDUPE=off'})`);
});
