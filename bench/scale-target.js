// The scale benchmark's cheap target: one Node process answering the health endpoints of many
// components on one port, so thousands of components cost one process. Plain JavaScript so it
// starts fast and stays small.
//   PORT        port to listen on (127.0.0.1; 0 picks one, printed as "listening <port>")
//   COMPONENTS  how many components: ids 0 .. COMPONENTS-1
// Endpoints, per component <i>:
//   GET  /c/<i>/healthz   200 while healthy, 503 once failed
//   POST /c/<i>/fail      fail it (what the benchmark injects); answers the time it failed (epoch ms)
//   POST /c/<i>/restart   the recovery: healthy again (idempotent: a second call changes nothing)
//   GET  /c/<i>/status    { healthy, failedAt, restartedAt, restarts }
// GET /stats: { requests } answered since start.
'use strict';
const { Buffer } = require('node:buffer');
const http = require('node:http');

const count = Number(process.env.COMPONENTS || 0);
if (!Number.isInteger(count) || count < 1) {
  process.stderr.write('scale-target: COMPONENTS must be a positive integer\n');
  process.exit(2);
}
const healthy = new Uint8Array(count).fill(1);
const failedAt = new Float64Array(count);
const restartedAt = new Float64Array(count);
const restarts = new Uint32Array(count);
let requests = 0;

const ROUTE = /^\/c\/(\d+)\/(healthz|fail|restart|status)$/;

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  requests++;
  if (req.url === '/stats') return send(res, 200, { requests });
  const m = ROUTE.exec(req.url || '');
  const i = m ? Number(m[1]) : -1;
  if (!m || i >= count) return send(res, 404, { error: 'no such component' });
  const action = m[2];
  if (action === 'healthz' && req.method === 'GET') return send(res, healthy[i] ? 200 : 503, { id: i, healthy: healthy[i] === 1 });
  if (action === 'status' && req.method === 'GET')
    return send(res, 200, { healthy: healthy[i] === 1, failedAt: failedAt[i] || null, restartedAt: restartedAt[i] || null, restarts: restarts[i] });
  if (action === 'fail' && req.method === 'POST') {
    healthy[i] = 0;
    failedAt[i] = Date.now();
    return send(res, 200, { failedAt: failedAt[i] });
  }
  if (action === 'restart' && req.method === 'POST') {
    if (!healthy[i]) {
      healthy[i] = 1;
      restartedAt[i] = Date.now();
      restarts[i]++;
    }
    return send(res, 200, { restartedAt: restartedAt[i] || null });
  }
  send(res, 405, { error: 'method not allowed' });
});
// Probes come in bursts of thousands at once: keep their connections open between sweeps.
server.keepAliveTimeout = 30_000;
server.maxRequestsPerSocket = 0;
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  // Kept-alive probe connections would otherwise hold the close for their idle timeout.
  server.closeAllConnections();
});
