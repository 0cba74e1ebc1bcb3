/** The command and http adapters and the command probe against real processes and HTTP servers on loopback. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AdapterError, restartAdapter, startAdapter, stopAdapter } from '../domain/adapters';
import { probeComponent } from '../domain/probes';
import { parseConfig } from '../core/config';
import type { Component } from '../core/schemas';
import { freePort } from '../scripts/ports';
import { demoStarts, httpStatus, ROOT, tempDir, waitFor } from './helpers';

const dir = tempDir('adapters');

/** One component parsed the way mend parses config files (defaults applied, relative cwd resolved against `dir`). */
function component(fields: Record<string, unknown>): Component {
  const raw = { components: [{ id: 'c', probe: { type: 'tcp', port: 1 }, ...fields }] };
  return parseConfig(JSON.stringify(raw), 'test', { baseDir: dir, stateDir: path.join(dir, '.mend') }).components[0]!;
}

/** sh is used only to build test commands; the adapter itself never runs a shell. */
const sh = (script: string) => ['sh', '-c', script];

async function adapterError(promise: Promise<unknown>): Promise<AdapterError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof AdapterError, `expected an AdapterError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the adapter to fail');
}

describe('command adapter', () => {
  const marker = path.join(dir, 'running.marker');
  const log = path.join(dir, 'calls.log');
  const markerComponent = (extra: Record<string, unknown> = {}) =>
    component({
      adapter: {
        type: 'command',
        start: sh(`echo start >> "${log}"; touch "${marker}"`),
        stop: sh(`echo stop >> "${log}"; rm -f "${marker}"`),
        status: ['test', '-f', marker],
        ...extra,
      },
    });

  test('with a status command, a second start and a second stop do nothing', async () => {
    const c = markerComponent();
    const first = await startAdapter(c);
    assert.equal(first.started, true);
    assert.ok(existsSync(marker));
    const second = await startAdapter(c);
    assert.deepEqual(second, { started: false, detail: 'already running (status exited 0)' });

    const stop = await stopAdapter(c);
    assert.equal(stop.stopped, true);
    assert.ok(!existsSync(marker));
    const stopAgain = await stopAdapter(c);
    assert.equal(stopAgain.stopped, false);
    assert.match(stopAgain.detail, /not running/);
    assert.deepEqual(lines(log), ['start', 'stop'], 'start and stop each ran once');
  });

  test('without status, start and stop run every time; restart without a restart argv is stop + start', async () => {
    const c = component({ adapter: { type: 'command', start: sh(`echo up >> "${log}.2"; echo started`), stop: sh(`echo down >> "${log}.2"`) } });
    const started = await startAdapter(c);
    assert.equal(started.started, true);
    assert.match(started.detail, /exited 0 .*: started$/);
    assert.equal((await stopAdapter(c)).stopped, true);
    assert.equal((await restartAdapter(c)).started, true);
    assert.deepEqual(lines(`${log}.2`), ['up', 'down', 'down', 'up']);
  });

  test('the restart argv is used when configured; env and cwd come from the config', async () => {
    const c = component({
      adapter: { type: 'command', start: ['false'], stop: ['false'], restart: sh('echo "$GREETING from $(pwd)"'), env: { GREETING: 'hello' }, cwd: 'sub/..' },
    });
    const outcome = await restartAdapter(c);
    assert.equal(outcome.started, true);
    assert.match(outcome.detail, new RegExp(`hello from ${dir}$`));
  });

  test('arguments reach the program as they are: no shell expands them', async () => {
    const c = component({ adapter: { type: 'command', start: ['node', '-e', 'console.log(process.argv[1])', '$HOME; echo *'], stop: ['true'] } });
    assert.match((await startAdapter(c)).detail, /: \$HOME; echo \*$/);
  });

  test('a non-zero exit is a retryable "unknown" failure carrying the tail of the output', async () => {
    const c = component({ adapter: { type: 'command', start: sh('echo "disk quota exceeded" >&2; exit 7'), stop: ['true'] } });
    const err = await adapterError(startAdapter(c));
    assert.equal(err.failureClass, 'unknown');
    assert.equal(err.retryable, true);
    assert.match(err.message, /exited 7; output: disk quota exceeded/);
  });

  test('a missing binary is a non-retryable "resource" failure', async () => {
    const c = component({ adapter: { type: 'command', start: ['/no/such/binary', 'start'], stop: ['true'] } });
    const err = await adapterError(startAdapter(c));
    assert.equal(err.failureClass, 'resource');
    assert.equal(err.retryable, false);
    assert.match(err.message, /cannot run "\/no\/such\/binary".*ENOENT/);
    const statusMissing = component({ adapter: { type: 'command', start: ['true'], stop: ['true'], status: ['no-such-status-command-xyz'] } });
    assert.equal((await adapterError(stopAdapter(statusMissing))).failureClass, 'resource');
  });

  test('a command running past its timeout is killed, with its children, and reported as a retryable timeout', async () => {
    const childPidFile = path.join(dir, 'sleeper.pid');
    // The shell starts a sleeping child: the whole group must go, or the child would linger.
    const c = component({ adapter: { type: 'command', start: ['true'], stop: sh(`sleep 30 & echo $! > "${childPidFile}"; wait`), stopTimeout: '500ms' } });
    const started = Date.now();
    let beats = 0;
    const slow = component({ adapter: { type: 'command', start: ['sleep', '5'], stop: ['true'], timeout: '1500ms' } });
    const [stopErr, startErr] = await Promise.all([adapterError(stopAdapter(c)), adapterError(startAdapter(slow, () => beats++))]);
    const elapsed = Date.now() - started;
    assert.equal(stopErr.failureClass, 'timeout');
    assert.equal(stopErr.retryable, true);
    assert.match(stopErr.message, /did not exit within 500ms/);
    assert.equal(startErr.failureClass, 'timeout');
    assert.ok(elapsed < 1500 + 1000, `reported after ${elapsed}ms`);
    assert.ok(beats >= 1, 'heartbeats while the command runs');
    const sleeper = Number(readFileSync(childPidFile, 'utf8'));
    await waitFor("the timed-out command's child to be gone", 2_000, () => ['Z', undefined].includes(procState(sleeper)));
  });

  test('a start command that leaves a daemon holding its output returns once the command exits', async () => {
    const pidFile = path.join(dir, 'daemon.pid');
    const c = component({ adapter: { type: 'command', start: sh(`sleep 30 & echo $! > "${pidFile}"; echo launched`), stop: ['true'], timeout: '5s' } });
    const started = Date.now();
    const outcome = await startAdapter(c);
    assert.ok(Date.now() - started < 2_000, 'does not wait for the daemon');
    assert.match(outcome.detail, /launched/);
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
  });
});

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/** A process's state letter (Z = zombie), undefined when it is gone. */
function procState(pid: number): string | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

describe('http adapter', () => {
  let server: http.Server;
  let base: string;
  const seen: Array<{ method: string; url: string; auth?: string }> = [];

  before(async () => {
    server = http.createServer((req, res) => {
      seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization });
      const status = Number(/^\/status\/(\d{3})$/.exec(req.url!)?.[1] ?? 0);
      if (status) return res.writeHead(status, { 'content-type': 'text/plain' }).end(`answer ${status}`);
      if (req.url === '/redirect') return res.writeHead(302, { location: '/status/200' }).end();
      if (req.url === '/slow') return void setTimeout(() => res.end('late'), 3_000).unref();
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const httpComponent = (adapter: Record<string, unknown>) => component({ adapter: { type: 'http', ...adapter } });

  test('start calls the restart endpoint when no start is configured, with the configured method and headers', async () => {
    seen.length = 0;
    const c = httpComponent({ restart: { url: `${base}/status/200` }, headers: { authorization: 'Bearer t0ken' } });
    const outcome = await startAdapter(c);
    assert.equal(outcome.started, true);
    assert.match(outcome.detail, /answered 200/);
    assert.deepEqual(seen, [{ method: 'POST', url: '/status/200', auth: 'Bearer t0ken' }]);
  });

  test('start and stop use their own calls; without a stop call, stop does nothing', async () => {
    seen.length = 0;
    const c = httpComponent({
      restart: { url: `${base}/status/500` },
      start: { url: `${base}/status/201`, method: 'PUT' },
      stop: { url: `${base}/status/204`, method: 'DELETE' },
    });
    assert.equal((await startAdapter(c)).started, true);
    assert.equal((await stopAdapter(c)).stopped, true);
    assert.deepEqual(
      seen.map((s) => `${s.method} ${s.url}`),
      ['PUT /status/201', 'DELETE /status/204'],
    );

    seen.length = 0;
    const noStop = httpComponent({ restart: { url: `${base}/status/200` } });
    assert.deepEqual(await stopAdapter(noStop), { stopped: false, detail: 'no stop endpoint configured' });
    assert.equal(seen.length, 0, 'nothing was called');
  });

  test('expectStatus replaces "any 2xx"', async () => {
    assert.equal((await restartAdapter(httpComponent({ restart: { url: `${base}/status/202`, expectStatus: 202 } }))).started, true);
    const err = await adapterError(restartAdapter(httpComponent({ restart: { url: `${base}/status/200`, expectStatus: 202 } })));
    assert.match(err.message, /answered 200 \(expected 202\)/);
  });

  test('401 and 403 are non-retryable auth failures', async () => {
    for (const status of [401, 403]) {
      const err = await adapterError(restartAdapter(httpComponent({ restart: { url: `${base}/status/${status}` } })));
      assert.equal(err.failureClass, 'auth');
      assert.equal(err.retryable, false);
      assert.match(err.message, new RegExp(`answered ${status} \\(expected 2xx\\): answer ${status}`));
    }
  });

  test('5xx is retryable; other 4xx (a wrong URL) is not', async () => {
    const server500 = await adapterError(restartAdapter(httpComponent({ restart: { url: `${base}/status/500` } })));
    assert.equal(server500.retryable, true);
    assert.equal(server500.failureClass, 'unknown');
    const unavailable = await adapterError(restartAdapter(httpComponent({ restart: { url: `${base}/status/503` } })));
    assert.deepEqual([unavailable.failureClass, unavailable.retryable], ['resource', true]);
    const notFound = await adapterError(restartAdapter(httpComponent({ restart: { url: `${base}/nowhere` } })));
    assert.deepEqual([notFound.failureClass, notFound.retryable], ['data', false]);
  });

  test('redirects are not followed', async () => {
    seen.length = 0;
    const err = await adapterError(restartAdapter(httpComponent({ restart: { url: `${base}/redirect` } })));
    assert.match(err.message, /answered 302 .*redirect to \/status\/200 not followed/);
    assert.deepEqual(
      seen.map((s) => s.url),
      ['/redirect'],
    );
  });

  test('an unreachable endpoint is a retryable network failure; a slow one a retryable timeout', async () => {
    const port = await freePort();
    const down = await adapterError(restartAdapter(httpComponent({ restart: { url: `http://127.0.0.1:${port}/admin/restart` } })));
    assert.deepEqual([down.failureClass, down.retryable], ['network', true]);
    assert.match(down.message, /ECONNREFUSED/);

    const started = Date.now();
    const slow = await adapterError(restartAdapter(httpComponent({ restart: { url: `${base}/slow` }, timeout: '300ms' })));
    assert.deepEqual([slow.failureClass, slow.retryable], ['timeout', true]);
    assert.match(slow.message, /no answer within 300ms/);
    assert.ok(Date.now() - started < 1_500);
  });

  test('the restart call of a real demo service ends its hang and is counted in its state file', async (t) => {
    const port = await freePort();
    const stateDir = tempDir('http-demo');
    const proc = spawn(process.execPath, [path.join(ROOT, 'demo/service.js')], {
      env: { ...process.env, MEND_DEMO_NAME: 'web', PORT: String(port), STATE_FILE: path.join(stateDir, 'state', 'web.json') },
      stdio: 'ignore',
    });
    t.after(() => void proc.kill('SIGKILL'));
    const url = `http://127.0.0.1:${port}`;
    await waitFor('demo healthy', 10_000, async () => (await httpStatus(`${url}/healthz`)) === 200);
    assert.equal((await fetch(`${url}/admin/hang`, { method: 'POST' })).status, 200);
    assert.equal(await httpStatus(`${url}/healthz`, 300), undefined, 'hung');

    const outcome = await restartAdapter(httpComponent({ restart: { url: `${url}/admin/restart` } }));
    assert.equal(outcome.started, true);
    assert.equal(await httpStatus(`${url}/healthz`), 200);
    const state = JSON.parse(readFileSync(path.join(stateDir, 'state', 'web.json'), 'utf8')) as { starts: number; restarts: number };
    assert.deepEqual([state.starts, state.restarts], [1, 1]);
    assert.equal(demoStarts(stateDir, 'web'), 1, 'an in-process restart is not a process start');
  });
});

