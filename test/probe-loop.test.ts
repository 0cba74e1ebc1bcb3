/**
 * Health checks with a lease (`supervision.checkLease`), on the real dev server: one firing of a
 * health schedule probes every interval until its lease ends (one activity on the worker, not a
 * workflow start per check); a hung service (SIGSTOP, which only a probe can see) is reported to
 * its supervisor from within that firing and recovered; a reconcile that changes the group's specs
 * ends the firing at once and the next one carries the new revision; pausing the schedule ends the
 * running firing within seconds, and no firing runs until it is resumed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { processAdapter, runningProcess } from '../domain/adapters/process';
import { reconcileSchedules } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { healthScheduleId, supervisorWorkflowId } from '../core/constants';
import type { Config } from '../core/schemas';
import type { ProbeReport, SupervisorState } from '../core/supervision';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import type { ProbeLoopResult } from '../activities/supervision';
import {
  recordHistory,
  startRunbookSuite,
  stopSupervisedSuite,
  superviseRunning,
  tempDir,
  uniqueQueue,
  waitFor,
  writeDemoConfig,
  type RunbookSuite,
} from './helpers';

const LEASE_MS = 20_000;

describe('a health schedule with a lease probes every interval within one firing', () => {
  const dir = tempDir('probe-loop');
  const queue = uniqueQueue('probe-loop');
  const suffix = Date.now().toString(36);
  const group = `loop-${suffix}`;
  const scheduleId = healthScheduleId(group);
  const id = `hang-${suffix}`;
  let suite: RunbookSuite;
  const stopped: number[] = [];
  const schedule = () => suite.client.temporal.schedule.getHandle(scheduleId);
  const decode = <T>(payload: unknown): T => suite.client.temporal.options.loadedDataConverter.payloadConverter.fromPayload<T>(payload as never);
  const state = async () => (await supervisorState(suite.client, id)) as SupervisorState;

  /** The firing (sweep workflow) of the schedule running now, once one runs. */
  const runningFiring = () =>
    waitFor('a firing of the schedule running', 30_000, async () => {
      const d = await schedule().describe();
      const running = d.info.runningActions[0];
      return running && { workflowId: running.workflow.workflowId, runId: running.workflow.firstExecutionRunId };
    });
  const sweepsOf = async (firing: { workflowId: string; runId: string }) => {
    const d = await suite.client.temporal.workflow.getHandle(firing.workflowId, firing.runId).describe();
    const pending = d.raw.pendingActivities?.find((p) => p.activityType?.name === 'probeLoop');
    const payload = pending?.heartbeatDetails?.payloads?.[0];
    return { status: d.status.name, sweeps: payload ? decode<{ sweeps: number }>(payload).sweeps : 0 };
  };
  const resultOf = (firing: { workflowId: string; runId: string }) =>
    suite.client.temporal.workflow.getHandle(firing.workflowId, firing.runId).result() as Promise<ProbeLoopResult>;

  before(async () => {
    const { file } = await writeDemoConfig(
      dir,
      [
        {
          id,
          supervision: { group, interval: '1s', failuresBeforeRecovery: 2, confirmInterval: '250ms', startupGrace: '0s', restartBackoff: { initial: '100ms' } },
        },
      ],
      `supervision:\n  checkLease: ${LEASE_MS / 1_000}s\n`,
    );
    suite = await startRunbookSuite(dir, queue, file);
    await superviseRunning(suite);
  });

  after(async () => {
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
    await stopSupervisedSuite(suite, queue, [group], [supervisorWorkflowId(id)]);
  });

  test('one firing sweeps every interval, and reports a hung service (SIGSTOP) to its supervisor, which recovers it', async () => {
    const firing = await runningFiring();
    // Several sweeps of the same firing (its heartbeat says how many so far).
    await waitFor('three sweeps in one firing', LEASE_MS, async () => {
      const { status, sweeps } = await sweepsOf(firing);
      assert.equal(status, 'RUNNING', 'the firing ended before its third sweep');
      return sweeps >= 3;
    });

    const hung = (await runningProcess(processAdapter(suite.config.components[0]!)))!;
    process.kill(hung.pid, 'SIGSTOP');
    stopped.push(hung.pid);
    const stoppedAt = Date.now();
    // The pid watch cannot see a hang: only a sweep can report it.
    const reported = await waitFor('a failed sweep report to the supervisor', 30_000, async () => {
      const { events } = await suite.client.temporal.workflow.getHandle(supervisorWorkflowId(id)).fetchHistory();
      return (events ?? []).find((e) => {
        const signal = e.workflowExecutionSignaledEventAttributes;
        if (signal?.signalName !== 'report') return false;
        const report = decode<ProbeReport>(signal.input!.payloads![0]!);
        return report.source === 'sweep' && !report.healthy && Date.parse(report.checkedAt) >= stoppedAt;
      });
    });
    await waitFor('recovered with a new process', 60_000, async () => {
      const st = await state();
      const now = await runningProcess(processAdapter(suite.config.components[0]!));
      return st.health === 'healthy' && st.stats.succeeded >= 1 && now !== undefined && now.pid !== hung.pid;
    });

    // Whichever firing sent the report: it is one lease's loop that swept many times and reported it.
    const reportedAt = Number(reported.eventTime!.seconds) * 1_000;
    const firings: WorkflowExecutionInfo[] = [];
    const query = `WorkflowType = ${JSON.stringify(WORKFLOW_TYPES.healthSweep)} AND TaskQueue = ${JSON.stringify(queue)} AND ExecutionStatus = "Completed"`;
    const sender = await waitFor('the firing that reported it, completed', LEASE_MS + 30_000, async () => {
      firings.length = 0;
      for await (const run of suite.client.temporal.workflow.list({ query })) firings.push(run);
      const found = firings.find((f) => f.startTime.getTime() <= reportedAt && (f.closeTime?.getTime() ?? 0) >= reportedAt);
      return found;
    });
    const result = await resultOf({ workflowId: sender.workflowId, runId: sender.runId });
    assert.ok(result.reported.includes(id), `the firing reported ${id}: ${JSON.stringify(result)}`);
    assert.ok(result.sweeps >= 3, `one firing swept ${result.sweeps} times`);
    assert.equal(result.ended, 'lease');
    recordHistory(sender.workflowId, sender.runId, 'health-sweep-probe-loop.json');
  });

  test("a reconcile that changes the group's specs ends the running firing; the next one sweeps the new revision", async () => {
    const firing = await runningFiring();
    const changed: Config = {
      ...suite.config,
      components: suite.config.components.map((c) => ({ ...c, supervision: { ...c.supervision, failuresBeforeRecovery: 7 } })),
    };
    assert.deepEqual((await reconcileSchedules(suite.client, changed)).updated, [scheduleId]);
    const result = await resultOf(firing);
    assert.equal(result.ended, 'revision');
    await waitFor('the new spec reported to the supervisor', 30_000, async () => {
      const { events } = await suite.client.temporal.workflow.getHandle(supervisorWorkflowId(id)).fetchHistory();
      return (events ?? []).some((e) => {
        const signal = e.workflowExecutionSignaledEventAttributes;
        return signal?.signalName === 'report' && decode<ProbeReport>(signal.input!.payloads![0]!).spec?.component.supervision.failuresBeforeRecovery === 7;
      });
    });
  });

  test('pausing the schedule ends its running firing within seconds; none runs until it is resumed', async () => {
    const firing = await runningFiring();
    await waitFor('the firing sweeping', LEASE_MS, async () => (await sweepsOf(firing)).sweeps >= 1);
    const pausedAt = Date.now();
    await schedule().pause('test: checks off');
    const result = await resultOf(firing);
    const closed = await suite.client.temporal.workflow.getHandle(firing.workflowId, firing.runId).describe();
    assert.equal(result.ended, 'paused');
    const tookMs = closed.closeTime!.getTime() - pausedAt;
    assert.ok(tookMs < LEASE_MS / 2, `the firing ran on ${tookMs} ms after the pause`);
    const d = await schedule().describe();
    assert.deepEqual([d.state.paused, d.info.runningActions.length], [true, 0]);

    const taken = d.info.numActionsTaken;
    await schedule().unpause('test: checks on');
    const next = await runningFiring();
    assert.notEqual(next.workflowId, firing.workflowId);
    assert.equal((await schedule().describe()).info.numActionsTaken, taken + 1);
  });
});
