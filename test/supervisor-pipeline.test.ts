/**
 * The supervisor's way from a pid exit to a recovery run, under a fleet cap, without steps that wait
 * on something already known: the recovery run lookup and the permit request go out together (one
 * workflow task), and a process seen gone is not probed again after the wait for its permit.
 * Three slow-starting services, a cap of 1, killed at once: the last waits seconds for its permit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { temporal } from '@temporalio/proto';
import { processAdapter, runningProcess } from '../domain/adapters/process';
import { supervisorState } from '../client/supervisors';
import { fleetLimiterWorkflowId, supervisorWorkflowId } from '../core/constants';
import { fleetStateQuery } from '../core/messages';
import type { SupervisorState } from '../core/supervision';
import { GiveUp } from '../scripts/wait-for';
import { httpStatus, probeUrlOf, recordHistory, startCappedFleet, waitFor, type CappedFleet, type RunbookSuite } from './helpers';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const ms = (e: HistoryEvent) => Number(e.eventTime?.seconds ?? 0) * 1000 + Math.round((e.eventTime?.nanos ?? 0) / 1e6);

/** The failure pass of a supervisor's history: from its pid watch's end to the start of its recovery run. */
function failurePass(events: HistoryEvent[]) {
  const scheduled = new Map<string, { name: string; completedBy: string }>();
  for (const e of events) {
    const a = e.activityTaskScheduledEventAttributes;
    if (a) scheduled.set(String(e.eventId), { name: a.activityType?.name ?? '', completedBy: String(a.workflowTaskCompletedEventId) });
  }
  const activityOf = (e: HistoryEvent) => scheduled.get(String(e.activityTaskCompletedEventAttributes?.scheduledEventId))?.name;
  const watchEnd = events.findIndex((e) => activityOf(e) === 'watchProcess');
  const start = events.findIndex((e) => e.startChildWorkflowExecutionInitiatedEventAttributes);
  assert.ok(watchEnd >= 0 && start > watchEnd, 'the pid watch reported the exit, then the recovery run was started');
  const pass = events.slice(watchEnd, start + 1);
  const permitAt = pass.findIndex((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'permit');
  const named = (from: number, to: number) =>
    pass
      .slice(from, to)
      .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
      .filter((n): n is string => n !== undefined);
  const taskOf = (name: string) => [...scheduled.entries()].find(([id, s]) => s.name === name && pass.some((e) => String(e.eventId) === id))?.[1].completedBy;
  // Where the report of the exit spends its time: the watch seeing it (its `at`), its completion reaching the server, the workflow task taking it up.
  const watchResult = events[watchEnd]!.activityTaskCompletedEventAttributes?.result?.payloads?.[0]?.data;
  const seenAt = watchResult ? Date.parse((JSON.parse(Buffer.from(watchResult).toString('utf8')) as { at: string }).at) : NaN;
  const taskStarted = events.slice(watchEnd).find((e) => e.workflowTaskStartedEventAttributes);
  return {
    report: { seenAt, completedAt: ms(events[watchEnd]!), takenUpAt: taskStarted ? ms(taskStarted) : NaN },
    permitAt,
    /** Activities scheduled after the permit came, before the start. */
    afterPermit: named(permitAt + 1, pass.length),
    /** Activities scheduled from the exit to the permit. */
    beforePermit: named(0, permitAt),
    lookupTask: taskOf('recoveryRun'),
    permitTask: taskOf('requestFleetPermit'),
    waitedMs: ms(pass[pass.length - 1]!) - ms(pass[0]!),
  };
}

describe('from a pid exit to its recovery run', () => {
  let fleet: CappedFleet;
  let suite: RunbookSuite;

  // A long sweep interval: the pid watch, not a failed sweep, reports each kill.
  before(async () => {
    fleet = await startCappedFleet('pipeline', '20s');
    ({ suite } = fleet);
  });

  after(() => fleet?.stop());

  test('SIGKILLed services are recovered with the run lookup and the permit request in one task, and no probe between permit and start', async () => {
    const pids = await Promise.all(suite.config.components.map(async (c) => (await runningProcess(processAdapter(c)))!.pid));
    const killedAt = Date.now();
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    // Where each supervisor and the fleet limiter are: for the message when the wait fails.
    const whereAll = async (all: Array<SupervisorState | undefined>) => {
      const where = all.map(
        (s, i) =>
          `${suite.config.components[i]!.id}: ${s ? `${s.stats.attempted} attempted, ${s.health}, ${s.current ? `running ${s.current.workflowId}` : 'idle'}, held ${s.held ?? '-'}, last failure ${s.lastDetail ?? '-'}, runs ${JSON.stringify(s.stats.recent.map((r) => [r.workflowId, r.outcome]))}` : 'no state'}`,
      );
      const limiter = await suite.client.temporal.workflow
        .getHandle(fleetLimiterWorkflowId(fleet.queue))
        .query(fleetStateQuery)
        .then(({ holders, waiting, windows }) => JSON.stringify({ holders, waiting, windows }))
        .catch((err: Error) => err.message);
      return `${where.join('; ')}; limiter ${limiter}`;
    };
    const statesNow = () => Promise.all(suite.config.components.map((c) => supervisorState(suite.client, c.id)));
    const states = await waitFor('all three recovered', 120_000, async () => {
      const all = await statesNow();
      // A second recovery can never meet the check: the wait ends at once.
      if (all.some((s) => s && s.stats.attempted > 1)) throw new GiveUp('a second recovery was needed');
      return all.every((s) => s && s.stats.attempted === 1 && s.current === undefined && s.health === 'healthy') && (all as SupervisorState[]);
    }).catch(async (err: Error) => {
      throw new Error(`${err.message}; where they are: ${await whereAll(await statesNow().catch(() => []))}`);
    });
    for (const c of suite.config.components) assert.equal(await httpStatus(probeUrlOf(c)), 200, `${c.id} healthy`);

    const passes = [];
    for (const c of suite.config.components) {
      const handle = suite.client.temporal.workflow.getHandle(supervisorWorkflowId(c.id));
      const { runId } = await handle.describe();
      const { events } = await handle.fetchHistory();
      passes.push({ id: c.id, runId, ...failurePass(events ?? []) });
    }
    // The last to be let through waited out the other two (1.5 s starts each): its evidence was stale by then.
    const last = passes.sort((x, y) => y.waitedMs - x.waitedMs)[0]!;
    recordHistory(supervisorWorkflowId(last.id), last.runId, 'supervisor-pid-exit-no-last-look.json');
    console.log(
      passes
        .map(
          (p) =>
            `${p.id}: exit seen by the watch +${p.report.seenAt - killedAt} ms, its completion at the server +${p.report.completedAt - killedAt} ms, ` +
            `taken up +${p.report.takenUpAt - killedAt} ms; then ${p.waitedMs} ms to the start, before the permit ${p.beforePermit.join(',')}; after ${p.afterPermit.join(',') || '-'}`,
        )
        .join('\n'),
    );
    assert.ok(last.waitedMs >= 2_000, `one supervisor waited for its permit (${last.waitedMs} ms)`);
    for (const p of passes) {
      assert.ok(p.permitAt >= 0, `${p.id}: its permit came by signal`);
      assert.deepEqual(p.afterPermit, [], `${p.id}: nothing probed between the permit and the start`);
      assert.equal(p.lookupTask, p.permitTask, `${p.id}: the run lookup and the permit request went out in one workflow task`);
    }
    assert.deepEqual(
      states.map((s) => s.stats.failuresByClass),
      states.map(() => ({ crash: 1 })),
    );
  });
});
