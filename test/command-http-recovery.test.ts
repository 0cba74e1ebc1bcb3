/**
 * `mend run immediate` through the command and http adapters, on the shared dev server: a demo
 * service driven by an operator's control script is killed and restarted; a hung demo service is
 * restarted through its own admin endpoint.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RecoveryResult } from '../core/run';
import { freePort } from '../scripts/ports';
import { demoStarts, httpStatus, ROOT, runCli, sharedServer, startInProcessWorker, tempDir, uniqueQueue, waitFor, type TestWorker } from './helpers';

const CTL = path.join(ROOT, 'test/fixtures/demo-ctl.js');

function onlyResult(stdout: string): RecoveryResult {
  const runs = JSON.parse(stdout) as Array<{ result: RecoveryResult }>;
  assert.equal(runs.length, 1);
  return runs[0]!.result;
}

function readPid(file: string): number | undefined {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

describe('immediate recovery through the command and http adapters', () => {
  const dir = tempDir('command-http');
  const queue = uniqueQueue('command-http');
  const suffix = Date.now().toString(36);
  const cmdId = `ctl-${suffix}`;
  const httpId = `admin-${suffix}`;
  const deniedId = `denied-${suffix}`;
  const pidFile = path.join(dir, 'run', `${cmdId}.pid`);
  const configFile = path.join(dir, 'mend.config.yaml');
  let cmdPort: number;
  let httpPort: number;
  let worker: TestWorker;
  let hungService: ChildProcess | undefined;
  /** Refuses every admin call with 401 and counts them; its health endpoint says 503. */
  let refusing: http.Server;
  let refusingPort: number;
  const refused: string[] = [];
  const env = () => ({ MEND_TEMPORAL_ADDRESS: sharedServer().address, MEND_TASK_QUEUE: queue, MEND_CONFIG: configFile, MEND_HOME: path.join(dir, '.mend') });
  const ctl = (action: string) =>
    new Promise<number | null>((resolve) => {
      const proc = spawn(process.execPath, [CTL, action], {
        env: { ...process.env, PID_FILE: pidFile, PORT: String(cmdPort), STATE_FILE: path.join(dir, 'state', `${cmdId}.json`), MEND_DEMO_NAME: cmdId },
        stdio: 'ignore',
      });
      proc.once('exit', resolve);
    });

  before(async () => {
    cmdPort = await freePort();
    httpPort = await freePort();
    refusing = http.createServer((req, res) => {
      if (req.url === '/admin/restart') refused.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      res.writeHead(req.url === '/admin/restart' ? 401 : 503).end(req.url === '/admin/restart' ? 'bad token' : 'down');
    });
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    refusingPort = (refusing.address() as { port: number }).port;
    const policy = { strategy: 'immediate', timeout: '10s', validateInterval: '100ms' };
    const node = process.execPath;
    // JSON is YAML: the config is written as JSON; relative paths resolve against its folder.
    const config = {
      version: 1,
      components: [
        {
          id: cmdId,
          adapter: {
            type: 'command',
            start: [node, CTL, 'start'],
            stop: [node, CTL, 'stop'],
            status: [node, CTL, 'status'],
            env: { PID_FILE: `run/${cmdId}.pid`, PORT: String(cmdPort), STATE_FILE: `state/${cmdId}.json`, MEND_DEMO_NAME: cmdId },
            timeout: '5s',
            stopTimeout: '5s',
          },
          probe: { type: 'http', url: `http://127.0.0.1:${cmdPort}/healthz`, timeout: '500ms' },
          policy,
        },
        {
          id: httpId,
          adapter: { type: 'http', restart: { url: `http://127.0.0.1:${httpPort}/admin/restart` }, timeout: '2s' },
          probe: { type: 'http', url: `http://127.0.0.1:${httpPort}/healthz`, timeout: '300ms' },
          policy,
        },
        {
          id: deniedId,
          adapter: {
            type: 'http',
            restart: { url: `http://127.0.0.1:${refusingPort}/admin/restart` },
            headers: { authorization: 'Bearer expired' },
            timeout: '2s',
          },
          probe: { type: 'http', url: `http://127.0.0.1:${refusingPort}/healthz`, timeout: '300ms' },
          policy,
        },
      ],
    };
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    worker = await startInProcessWorker(queue);
  });

  after(async () => {
    await ctl('stop');
    hungService?.kill('SIGKILL');
    refusing?.close();
    await worker?.stop();
  });

  test('a SIGKILLed service run by start/stop/status commands is started again by its start command', async () => {
    const url = `http://127.0.0.1:${cmdPort}/healthz`;
    assert.equal(await ctl('start'), 0);
    await waitFor('service healthy', 10_000, async () => (await httpStatus(url)) === 200);
    const first = readPid(pidFile)!;
    process.kill(first, 'SIGKILL');
    await waitFor('service down', 5_000, async () => (await httpStatus(url)) === undefined);

    const run = await runCli(['run', 'immediate', cmdId, '--json', '--reason', 'test kill'], env());
    assert.equal(run.code, 0, `mend run failed: ${run.stderr}${run.stdout}`);
    const result = onlyResult(run.stdout);
    assert.equal(result.outcome, 'recovered');
    const step = (name: string) => result.steps.find((s) => s.name === name);
    assert.equal(step('stop')?.status, 'ok');
    assert.match(step('stop')?.detail ?? '', /not running/, 'status said the killed service was not running, so stop was skipped');
    assert.match(step('start')?.detail ?? '', /start command exited 0/);
    assert.equal(step('validate')?.status, 'ok');

    assert.equal(await httpStatus(url), 200);
    const now = readPid(pidFile);
    assert.ok(now && now !== first, 'the start command launched a new process');
    assert.equal(demoStarts(dir, cmdId), 2);
  });

  test('a hung service is restarted through its admin endpoint and answers again', async () => {
    const base = `http://127.0.0.1:${httpPort}`;
    hungService = spawn(process.execPath, [path.join(ROOT, 'demo/service.js')], {
      env: { ...process.env, MEND_DEMO_NAME: httpId, PORT: String(httpPort), STATE_FILE: path.join(dir, 'state', `${httpId}.json`) },
      stdio: 'ignore',
    });
    await waitFor('service healthy', 10_000, async () => (await httpStatus(`${base}/healthz`)) === 200);
    assert.equal((await fetch(`${base}/admin/hang`, { method: 'POST' })).status, 200);
    assert.equal(await httpStatus(`${base}/healthz`, 300), undefined, 'hung: the health endpoint no longer answers');

    const run = await runCli(['run', 'immediate', httpId, '--json'], env());
    assert.equal(run.code, 0, `mend run failed: ${run.stderr}${run.stdout}`);
    const result = onlyResult(run.stdout);
    assert.equal(result.outcome, 'recovered');
    const step = (name: string) => result.steps.find((s) => s.name === name);
    assert.match(step('probe')?.detail ?? '', /timeout/);
    assert.match(step('stop')?.detail ?? '', /no stop endpoint configured/);
    assert.match(step('start')?.detail ?? '', /POST .*\/admin\/restart answered 200/);

    assert.equal(await httpStatus(`${base}/healthz`), 200);
    const state = JSON.parse(readFileSync(path.join(dir, 'state', `${httpId}.json`), 'utf8')) as { starts: number; restarts: number };
    assert.deepEqual({ starts: state.starts, restarts: state.restarts }, { starts: 1, restarts: 1 }, 'restarted in process, not a new process');
    assert.equal(hungService.exitCode, null, 'the same process still runs');
  });

  test('an admin endpoint refusing the credentials fails the run after one call: auth is not retried', async () => {
    const run = await runCli(['run', 'immediate', deniedId, '--json'], env());
    assert.equal(run.code, 1, `${run.stderr}${run.stdout}`);
    const result = onlyResult(run.stdout);
    assert.equal(result.outcome, 'failed');
    assert.match(result.reason ?? '', /answered 401 \(expected 2xx\): bad token/);
    assert.equal(result.steps.find((s) => s.name === 'start')?.status, 'failed');
    assert.deepEqual(refused, ['POST /admin/restart Bearer expired'], 'one call: the activity was not retried');
  });
});
