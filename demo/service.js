// A small real service for the demo fleet: an HTTP health endpoint, a state file, and optional
// dependencies whose health it checks. Plain JavaScript so it starts fast (recovery time counts).
//   MEND_DEMO_NAME  name shown in answers          PORT        port to listen on (127.0.0.1)
//   STATE_FILE      JSON state, rewritten atomically on every change and on shutdown
//   DEPENDS_ON      comma-separated health URLs this service needs to be healthy
//   FAIL_FIRST_STARTS  exit at once on the first N starts (counted in the state file): a flaky start
//   CRASH_AFTER_MS     exit this long after every start (a crash loop) ...
//   FIXED_FILE         ... unless this file exists: creating it is "deploying the fix"
//   CONNECT_DEPENDENCIES=1  hold a "connection" to each DEPENDS_ON service, opened at start: the
//       service remembers each dependency's pid (from its /healthz) and answers 503 "stale
//       connection to <dep>" once that dependency has restarted, or "started without <dep>" when
//       the dependency was not healthy at start, until the service itself is restarted. Starts
//       made while a dependency was not healthy are counted as `startsWithoutDependency` in the
//       state file (the benchmark's "started before its dependency was healthy").
//   DEPENDENCY_START_TIMEOUT_MS  how long that start-time look may wait for an answer (default 500)
// Endpoints: GET /healthz, GET|PUT /items/<key>, POST /admin/hang (stop answering), POST /admin/unhang,
// POST /admin/crash, POST /admin/restart (an in-process restart: clears a hang, counted as `restarts`
// in the state file; what an http adapter's restart call hits), POST /admin/drain|undrain (items answer 503 while drained; counted as `drains`).
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');

const name = process.env.MEND_DEMO_NAME || 'demo';
const port = Number(process.env.PORT || 0);
const stateFile = process.env.STATE_FILE || path.join(process.cwd(), `${name}.state.json`);
const dependsOn = (process.env.DEPENDS_ON || '').split(',').filter(Boolean);

function log(message) {
  process.stdout.write(`${new Date().toISOString()} ${name}[${process.pid}] ${message}\n`);
}

function loadState() {
  try {
    return JSON.parse(fs.readFileSync(stateFile, 'utf8'));
  } catch (err) {
    if (err.code === 'ENOENT') return { name, starts: 0, items: {} };
    log(`state file ${stateFile} is corrupt: ${err.message}`);
    process.exit(3);
  }
}

const state = loadState();
state.starts = (state.starts || 0) + 1;
state.lastStartedAt = new Date().toISOString();
state.items = state.items || {};

function saveState() {
  fs.mkdirSync(path.dirname(stateFile), { recursive: true });
  const tmp = `${stateFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2));
  fs.renameSync(tmp, stateFile);
}
saveState();

const failFirst = Number(process.env.FAIL_FIRST_STARTS || 0);
if (state.starts <= failFirst) {
  log(`start #${state.starts} fails on purpose (FAIL_FIRST_STARTS=${failFirst})`);
  process.exit(4);
}

const crashAfter = Number(process.env.CRASH_AFTER_MS || 0);
if (crashAfter > 0 && !(process.env.FIXED_FILE && fs.existsSync(process.env.FIXED_FILE))) {
  setTimeout(() => {
    log(`crashing ${crashAfter}ms after start (CRASH_AFTER_MS; create FIXED_FILE to stop this)`);
    process.exit(5);
  }, crashAfter);
}

let hung = false;
let draining = false;
const connectDependencies = process.env.CONNECT_DEPENDENCIES === '1';
/** url -> { name, pid } of each dependency as found at start (CONNECT_DEPENDENCIES); pid undefined: not healthy then. */
const connections = new Map();

/**
 * How long the start-time look at a dependency may take (DEPENDENCY_START_TIMEOUT_MS, default
 * 500): a bench on a loaded box gives a healthy but slow dependency longer, so only a dependency
 * really not answering counts a start as made without it.
 */
const startLookMs = Number(process.env.DEPENDENCY_START_TIMEOUT_MS) || 500;

/** One GET of a dependency's /healthz: { ok, name, pid, problem }. */
async function askDependency(url, timeoutMs = 500) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = await res.json().catch(() => ({}));
    return { ok: res.ok, name: body.name || url, pid: body.pid, problem: res.ok ? undefined : `${url} answered ${res.status}` };
  } catch (err) {
    return { ok: false, name: url, pid: undefined, problem: `${url} unreachable (${err.cause?.code || err.name})` };
  }
}

