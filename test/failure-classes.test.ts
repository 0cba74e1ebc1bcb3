/**
 * Failure classes that say what happened, with real processes: a probe of a process component whose
 * process was killed or exited is `crash` (with the signal or exit code), one that hangs (stopped,
 * its probe timing out) is `timeout`, and one that died because its port was already taken is
 * `resource`. The pid watch names the exit the same way; the classes reach the metrics.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { loadConfigFile } from '../client/config';
import { renderSupervisionMetrics } from '../client/supervision-metrics';
import { createSupervisionActivities } from '../activities/supervision';
import type { Component } from '../core/schemas';
import { componentStats, fleetStats, initialState } from '../core/supervision';
import { processAdapter, runningProcess, startProcess, stopProcess } from '../domain/adapters/process';
import { probeComponent } from '../domain/probes';
import { tempDir, waitFor, writeDemoConfig } from './helpers';

describe('failure classes of a process component', () => {
  const dir = tempDir('failure-classes');
  const ids = { killed: 'killed', exits: 'exits', hung: 'hung', portTaken: 'port-taken' };
  const components = new Map<string, Component>();
  let holder: net.Server;

  before(async () => {
    const { file, services } = await writeDemoConfig(dir, [
      { id: ids.killed },
      { id: ids.exits, env: { CRASH_AFTER_MS: '300' } },
      { id: ids.hung },
      { id: ids.portTaken },
    ]);
    for (const c of loadConfigFile(file, { stateDir: `${dir}/.mend` }).components) components.set(c.id, c);
    // Another listener holds the port of `port-taken` before it starts.
    holder = net.createServer((socket) => socket.destroy());
    const port = services.find((s) => s.id === ids.portTaken)!.port;
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    for (const c of components.values()) await startProcess(processAdapter(c));
  });

  after(async () => {
    for (const c of components.values()) {
      const running = await runningProcess(processAdapter(c)).catch(() => undefined);
      if (running) process.kill(running.pid, 'SIGCONT');
      await stopProcess(processAdapter(c)).catch(() => undefined);
    }
    await new Promise((resolve) => holder?.close(resolve));
  });

  const healthy = (id: string) => waitFor(`${id} healthy`, 15_000, async () => (await probeComponent(components.get(id)!)).healthy);
  const gone = (id: string) => waitFor(`${id} gone`, 15_000, async () => (await runningProcess(processAdapter(components.get(id)!))) === undefined);

  test('a killed process is crash, with the signal and its pid', async () => {
    await healthy(ids.killed);
    const pid = (await runningProcess(processAdapter(components.get(ids.killed)!)))!.pid;
    process.kill(pid, 'SIGKILL');
    await gone(ids.killed);
    const result = await probeComponent(components.get(ids.killed)!);
    assert.equal(result.healthy, false);
    assert.equal(result.failureClass, 'crash', result.detail);
    assert.match(result.detail, new RegExp(`^process exited \\(pid ${pid}, killed by SIGKILL\\); .*probe: ECONN(REFUSED|RESET)`));
  });

  test('a process that exits by itself is crash, with its exit code and last log line', async () => {
    await gone(ids.exits);
    const result = await probeComponent(components.get(ids.exits)!);
    assert.equal(result.failureClass, 'crash', result.detail);
    assert.match(result.detail, /^process exited \(pid \d+, exit code 5\); log: .*crashing 300ms after start/);
  });

  test('a hung process (alive, its probe timing out) is timeout', async () => {
    await healthy(ids.hung);
    const pid = (await runningProcess(processAdapter(components.get(ids.hung)!)))!.pid;
    process.kill(pid, 'SIGSTOP');
    try {
      const result = await probeComponent(components.get(ids.hung)!);
      assert.equal(result.failureClass, 'timeout', result.detail);
      assert.match(result.detail, /no answer within/);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });

  test('a process that died because its port was taken is resource, naming EADDRINUSE', async () => {
    await gone(ids.portTaken);
    const result = await probeComponent(components.get(ids.portTaken)!);
    assert.equal(result.failureClass, 'resource', result.detail);
    assert.match(result.detail, /^process exited \(pid \d+, exit code 1\); log: .*EADDRINUSE/);
  });

  test('the pid watch says how the watched process ended', async () => {
    const c = components.get(ids.killed)!;
    await startProcess(processAdapter(c));
    await healthy(ids.killed);
    const { watchProcess } = createSupervisionActivities(probeComponent);
    const pid = (await runningProcess(processAdapter(c)))!.pid;
    setTimeout(() => process.kill(pid, 'SIGKILL'), 200);
    // Run as the sweep-activity test runs activities: in the SDK's activity context (heartbeats, sleeps).
    const seen = (await new MockActivityEnvironment().run(watchProcess, { component: c, maxMs: 30_000, pollMs: 50 })) as Awaited<
      ReturnType<typeof watchProcess>
    >;
    assert.deepEqual({ ...seen, at: undefined }, { exited: true, reason: 'exited', detail: `pid ${pid} exited: killed by SIGKILL`, at: undefined });
  });

  test('mend_failures_total counts outages by component and failure class', async () => {
    const state = initialState('api', components.get(ids.killed)!.supervision, 0);
    state.stats.failuresByClass = { crash: 2, timeout: 1 };
    assert.deepEqual(componentStats(state).failuresByClass, { crash: 2, timeout: 1 });
    const text = await renderSupervisionMetrics(fleetStats([state], []));
    assert.match(text, /^mend_failures_total\{component="api",failure_class="crash"\} 2$/m);
    assert.match(text, /^mend_failures_total\{component="api",failure_class="timeout"\} 1$/m);
  });
});
