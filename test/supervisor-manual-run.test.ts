/**
 * A recovery's own stop is not a crash, for real: `immediate` run by hand (through the client) on a
 * supervised, healthy process component stops and restarts it under the supervisor's pid watch.
 * The supervisor waits the run out: no breaker slot, no recovery of its own, no alert; it watches
 * the new pid afterwards, so a later SIGKILL is still seen (by the watch alone) and recovered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { processAdapter, runningProcess, startProcess } from '../domain/adapters/process';
import { reconcileSchedules } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { recoveryWorkflowId, supervisorWorkflowId } from '../core/constants';
import type { SupervisorState } from '../core/supervision';
import { startAlertSink, type AlertSink } from './alert-sink';
import {
  demoStarts,
  httpStatus,
  recordHistory,
  startRunbookSuite,
  tempDir,
  uniqueQueue,
  waitFor,
  writeDemoConfig,
  type RunbookSuite,
  stopSupervisedSuite,
} from './helpers';

describe('a recovery run by hand on a supervised component', () => {
  const dir = tempDir('manual-run');
  const queue = uniqueQueue('manual-run');
  const suffix = Date.now().toString(36);
  // Swept once an hour: after the first sweep only the pid watch can see a crash.
  const group = `manual-${suffix}`;
  const id = `steady-${suffix}`;
  let sink: AlertSink;
  let suite: RunbookSuite;
  const state = async () => (await supervisorState(suite.client, id)) as SupervisorState;
  const component = () => suite.config.components[0]!;
  const url = () => (component().probe as { url: string }).url;

  before(async () => {
    sink = await startAlertSink();
    const { file } = await writeDemoConfig(
      dir,
      [{ id, supervision: { group, interval: '1h', startupGrace: '0s', breaker: { maxRecoveries: 1, window: '10m', coolDown: '1h' } } }],
      `supervision:\n  notify: { webhook: "${sink.url}" }\n`,
    );
    suite = await startRunbookSuite(dir, queue, file);
    await startProcess(processAdapter(component()));
    await waitFor('service healthy', 15_000, async () => (await httpStatus(url())) === 200);
    await reconcileSchedules(suite.client, suite.config);
    await suite.client.temporal.schedule.getHandle(`mend/health/${group}`).trigger();
    await waitFor('supervisor sees it healthy', 30_000, async () => (await supervisorState(suite.client, id))?.health === 'healthy');
  });

  after(async () => {
    await stopSupervisedSuite(suite, queue, [group], [supervisorWorkflowId(id), recoveryWorkflowId(id)]);
    sink?.close();
  });

  test('its stop and start count as no failure, and the supervisor watches the new pid afterwards', async () => {
    for (const n of [1, 2]) {
      const pidBefore = (await runningProcess(processAdapter(component())))!.pid;
      const run = await suite.client.startRecovery({ strategy: 'immediate', component: component(), trigger: 'manual', requestedBy: 'test' });
      const result = await suite.client.result(run.workflowId, run.runId);
      assert.equal(result.outcome, 'recovered', `manual run ${n}`);
      assert.notEqual((await runningProcess(processAdapter(component())))?.pid, pidBefore, 'the run restarted the process');
      // The pid watch saw the run's stop; the supervisor took it for the run's and waited it out.
      const s = await waitFor(`supervisor waited out manual run ${n}`, 30_000, async () => {
        const st = await state();
        return st.waitedOutRunId === run.runId && st.health === 'healthy' && st;
      });
      assert.equal(s.stats.attempted, 0, 'the supervisor started no recovery');
      assert.deepEqual(s.breaker.recoveries, [], 'no breaker slot');
      assert.equal(s.breaker.state, 'closed');
      assert.equal(s.stats.breakerOpened, 0);
      assert.equal(s.consecutiveFailures, 0);
    }
    assert.equal(demoStarts(dir, id), 3, 'the first start and two manual runs');

    // Watching the new pid: a SIGKILL now is seen by the watch (no sweep for an hour) and recovered.
    process.kill((await runningProcess(processAdapter(component())))!.pid, 'SIGKILL');
    const recovered = await waitFor('SIGKILL recovered by the supervisor', 60_000, async () => {
      const st = await state();
      return st.stats.attempted === 1 && st.current === undefined && st.health === 'healthy' && st;
    });
    assert.equal(recovered.stats.recent.at(-1)?.outcome, 'recovered');
    assert.equal(recovered.breaker.recoveries.length, 1, 'its own recovery is its only breaker slot');
    assert.equal(recovered.breaker.state, 'closed', 'one recovery is within maxRecoveries: 1');
    assert.equal(await httpStatus(url()), 200);
    assert.equal(demoStarts(dir, id), 4);
    assert.deepEqual(
      sink.alerts.filter((a) => a.kind === 'breaker-open'),
      [],
      'no breaker-open alert',
    );
    const run = await suite.client.temporal.workflow.getHandle(supervisorWorkflowId(id)).describe();
    recordHistory(supervisorWorkflowId(id), run.runId, 'supervisor-waited-out-manual-runs.json');
  });
});
