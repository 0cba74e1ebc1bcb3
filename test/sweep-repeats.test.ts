/**
 * The health sweep does not wake a supervisor every second with a failure it already knows (issue
 * 16: in a mass outage those signals were most of the supervisors' workflow tasks). For real: a
 * component swept every second is killed; its recovery (an emergency reset) waits for an approval,
 * so the run goes on while the sweep keeps finding the component down. The sweep repeats the
 * failure at most every few seconds; once the run ends (rejected), the next sweep tells the
 * supervisor at once, which tries again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { processAdapter, runningProcess } from '../domain/adapters/process';
import type { SweepResult } from '../activities';
import { supervisorState } from '../client/supervisors';
import { recoveryWorkflowId, supervisorWorkflowId } from '../core/constants';
import { UNHEALTHY_REPEAT_MS } from '../core/sweep-reports';
import { startRunbookSuite, stopSupervisedSuite, superviseRunning, tempDir, uniqueQueue, waitFor, writeDemoConfig, type RunbookSuite } from './helpers';

describe('health sweep repeats of an unchanged failure', () => {
  const dir = tempDir('sweep-repeats');
  const queue = uniqueQueue('sweep-repeats');
  const suffix = Date.now().toString(36);
  const group = `repeats-${suffix}`;
  const id = `held-${suffix}`;
  let suite: RunbookSuite;

  before(async () => {
    const supervision = {
      group,
      interval: '1s',
      startupGrace: '0s',
      failuresBeforeRecovery: 2,
      restartBackoff: { initial: '0ms', max: '0ms' },
      breaker: { maxRecoveries: 10, window: '10m' },
    };
    // A lease of one interval: one sweep per firing, so each sweep's result (what it reported) is read
    // from its own workflow; the probe loop sends the same reports (test/probe-loop.test.ts).
    const { file } = await writeDemoConfig(
      dir,
      [{ id, policy: { strategy: 'emergency-reset', approvalTimeout: '5m' }, supervision }],
      'supervision:\n  checkLease: 1s\n',
    );
    suite = await startRunbookSuite(dir, queue, file);
    await superviseRunning(suite);
  });

  after(() => stopSupervisedSuite(suite, queue, [group], [supervisorWorkflowId(id), recoveryWorkflowId(id)]));

  /** The sweeps the schedule started (of the last ten) after `since` (ms) that have ended, with when each started and what it found. */
  async function sweepsSince(since: number): Promise<Array<{ startedAt: number; result: SweepResult }>> {
    const { info } = await suite.client.temporal.schedule.getHandle(`mend/health/${group}`).describe();
    const found = await Promise.all(
      info.recentActions
        .filter((a) => a.takenAt.getTime() > since)
        .map(async (a) => {
          const handle = suite.client.temporal.workflow.getHandle(a.action.workflow.workflowId, a.action.workflow.firstExecutionRunId);
          const described = await handle.describe();
          if (described.status.name !== 'COMPLETED') return undefined;
          return { startedAt: described.startTime.getTime(), result: (await handle.result()) as SweepResult };
        }),
    );
    return found.filter((s) => s !== undefined).sort((a, b) => a.startedAt - b.startedAt);
  }

  const waitingRun = (notRunId?: string) =>
    waitFor('a recovery run waiting for an approval', 60_000, async () => {
      const run = await suite.client.temporal.workflow
        .getHandle(recoveryWorkflowId(id))
        .describe()
        .catch(() => undefined);
      if (!run || run.status.name !== 'RUNNING' || run.runId === notRunId) return false;
      return (await suite.client.progress(recoveryWorkflowId(id), run.runId)).approval?.state === 'waiting' && run.runId;
    });

  test('while its recovery runs, an unchanged failure is re-sent at most every repeat time; once the run ends it is sent at the next sweep', async () => {
    process.kill((await runningProcess(processAdapter(suite.config.components[0]!)))!.pid, 'SIGKILL');
    const firstRun = await waitingRun();
    const since = Date.now();

    // Eight sweeps (a second apart) find it down while the run waits.
    const during = await waitFor('eight sweeps that found it down', 90_000, async () => {
      const sweeps = (await sweepsSince(since)).filter((s) => s.result.unhealthy.includes(id));
      return sweeps.length >= 8 && sweeps;
    });
    const span = during.at(-1)!.startedAt - during[0]!.startedAt;
    const reported = during.filter((s) => s.result.reported.includes(id)).length;
    console.log(`${during.length} sweeps over ${span} ms found it down; ${reported} reported it`);
    assert.ok(reported <= Math.ceil(span / UNHEALTHY_REPEAT_MS) + 1, `at most one report per ${UNHEALTHY_REPEAT_MS} ms (${reported} in ${span} ms)`);
    assert.ok(reported < during.length, 'not every sweep reported it');
    const { events } = await suite.client.temporal.workflow.getHandle(supervisorWorkflowId(id)).fetchHistory();
    const reports = (events ?? []).filter(
      (e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'report' && Number(e.eventTime?.seconds ?? 0) * 1000 >= during[0]!.startedAt,
    );
    assert.ok(reports.length <= reported + 1, `the supervisor was signalled ${reports.length} times over the sweeps`);

    // Rejected: the run ends having done nothing; the supervisor must hear that the failure persists.
    await suite.client.approve(recoveryWorkflowId(id), { approve: false, by: 'test', reason: 'not now' });
    const closed = await waitFor('the first run closed', 30_000, async () => {
      const run = await suite.client.temporal.workflow.getHandle(recoveryWorkflowId(id), firstRun).describe();
      return run.closeTime?.getTime();
    });
    // The sweep that tells it is the first one after the close, or one started a moment before the
    // close whose probe came after it (under load a firing's activity starts late): the next one then has it as sent.
    const around = await waitFor('two sweeps started after the run closed', 30_000, async () => {
      const sweeps = await sweepsSince(closed - 2 * 1000);
      return sweeps.filter((s) => s.startedAt > closed).length >= 2 && sweeps;
    });
    const next = around.find((s) => s.startedAt > closed)!;
    assert.ok(next.result.unhealthy.includes(id));
    const teller = around.find((s) => s.result.reported.includes(id));
    assert.ok(teller && teller.startedAt <= next.startedAt, 'the first sweep after the run closed (or one overlapping the close) reported the failure');

    await waitingRun(firstRun);
    const st = await supervisorState(suite.client, id);
    assert.equal(st?.stats.attempted, 2, 'its supervisor tried again');
    assert.equal(st?.stats.failed, 1);
  });
});
