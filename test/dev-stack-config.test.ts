// test-lane: heavy — starts a whole stack of its own twice (dev server, worker, API, a component)
/**
 * `npm start` with a user's own config (MEND_CONFIG): its own banner with no demo hints, the
 * configured Temporal HTTP and metrics ports, and the process components left running or stopped
 * at exit as MEND_COMPONENTS_ON_EXIT says (a second start adopts the one left running). The demo
 * stack: test/dev-stack.test.ts.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { alive, componentPid, down, stackPort, stopLeftover, up } from './dev-stack-fixtures';
import { httpStatus, sharedServer, tempDir, writeDemoConfig, type Spawned } from './helpers';

describe('the dev stack with a user config (MEND_CONFIG)', () => {
  const dir = tempDir('stack-user');
  const home = path.join(dir, '.mend');
  let stack: Spawned | undefined;

  afterEach(() => stopLeftover(stack));

  test('names the config, has no demo hints, uses the configured Temporal HTTP and metrics ports, and stops or leaves its components as MEND_COMPONENTS_ON_EXIT says', async () => {
    const { file, services } = await writeDemoConfig(dir, [{ id: 'svc', port: await stackPort() }]);
    const [svc] = services;
    const httpPort = await stackPort();
    const metricsPort = await stackPort();
    const env = {
      ...process.env,
      MEND_HOME: home,
      MEND_CONFIG: file,
      MEND_API_PORT: String(await stackPort()),
      MEND_TEMPORAL_PORT: String(await stackPort()),
      MEND_UI_PORT: String(await stackPort()),
      MEND_TEMPORAL_HTTP_PORT: String(httpPort),
      MEND_TEMPORAL_METRICS_PORT: String(metricsPort),
      TEMPORAL_CLI_PATH: sharedServer().temporalCli,
    };
    // First start, components left running at exit.
    stack = await up({ ...env, MEND_COMPONENTS_ON_EXIT: 'leave' });
    const banner = stack.output.filter((l) => l.startsWith('[mend]')).join('\n');
    assert.doesNotMatch(banner, /demo/i, 'no demo fleet, no demo hints');
    assert.ok(banner.split('\n').includes(`[mend]   config           ${file}`), `the banner names ${file}:\n${banner}`);
    assert.match(banner, /^\[mend\] {3}components +1 process component started: svc /m);
    assert.match(banner, /process components are left running \(MEND_COMPONENTS_ON_EXIT=leave\)/);
    assert.match(banner, new RegExp(`HTTP API http://127\\.0\\.0\\.1:${httpPort}, metrics http://127\\.0\\.0\\.1:${metricsPort}/metrics`));
    assert.match(banner, /npx mend run immediate svc/);

    // The Temporal server answers on the configured HTTP and metrics ports.
    const namespaces = await fetch(`http://127.0.0.1:${httpPort}/api/v1/namespaces`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(namespaces.status, 200);
    assert.match(await namespaces.text(), /"name":"default"/);
    const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /^# TYPE /m);

    const svcPid = componentPid(home, 'svc');
    await down(stack, home, [svcPid]);
    assert.ok(
      stack.output.some((l) => l.includes('process components left running (MEND_COMPONENTS_ON_EXIT=leave): svc')),
      stack.output.slice(-5).join('\n'),
    );
    assert.ok(alive(svcPid), 'svc was left running');
    assert.equal(await httpStatus(`http://127.0.0.1:${svc!.port}/healthz`), 200);

    // Second start (default: stop): the running component is adopted, not started twice, and stopped at exit.
    stack = await up(env);
    const banner2 = stack.output.filter((l) => l.startsWith('[mend]')).join('\n');
    assert.match(banner2, /^\[mend\] {3}components +1 process component already running: svc /m);
    assert.match(banner2, /process components are stopped \(MEND_COMPONENTS_ON_EXIT=leave keeps them running\)/);
    assert.equal(componentPid(home, 'svc'), svcPid);
    await down(stack, home);
    assert.ok(!alive(svcPid), 'svc was stopped');
    assert.equal(await httpStatus(`http://127.0.0.1:${svc!.port}/healthz`), undefined);
  });
});