/** At start: remember each dependency's identity; count this start when one was not healthy. */
async function connectToDependencies() {
  const found = await Promise.all(dependsOn.map(async (url) => [url, await askDependency(url, startLookMs)]));
  for (const [url, dep] of found) connections.set(url, { name: dep.name, pid: dep.ok ? dep.pid : undefined });
  const missing = found.filter(([, dep]) => !dep.ok).map(([, dep]) => dep.name);
  if (missing.length > 0) {
    state.startsWithoutDependency = (state.startsWithoutDependency || 0) + 1;
    saveState();
    log(`started without ${missing.join(', ')} (start #${state.starts}; ${state.startsWithoutDependency} such start(s) so far)`);
  }
}

async function dependencyProblems() {
  if (connectDependencies) {
    const problems = [];
    await Promise.all(
      dependsOn.map(async (url) => {
        const conn = connections.get(url);
        if (!conn || conn.pid === undefined) {
          problems.push(`started without ${conn?.name || url}`);
          return;
        }
        const now = await askDependency(url);
        if (!now.ok) problems.push(now.problem);
        else if (now.pid !== conn.pid) problems.push(`stale connection to ${conn.name} (it restarted: pid ${conn.pid} -> ${now.pid})`);
      }),
    );
    return problems;
  }
  const problems = [];
  await Promise.all(
    dependsOn.map(async (url) => {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(500) });
        await res.body?.cancel();
        if (!res.ok) problems.push(`${url} answered ${res.status}`);
      } catch (err) {
        problems.push(`${url} unreachable (${err.cause?.code || err.name})`);
      }
    }),
  );
  return problems;
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://localhost');
  // Never answers: a hang, as a probe sees it. The admin endpoints that end a hang still answer.
  if (hung && url.pathname !== '/admin/unhang' && url.pathname !== '/admin/restart') return;
  if (req.method === 'GET' && url.pathname === '/healthz') {
    const problems = await dependencyProblems();
    return send(res, problems.length ? 503 : 200, {
      status: problems.length ? 'degraded' : 'ok',
      name,
      pid: process.pid,
      starts: state.starts,
      restarts: state.restarts || 0,
      problems,
      draining,
      drains: state.drains || 0,
    });
  }
  // Drained: the service stays up and healthy but takes no traffic (a runbook drains it while what it calls restarts).
  if (req.method === 'POST' && (url.pathname === '/admin/drain' || url.pathname === '/admin/undrain')) {
    draining = url.pathname === '/admin/drain';
    if (draining) state.drains = (state.drains || 0) + 1;
    saveState();
    log(draining ? 'drained: items answer 503 until undrained' : 'undrained');
    return send(res, 200, { draining, drains: state.drains || 0 });
  }
  const item = /^\/items\/([\w.-]{1,100})$/.exec(url.pathname);
  if (item && draining) return send(res, 503, { error: 'draining' });
  if (item && req.method === 'GET') {
    const key = item[1];
    return key in state.items ? send(res, 200, { key, value: state.items[key] }) : send(res, 404, { error: `no item ${key}` });
  }
  if (item && req.method === 'PUT') {
    let body = '';
    for await (const chunk of req) body += chunk;
    state.items[item[1]] = body;
    saveState();
    return send(res, 200, { key: item[1], stored: true });
  }
  if (req.method === 'POST' && url.pathname === '/admin/hang') {
    log('hanging: health checks will get no answer');
    hung = true;
    return send(res, 200, { hung: true });
  }
  if (req.method === 'POST' && url.pathname === '/admin/unhang') {
    hung = false;
    return send(res, 200, { hung: false });
  }
  if (req.method === 'POST' && url.pathname === '/admin/restart') {
    hung = false;
    state.restarts = (state.restarts || 0) + 1;
    state.lastRestartedAt = new Date().toISOString();
    saveState();
    log(`restarted in process (restart #${state.restarts})`);
    return send(res, 200, { restarted: true, restarts: state.restarts });
  }
  if (req.method === 'POST' && url.pathname === '/admin/crash') {
    log('crashing on request');
    send(res, 200, { crashing: true });
    return setImmediate(() => process.exit(1));
  }
  send(res, 404, { error: 'not found' });
});

function shutdown(signal) {
  log(`${signal}: saving state and stopping`);
  saveState();
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

function listen() {
  server.listen(port, '127.0.0.1', () => {
    log(`listening on 127.0.0.1:${server.address().port} (start #${state.starts}${dependsOn.length ? `, needs ${dependsOn.join(', ')}` : ''})`);
  });
}
// With CONNECT_DEPENDENCIES the service answers only once it has "connected" (looked at each dependency).
if (connectDependencies) void connectToDependencies().then(listen);
else listen();
