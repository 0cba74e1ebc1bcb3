/**
 * The `dependency-aware` runbook on real processes: store → (api1, api2) → web. Order is read
 * from the run's own step log; process starts are counted in each service's state file.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runningProcess, startProcess, stopProcess, processAdapter } from '../domain/adapters/process';
import { probeComponent } from '../domain/probes';
import { MendClient } from '../client';
import { loadConfigFile } from '../client/config';
import { topologicalLevels } from '../core/graph';
import type { RecoveryResult, StepRecord } from '../core/run';
import type { Component, Config } from '../core/schemas';
import { demoStarts, recordHistory, sharedServer, startInProcessWorker, tempDir, uniqueQueue, waitFor, writeDemoConfig, type TestWorker } from './helpers';

describe('dependency-aware recovery', () => {
  const dir = tempDir('depaware');
  const queue = uniqueQueue('depaware');
  const s = Date.now().toString(36);
  const ids = { store: `store-${s}`, api1: `api1-${s}`, api2: `api2-${s}`, web: `web-${s}`, db: `db-${s}`, app: `app-${s}` };
  let config: Config;
  let client: MendClient;
  let worker: TestWorker;
  const c = (id: string): Component => config.components.find((x) => x.id === id)!;
  const startsOf = (id: string): number => demoStarts(dir, id);
  const run = async (id: string, fixture?: string): Promise<RecoveryResult> => {
    const started = await client.startRecovery({
      strategy: 'dependency-aware',
      component: c(id),
      trigger: 'manual',
      requestedBy: 'test',
      allComponents: config.components,
    });
    const result = await client.result(started.workflowId, started.runId);
    if (fixture) recordHistory(started.workflowId, started.runId, fixture);
    return result;
  };
  const step = (result: RecoveryResult, name: string, component: string): StepRecord => {
    const found = result.steps.filter((x) => x.name === name && x.component === component).at(-1);
    assert.ok(found, `no ${name} step for ${component}`);
    return found;
  };
  const t = (iso: string | undefined) => Date.parse(iso!);

  before(async () => {
    const policy = { timeout: '5s' };
    const { file } = await writeDemoConfig(dir, [
      { id: ids.store, critical: true, policy },
      { id: ids.api1, dependsOn: [ids.store], policy },
      { id: ids.api2, dependsOn: [ids.store], policy },
      { id: ids.web, dependsOn: [ids.api1, ids.api2], policy },
      { id: ids.db, critical: true, env: { FAIL_FIRST_STARTS: '1000' }, policy: { timeout: '800ms' } },
      { id: ids.app, dependsOn: [ids.db], policy },
    ]);
    config = loadConfigFile(file, { stateDir: path.join(dir, '.mend') });
    const chain = config.components.filter((x) => [ids.store, ids.api1, ids.api2, ids.web].includes(x.id));
    for (const level of topologicalLevels(chain)) {
      for (const id of level) {
        await startProcess(processAdapter(c(id)));
        await waitFor(`${id} healthy`, 10_000, async () => (await probeComponent(c(id))).healthy);
      }
    }
    worker = await startInProcessWorker(queue);
    client = await MendClient.connect({ address: sharedServer().address, taskQueue: queue });
  });

  after(async () => {
    for (const x of config?.components ?? []) await stopProcess(processAdapter(x)).catch(() => undefined);
    await worker?.stop();
    await client?.close();
  });

  test('a three-level chain restarts in order, the middle level in parallel, nothing before its dependency is healthy', async () => {
    process.kill((await runningProcess(processAdapter(c(ids.store))))!.pid, 'SIGKILL');
    const result = await run(ids.store, 'dependency-aware-three-levels.json');
    assert.equal(result.outcome, 'recovered', result.reason);

    const storeHealthy = t(step(result, 'validate', ids.store).endedAt);
    const api = [ids.api1, ids.api2].map((id) => ({ start: t(step(result, 'start', id).startedAt), healthy: t(step(result, 'validate', id).endedAt) }));
    for (const a of api) assert.ok(a.start >= storeHealthy, 'an api started before the store was healthy');
    assert.ok(api[0]!.start < api[1]!.healthy && api[1]!.start < api[0]!.healthy, 'api1 and api2 restarted in parallel');
    assert.ok(t(step(result, 'start', ids.web).startedAt) >= Math.max(...api.map((a) => a.healthy)), 'web started before both apis were healthy');

    for (const id of [ids.store, ids.api1, ids.api2, ids.web]) {
      assert.equal(startsOf(id), 2, `${id} started exactly twice (first start + one restart)`);
      assert.equal((await probeComponent(c(id))).healthy, true, `${id} healthy`);
    }
  });

  test('an unhealthy dependency is recovered before the component, and unrelated siblings are left alone', async () => {
    process.kill((await runningProcess(processAdapter(c(ids.store))))!.pid, 'SIGKILL');
    const before = { api2: startsOf(ids.api2), store: startsOf(ids.store) };
    const result = await run(ids.api1);
    assert.equal(result.outcome, 'recovered', result.reason);
    assert.ok(t(step(result, 'start', ids.api1).startedAt) >= t(step(result, 'validate', ids.store).endedAt));
    assert.equal(startsOf(ids.store), before.store + 1);
    assert.equal(startsOf(ids.api2), before.api2, 'api2 is neither a dependency nor a dependent of api1');
    assert.match(step(result, 'probe', ids.store).detail ?? '', /crash: process exited/);
  });

  test('a critical dependency that will not recover stops the cascade with the reason', async () => {
    const result = await run(ids.app);
    assert.equal(result.outcome, 'failed');
    assert.match(result.reason ?? '', new RegExp(`critical component ${ids.db} did not recover; cascade stopped`));
    assert.equal(
      result.steps.some((x) => x.component === ids.app && x.name === 'start'),
      false,
      'app was never started',
    );
    assert.equal(startsOf(ids.app), 0);
  });

  test('a dry run probes, then plans dependencies, the component and its dependents without acting', async () => {
    const startsBefore = startsOf(ids.web);
    const started = await client.startRecovery({
      strategy: 'dependency-aware',
      component: c(ids.api2),
      trigger: 'manual',
      requestedBy: 'test',
      dryRun: true,
      allComponents: config.components,
    });
    const result = await client.result(started.workflowId, started.runId);
    assert.equal(result.outcome, 'planned');
    const planned = result.steps.filter((x) => x.status === 'planned').map((x) => `${x.name} ${x.component}`);
    assert.deepEqual(planned, [`stop ${ids.api2}`, `start ${ids.api2}`, `validate ${ids.api2}`, `stop ${ids.web}`, `start ${ids.web}`, `validate ${ids.web}`]);
    assert.equal(startsOf(ids.web), startsBefore);
  });
});
