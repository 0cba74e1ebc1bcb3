/**
 * Breaker slots are recoveries that really started, for real: a crash that heals while its
 * recovery waits out the restart backoff (here: restarted by hand, after a sweep saw it down, so the
 * healthy report reaches the supervisor while it waits) starts no run, and leaves no
 * slot in the breaker; the slots equal the runs the supervisor started.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { processAdapter, runningProcess, startProcess } from '../domain/adapters/process';
import type { SweepResult } from '../activities/supervision';
import { reconcileSchedules } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { recoveryWorkflowId, supervisorWorkflowId } from '../core/constants';
import type { SupervisorState } from '../core/supervision';
import { demoStarts, httpStatus, startRunbookSuite, tempDir, uniqueQueue, waitFor, writeDemoConfig, type RunbookSuite, stopSupervisedSuite } from './helpers';

describe('breaker slots', () => {
  const dir = tempDir('slots');
  const queue = uniqueQueue('slots');
  const suffix = Date.now().toString(36);
  const group = `slots-${suffix}`;
  const id = `healer-${suffix}`;
  let suite: RunbookSuite;
  const state = async () => (await supervisorState(suite.client, id)) as SupervisorState;
  const component = () => suite.config.components[0]!;
  const url = () => (component().probe as { url: string }).url;
  /** Whether a sweep started after `sinceMs` found the component down and reported it to its supervisor. */
  const sweptDown = async (sinceMs: number) => {
    const schedule = await suite.client.temporal.schedule.getHandle(`mend/health/${group}`).describe();
    for (const action of schedule.info.recentActions.filter((a) => a.takenAt.getTime() > sinceMs)) {
      const sweep = await suite.client.temporal.workflow
        .getHandle(action.action.workflow.workflowId, action.action.workflow.firstExecutionRunId)
        .result()
        .catch(() => undefined);
      if ((sweep as SweepResult | undefined)?.unhealthy.includes(id)) return true;
    }
    return false;
  };
  const kill = async () => process.kill((await runningProcess(processAdapter(component())))!.pid, 'SIGKILL');

  before(async () => {
    // The second recovery in a row waits 15s first: long enough to heal by hand meanwhile.
    // A lease of one interval: one sweep per firing, whose result says what it found (sweptDown).
    const { file } = await writeDemoConfig(
      dir,
      [{ id, supervision: { group, interval: '1s', startupGrace: '0s', restartBackoff: { initial: '15s', max: '15s' }, restartInPlace: false } }],
      'supervision:\n  checkLease: 1s\n',
    );
    suite = await startRunbookSuite(dir, queue, file);
    await startProcess(processAdapter(component()));
    await waitFor('service healthy', 15_000, async () => (await httpStatus(url())) === 200);
    await reconcileSchedules(suite.client, suite.config);
    await waitFor('supervisor sees it healthy', 30_000, async () => (await supervisorState(suite.client, id))?.health === 'healthy');
  });

  after(async () => {
    await stopSupervisedSuite(suite, queue, [group], [supervisorWorkflowId(id), recoveryWorkflowId(id)]);
  });

  test('a component that heals during the restart backoff leaves no breaker slot', async () => {
    await kill();
    await waitFor('first recovery', 60_000, async () => {
      const s = await state();
      return s.stats.attempted === 1 && s.current === undefined && s.health === 'healthy' && (await httpStatus(url())) === 200;
    });

    const killedAt = Date.now();
    await kill();
    await waitFor('second recovery held by the restart backoff', 30_000, async () => /restart backoff/.test((await state()).held ?? ''));
    // The sweep sees it down too (and, once fixed, reports the change to healthy).
    await waitFor('a sweep reported it down', 20_000, () => sweptDown(killedAt));
    // Fixed by hand while the supervisor waits: the sweep reports it healthy.
    await startProcess(processAdapter(component()));
    const healed = await waitFor('supervisor sees it healed, its wait over', 60_000, async () => {
      const s = await state();
      return s.health === 'healthy' && s.held === undefined && s;
    });
    assert.equal(healed.stats.attempted, 1, 'no second run started');
    assert.equal(demoStarts(dir, id), 3, 'first start, one recovery, one start by hand');
    assert.equal(healed.breaker.recoveries.length, healed.stats.attempted, 'breaker slots = runs started');
    assert.equal(healed.breaker.reservedAt, undefined, 'the reservation was given back');
    const runs = await suite.client.temporal.workflow.getHandle(recoveryWorkflowId(id)).describe();
    assert.equal(runs.runId, healed.stats.recent[0]!.runId, 'the only recovery run is the first one');
  });
});
