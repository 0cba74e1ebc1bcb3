/**
 * The fleet-wide cap: three slow-starting services killed at once, with
 * `supervision.maxConcurrentRecoveries: 1`, are all recovered by their supervisors, one after the
 * other (no two recovery runs overlap), through the durable limiter `mend/fleet/<queue>`.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { processAdapter, runningProcess, startProcess } from '../domain/adapters/process';
import { deleteHealthSchedules, reconcileSchedules } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { fleetLimiterWorkflowId, supervisorWorkflowId } from '../core/constants';
import { fleetStateQuery } from '../core/messages';
import type { Component } from '../core/schemas';
import type { SupervisorState } from '../core/supervision';
import { httpStatus, ROOT, startRunbookSuite, tempDir, uniqueQueue, waitFor, writeDemoConfig, type RunbookSuite } from './helpers';

describe('fleet-wide cap on recoveries', () => {
  const dir = tempDir('fleet-cap');
  const queue = uniqueQueue('fleet-cap');
  const suffix = Date.now().toString(36);
  const group = `cap-${suffix}`;
  let suite: RunbookSuite;
  const urlOf = (c: Component) => (c.probe.type === 'http' ? c.probe.url : '');

  before(async () => {
    const supervision = { group, interval: '1s', startupGrace: '0s' };
    // Each start takes 1.5s, so overlapping recoveries could not go unnoticed.
    const command = ['sh', '-c', `sleep 1.5; exec node ${JSON.stringify(path.join(ROOT, 'demo/service.js'))}`];
    const { file } = await writeDemoConfig(
      dir,
      ['a', 'b', 'c'].map((n) => ({ id: `${n}-${suffix}`, command, supervision, timeout: '20s' })),
      'supervision:\n  maxConcurrentRecoveries: 1\n',
    );
    suite = await startRunbookSuite(dir, queue, file);
    await Promise.all(suite.config.components.map((c) => startProcess(processAdapter(c))));
    for (const c of suite.config.components) await waitFor(`${c.id} healthy`, 20_000, async () => (await httpStatus(urlOf(c))) === 200);
    await reconcileSchedules(suite.client, suite.config);
    for (const c of suite.config.components)
      await waitFor(`supervisor of ${c.id}`, 30_000, async () => (await supervisorState(suite.client, c.id))?.health === 'healthy');
  });

  after(async () => {
    if (!suite) return;
    await deleteHealthSchedules(suite.client, queue, [`mend/health/${group}`]);
    for (const id of [...suite.config.components.map((c) => supervisorWorkflowId(c.id)), fleetLimiterWorkflowId(queue)]) {
      await suite.client.temporal.workflow
        .getHandle(id)
        .terminate('test over')
        .catch(() => undefined);
    }
    await suite.stop();
  });

  test('three services killed at once are recovered one at a time', async () => {
    for (const c of suite.config.components) process.kill((await runningProcess(processAdapter(c)))!.pid, 'SIGKILL');
    const states = await waitFor('all three recovered', 120_000, async () => {
      const all = await Promise.all(suite.config.components.map((c) => supervisorState(suite.client, c.id)));
      return all.every((s) => s && s.stats.succeeded === 1 && s.current === undefined) && (all as SupervisorState[]);
    });
    for (const c of suite.config.components) assert.equal(await httpStatus(urlOf(c)), 200, `${c.id} healthy`);

    const runs = states.map((s) => s.stats.recent[0]!).sort((x, y) => Date.parse(x.startedAt) - Date.parse(y.startedAt));
    console.log(`recoveries with a cap of 1: ${runs.map((r) => `${r.startedAt.slice(11, 23)}–${r.endedAt!.slice(11, 23)}`).join(', ')}`);
    for (let i = 1; i < runs.length; i++) {
      assert.ok(Date.parse(runs[i]!.startedAt) >= Date.parse(runs[i - 1]!.endedAt!), `run ${i} started after run ${i - 1} ended`);
    }
    const limiter = await suite.client.temporal.workflow.getHandle(fleetLimiterWorkflowId(queue)).query(fleetStateQuery);
    assert.equal(limiter.granted, 3);
    assert.equal(limiter.max, 1);
    await waitFor(
      'every permit given back',
      10_000,
      async () => (await suite.client.temporal.workflow.getHandle(fleetLimiterWorkflowId(queue)).query(fleetStateQuery)).holders.length === 0,
    );
  });
});
