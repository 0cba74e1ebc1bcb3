/**
 * A supervisor never restarts its component before what the component depends on is healthy.
 * api holds a connection to store opened at start (the demo service's CONNECT_DEPENDENCIES): an
 * api started while store is down comes up "without store" and stays broken. With store's own
 * supervisor paused and store killed, api's supervisor must hold api's recovery (saying why) for
 * as long as store is down, and restart api once store is back (its connection went stale).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { processAdapter, runningProcess, startProcess } from '../domain/adapters/process';
import { deleteHealthSchedules, reconcileSchedules } from '../client/schedules';
import { pauseSupervisor, resumeSupervisor, supervisorState } from '../client/supervisors';
import { supervisorWorkflowId } from '../core/constants';
import type { Component } from '../core/schemas';
import { demoStarts, httpStatus, startRunbookSuite, tempDir, uniqueQueue, waitFor, writeDemoConfig, type RunbookSuite } from './helpers';

describe('supervisors and dependencies', () => {
  const dir = tempDir('sup-deps');
  const queue = uniqueQueue('sup-deps');
  const suffix = Date.now().toString(36);
  const group = `deps-${suffix}`;
  const store = `store-${suffix}`;
  const api = `api-${suffix}`;
  let suite: RunbookSuite;
  const component = (id: string) => suite.config.components.find((c) => c.id === id)!;
  const urlOf = (c: Component) => (c.probe.type === 'http' ? c.probe.url : '');
  const startsWithoutStore = () => {
    try {
      return (JSON.parse(readFileSync(path.join(dir, 'state', `${api}.json`), 'utf8')) as { startsWithoutDependency?: number }).startsWithoutDependency ?? 0;
    } catch {
      return 0;
    }
  };

  before(async () => {
    const supervision = { group, interval: '1s', startupGrace: '0s', failuresBeforeRecovery: 2, restartBackoff: { initial: '0ms', max: '0ms' } };
    const { file } = await writeDemoConfig(dir, [
      { id: store, supervision },
      { id: api, dependsOn: [store], env: { CONNECT_DEPENDENCIES: '1' }, supervision },
    ]);
    suite = await startRunbookSuite(dir, queue, file);
    for (const id of [store, api]) {
      await startProcess(processAdapter(component(id)));
      await waitFor(`${id} healthy`, 20_000, async () => (await httpStatus(urlOf(component(id)))) === 200);
    }
    await reconcileSchedules(suite.client, suite.config);
    for (const id of [store, api]) await waitFor(`supervisor of ${id}`, 30_000, async () => (await supervisorState(suite.client, id))?.health === 'healthy');
  });

  after(async () => {
    if (!suite) return;
    await deleteHealthSchedules(suite.client, queue, [`mend/health/${group}`]);
    for (const id of [store, api])
      await suite.client.temporal.workflow
        .getHandle(supervisorWorkflowId(id))
        .terminate('test over')
        .catch(() => undefined);
    await suite.stop();
  });

  test('a dependent is held while its dependency is down, and restarted once it is back', async () => {
    const apiStarts = demoStarts(dir, api);
    await pauseSupervisor(suite.client, store, 'test');
    process.kill((await runningProcess(processAdapter(component(store))))!.pid, 'SIGKILL');

    const held = await waitFor('api held for store', 20_000, async () => {
      const s = await supervisorState(suite.client, api);
      return s?.held?.includes(`waiting for ${store}`) && s.held;
    });
    console.log(`api's supervisor: ${held}`);
    // A few more failed checks of api while store stays down: still no restart.
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal(demoStarts(dir, api), apiStarts, 'api not restarted while store is down');
    assert.equal(startsWithoutStore(), 0);
    assert.equal((await supervisorState(suite.client, api))?.stats.attempted, 0);

    await resumeSupervisor(suite.client, store, 'test');
    await waitFor('store recovered', 30_000, async () => (await httpStatus(urlOf(component(store)))) === 200);
    // store's new process leaves api with a stale connection: its supervisor restarts it now.
    await waitFor('api recovered', 30_000, async () => (await httpStatus(urlOf(component(api)))) === 200);
    assert.equal(demoStarts(dir, api), apiStarts + 1, 'api restarted once');
    assert.equal(startsWithoutStore(), 0, 'api never started while store was down');
    // Counted as succeeded once api stays up for its relapse window.
    const apiState = await waitFor('api supervisor healthy, its recovery confirmed', 20_000, async () => {
      const s = await supervisorState(suite.client, api);
      return s?.health === 'healthy' && s.confirming === undefined && s;
    });
    assert.equal(apiState.stats.succeeded, 1);
    assert.equal(apiState.stats.relapsed ?? 0, 0);
  });
});