describe('command probe', () => {
  const probeWith = (probe: Record<string, unknown>) =>
    probeComponent(component({ adapter: { type: 'command', start: ['true'], stop: ['true'] }, probe: { type: 'command', ...probe } }));

  test('exit 0 is healthy; the detail has the exit code and the last output line', async () => {
    const result = await probeWith({ command: sh('echo checking; echo "all 3 replicas ready"') });
    assert.equal(result.healthy, true);
    assert.equal(result.detail, 'exit 0: all 3 replicas ready');
    assert.equal(result.failureClass, undefined);
    assert.equal(typeof result.latencyMs, 'number');
  });

  test('a non-zero exit is unhealthy, class unknown', async () => {
    const result = await probeWith({ command: sh('echo "replica 2 lagging" >&2; exit 2') });
    assert.deepEqual([result.healthy, result.failureClass, result.detail], [false, 'unknown', 'exit 2: replica 2 lagging']);
  });

  test('runs in its cwd', async () => {
    const result = await probeWith({ command: ['pwd'], cwd: '.' });
    assert.equal(result.detail, `exit 0: ${dir}`);
  });

  test('a probe past its timeout is unhealthy, class timeout, and returns within about the timeout', async () => {
    const result = await probeWith({ command: ['sleep', '10'], timeout: '300ms' });
    assert.deepEqual([result.healthy, result.failureClass], [false, 'timeout']);
    assert.match(result.detail, /no exit within 300ms/);
    // Ended at the timeout, not after the command's 10 s (a loaded box adds its own delay: 1.47 s seen with the checks running beside the tests).
    assert.ok(result.latencyMs < 5_000, `took ${result.latencyMs}ms`);
  });

  test('a missing program is unhealthy, class resource, and does not throw', async () => {
    const result = await probeWith({ command: ['/no/such/check'] });
    assert.deepEqual([result.healthy, result.failureClass], [false, 'resource']);
    assert.match(result.detail, /ENOENT/);
  });
});
