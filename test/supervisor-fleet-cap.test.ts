/**
 * The fleet-wide cap: three slow-starting services killed at once, with
 * `supervision.maxConcurrentRecoveries: 1`, are all recovered by their supervisors, one after the
 * other (no two recovery runs overlap), through the durable limiter `mend/fleet/<queue>`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { processAdapter, runningProcess } from '../domain/adapters/process';
import { supervisorState } from '../client/supervisors';
import { fleetLimiterWorkflowId } from '../core/constants';
import { fleetStateQuery } from '../core/messages';
import type { SupervisorState } from '../core/supervision';
import { httpStatus, probeUrlOf, startCappedFleet, waitFor, type CappedFleet, type RunbookSuite } from './helpers';

describe('fleet-wide cap on recoveries', () => {
  let fleet: CappedFleet;
  let suite: RunbookSuite;
  let queue: string;

  // A sweep every second: whichever of the pid watch and the sweep sees a kill first reports it.
  before(async () => {
    fleet = await startCappedFleet('fleet-cap', '1s');
    ({ suite, queue } = fleet);
  });

  after(() => fleet?.stop());

  test('three services killed at once are recovered one at a time', async () => {
    for (const c of suite.config.components) process.kill((await runningProcess(processAdapter(c)))!.pid, 'SIGKILL');
    const states = await waitFor('all three recovered', 120_000, async () => {
      const all = await Promise.all(suite.config.components.map((c) => supervisorState(suite.client, c.id)));
      return all.every((s) => s && s.stats.succeeded === 1 && s.current === undefined) && (all as SupervisorState[]);
    });
    for (const c of suite.config.components) assert.equal(await httpStatus(probeUrlOf(c)), 200, `${c.id} healthy`);

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
