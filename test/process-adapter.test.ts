/** The process adapter and probes against real processes, sockets and HTTP servers. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { deathOf, isAlive, readPidFile, readProcStat, runningProcess, startMarkerOf, startProcess, stopProcess } from '../domain/adapters/process';
import { probeHttp, probeTcp } from '../domain/probes';
import type { ProcessAdapter } from '../core/schemas';
import { freePort } from '../scripts/ports';
import { demoProcessAdapter, httpStatus, tempDir, waitFor } from './helpers';

describe('process adapter', () => {
  const dir = tempDir('adapter');
  const started: ProcessAdapter[] = [];
  after(async () => {
    for (const adapter of started) await stopProcess(adapter).catch(() => undefined);
  });

  test('start is idempotent: a second start finds the live process and starts nothing', async () => {
    const { adapter, url } = await demoProcessAdapter(dir, 'idem');
    started.push(adapter);
    const first = await startProcess(adapter);
    const second = await startProcess(adapter);
    assert.equal(first.started, true);
    assert.deepEqual(second, { started: false, pid: first.pid });
    await waitFor('healthy', 10_000, async () => (await httpStatus(url)) === 200);
    const record = await readPidFile(adapter.pidFile!);
    assert.equal(record?.pid, first.pid);
  });

  test('two starts at once of one component (a retried attempt beside the one still running) spawn one process', async () => {
    const { adapter, url } = await demoProcessAdapter(dir, 'twice');
    started.push(adapter);
    const both = await Promise.all([startProcess(adapter), startProcess(adapter)]);
    assert.deepEqual(both.map((o) => o.started).sort(), [false, true], JSON.stringify(both));
    assert.equal(both[0].pid, both[1].pid, 'the second names the process the first started');
    await waitFor('healthy', 10_000, async () => (await httpStatus(url)) === 200);
    const state = JSON.parse(readFileSync(path.join(dir, 'twice.json'), 'utf8')) as { starts: number };
    assert.equal(state.starts, 1, 'one process ever started');
  });

  test('a start cut off before its pid file was written is adopted on retry, never spawned twice', async () => {
    const { adapter, url } = await demoProcessAdapter(dir, 'cutoff');
    started.push(adapter);
    const first = await startProcess(adapter);
    assert.equal(existsSync(startMarkerOf(adapter.pidFile!)), false, 'a start that wrote its pid file leaves no marker');
    await waitFor('healthy', 10_000, async () => (await httpStatus(url)) === 200);
    // What a worker SIGKILLed between the spawn and the pid file write leaves: a live process, no pid
    // file, and its start marker (the writer gone).
    rmSync(adapter.pidFile!);
    writeFileSync(startMarkerOf(adapter.pidFile!), '{}');
    const retry = await startProcess(adapter);
    assert.deepEqual(retry, { started: false, pid: first.pid });
    assert.equal((await readPidFile(adapter.pidFile!))?.pid, first.pid, 'the pid file names the adopted process');
    const state = JSON.parse(readFileSync(path.join(dir, 'cutoff.json'), 'utf8')) as { starts: number };
    assert.equal(state.starts, 1, 'one process ever started');
    assert.equal(existsSync(startMarkerOf(adapter.pidFile!)), false, 'adopted: the marker is cleared');
    rmSync(adapter.pidFile!);
    writeFileSync(startMarkerOf(adapter.pidFile!), '{}');
    assert.deepEqual(await stopProcess(adapter), { stopped: true, pid: first.pid, forced: false }, 'stop finds it without a pid file too');
    assert.equal(await httpStatus(url), undefined);
  });

  test('stop ends the process gracefully, and a second stop is a no-op', async () => {
    const { adapter, url } = await demoProcessAdapter(dir, 'stop');
    started.push(adapter);
    const { pid } = await startProcess(adapter);
    await waitFor('healthy', 10_000, async () => (await httpStatus(url)) === 200);
    const stop = await stopProcess(adapter);
    assert.deepEqual(stop, { stopped: true, pid, forced: false });
    assert.equal(await httpStatus(url), undefined);
    assert.deepEqual(await stopProcess(adapter), { stopped: false, forced: false });
    assert.equal(await readPidFile(adapter.pidFile!), undefined, 'pid file removed');
  });

  test('a frozen (SIGSTOPped) process is still stopped', async () => {
    const { adapter, url } = await demoProcessAdapter(dir, 'frozen');
    started.push(adapter);
    const { pid } = await startProcess(adapter);
    await waitFor('healthy', 10_000, async () => (await httpStatus(url)) === 200);
    process.kill(pid, 'SIGSTOP');
    const stop = await stopProcess(adapter);
    assert.equal(stop.stopped, true);
    // Dead: gone, or a zombie for the moment until Node (its parent here) reaps it.
    const left = readProcStat(pid);
    assert.ok(left === undefined || left.state === 'Z', `process is gone (${JSON.stringify(left)})`);
  });

  test('a pid file naming a reused pid is not taken for the component', async () => {
    const { adapter } = await demoProcessAdapter(dir, 'reused');
    // Our own pid is alive, but with another start time than the file claims.
    const own = readProcStat(process.pid)!;
    writeFileSync(adapter.pidFile!, JSON.stringify({ pid: process.pid, startTicks: own.startTicks - 1, command: ['x'], startedAt: '' }));
    assert.equal(await runningProcess(adapter), undefined);
    assert.deepEqual(await stopProcess(adapter), { stopped: false, forced: false }, 'stop does not signal the unrelated process');
  });

  test('a pid file read again is taken anew once it changed, whether replaced or rewritten in place, and is gone once removed', async () => {
    const file = path.join(dir, 'reread.pid');
    const record = (pid: number) => JSON.stringify({ pid, startTicks: 1, command: ['x'], startedAt: '' });
    writeFileSync(file, record(101));
    assert.equal((await readPidFile(file))?.pid, 101);
    assert.equal((await readPidFile(file))?.pid, 101, 'unchanged');
    // Replaced (another inode), as mend writes it.
    writeFileSync(`${file}.tmp`, record(202));
    renameSync(`${file}.tmp`, file);
    assert.equal((await readPidFile(file))?.pid, 202);
    // Rewritten in place: same inode, another size.
    writeFileSync(file, record(3030));
    assert.equal((await readPidFile(file))?.pid, 3030);
    // Same inode and size, another mtime.
    writeFileSync(file, record(4040));
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    assert.equal((await readPidFile(file))?.pid, 4040);
    rmSync(file);
    assert.equal(await readPidFile(file), undefined);
  });

  test('a zombie counts as dead', async () => {
    // `sleep 30` becomes the parent of the short sleep and never reaps it: a zombie.
    const parent = spawn('sh', ['-c', 'sleep 0.1 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const zombiePid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(d.toString()))));
    try {
      const stat = await waitFor('zombie state', 5_000, () => readProcStat(zombiePid)?.state === 'Z' && readProcStat(zombiePid));
      assert.equal(isAlive({ pid: zombiePid, startTicks: stat.startTicks, command: [], startedAt: '' }), false);
    } finally {
      parent.kill('SIGKILL');
    }
  });

  test('a started process that died is reported with its exit status and only its own log lines', async () => {
    const { adapter } = await demoProcessAdapter(dir, 'dies');
    const run = (code: string) => ({ ...adapter, command: ['node', '-e', code] });
    // A first start that crashes with a Node error once the test lets it (so it is seen alive first, however slow
    // the machine): its stack frames are dropped, the error line kept.
    const letItDie = path.join(dir, 'let-it-die');
    const first = run(
      `console.log('from the first start'); setInterval(() => { if (require('fs').existsSync(${JSON.stringify(letItDie)})) throw new Error('listen EADDRINUSE: address already in use') }, 20)`,
    );
    const { pid } = await startProcess(first);
    assert.equal(await deathOf(first), undefined, 'alive: no death to report');
    writeFileSync(letItDie, '');
    const died = await waitFor('the first start to die', 10_000, () => deathOf(first));
    assert.deepEqual([died.pid, died.exit, died.failureClass], [pid, { code: 1, signal: null }, 'resource']);
    assert.ok(died.logTail.includes('from the first start'), died.detail);
    assert.ok(
      died.logTail.some((l) => l.startsWith('Error: listen EADDRINUSE')),
      died.detail,
    );
    assert.ok(!died.logTail.some((l) => l.startsWith('at ')), 'no stack frames');

    // The next start, killed by a signal: the log lines of the first start are not its own.
    const second = run("console.log('second start up'); setInterval(() => {}, 1000)");
    const next = await startProcess(second);
    await waitFor('the second start to log', 5_000, () => readFileSync(adapter.logFile!, 'utf8').includes('second start up'));
    process.kill(next.pid, 'SIGKILL');
    const killed = await waitFor('the second start to die', 5_000, () => deathOf(second));
    assert.equal(killed.failureClass, 'crash');
    assert.deepEqual(killed.logTail, ['second start up']);
    assert.equal(killed.detail, `exited before it was healthy (pid ${next.pid}, killed by SIGKILL); log: second start up`);
  });

  test('a missing command fails with a clear error', async () => {
    const { adapter } = await demoProcessAdapter(dir, 'missing');
    await assert.rejects(startProcess({ ...adapter, command: ['/nonexistent/binary'] }), /cannot run "\/nonexistent\/binary": ENOENT/);
  });
});

describe('probes', () => {
  const server = http.createServer((req, res) => {
    if (req.url === '/ok') return void res.end('all good');
    if (req.url === '/busy') return void ((res.statusCode = 503), res.end());
    if (req.url === '/auth') return void ((res.statusCode = 401), res.end());
    // '/hang': never answers
  });
  const ready = new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  const httpProbe = async (p: string, extra: object = {}) =>
    probeHttp({ type: 'http', url: `http://127.0.0.1:${await ready}${p}`, method: 'GET', expectStatus: 200, timeout: 300, ...extra });

  test('http: healthy on the expected status and body', async () => {
    assert.equal((await httpProbe('/ok', { bodyIncludes: 'good' })).healthy, true);
  });

  test('http: each failure has its class', async () => {
    assert.deepEqual(pick(await httpProbe('/busy')), { healthy: false, failureClass: 'resource' });
    assert.deepEqual(pick(await httpProbe('/auth')), { healthy: false, failureClass: 'auth' });
    assert.deepEqual(pick(await httpProbe('/ok', { bodyIncludes: 'nope' })), { healthy: false, failureClass: 'data' });
    assert.deepEqual(pick(await probeHttp({ type: 'http', url: `http://127.0.0.1:${await freePort()}/`, method: 'GET', expectStatus: 200, timeout: 300 })), {
      healthy: false,
      failureClass: 'network',
    });
  });

  test('http: a hang is a timeout, reported within the probe timeout', async () => {
    const result = await httpProbe('/hang');
    assert.deepEqual(pick(result), { healthy: false, failureClass: 'timeout' });
    // Ended by its timeout, not by an answer that never comes (bounded loosely: a loaded box adds its own delay).
    assert.ok(result.latencyMs < 3_000, `took ${result.latencyMs}ms`);
  });

  test('http: a service restarted on the same port answers healthy at once (a kept-alive socket from before is not a failure)', async () => {
    const port = await freePort();
    const serve = () =>
      new Promise<http.Server>((resolve) => {
        const s = http.createServer((_req, res) => res.end('up'));
        s.keepAliveTimeout = 60_000;
        s.listen(port, '127.0.0.1', () => resolve(s));
      });
    const probe = () => probeHttp({ type: 'http', url: `http://127.0.0.1:${port}/`, method: 'GET', expectStatus: 200, timeout: 500 });
    for (let round = 0; round < 5; round++) {
      const up = await serve();
      assert.equal((await probe()).healthy, true, `round ${round}: first probe`);
      assert.equal((await probe()).healthy, true, `round ${round}: probe on the kept-alive socket`);
      up.closeAllConnections();
      await new Promise((r) => up.close(r));
      assert.equal((await probe()).failureClass, 'network', `round ${round}: down is a network failure`);
    }
  });

  test('tcp: connects to a listener, refuses a closed port', async () => {
    assert.equal((await probeTcp({ type: 'tcp', host: '127.0.0.1', port: await ready, timeout: 300 })).healthy, true);
    assert.deepEqual(pick(await probeTcp({ type: 'tcp', host: '127.0.0.1', port: await freePort(), timeout: 300 })), {
      healthy: false,
      failureClass: 'network',
    });
  });
});

function pick(r: { healthy: boolean; failureClass?: string }) {
  return { healthy: r.healthy, failureClass: r.failureClass };
}
