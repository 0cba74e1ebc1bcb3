/**
 * A host lost and back again and again, on a simulated host (PID namespace, DESIGN §2a), with the
 * breaker as tight as it goes (one recovery per 10 minutes): each outage is one event, not the
 * components' fault, so after every return store and cache (on host a) are recovered again, and the
 * breaker stays closed with no slot taken. While the host is away its health schedule is paused
 * with a note naming the outage (no sweep that can only time out, no failed runs), and resumed when
 * it is back; a schedule an operator paused stays paused, its note kept, and is not fired.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type MendClient } from '../client';
import { loadConfigFile } from '../client/config';
import { deleteHealthSchedules, reconcileSchedules } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { healthHostScheduleId, hostWorkflowId, supervisorWorkflowId } from '../core/constants';
import { pausedNote } from '../core/host-outage';
import type { Component, Config } from '../core/schemas';
import type { SupervisorState } from '../core/supervision';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import { httpStatus, recordHistory, startCentral, tempDir, uniqueQueue, waitFor, writeDemoConfig, type TestWorker } from './helpers';
import { canSimulateHosts, startSimHost, type SimHost } from './sim-hosts';

const OUTAGES = 3;

describe('a host lost and back within the breaker window (PID namespaces)', { skip: canSimulateHosts ? false : 'needs root for unshare --pid' }, () => {
  const dir = tempDir('host-flaps');
  const queue = uniqueQueue('host-flaps');
  const s = Date.now().toString(36);
  const ids = { store: `store-${s}`, cache: `cache-${s}`, idle: `idle-${s}` };
  const groups = { live: `flap-${s}`, held: `held-${s}` };
  const schedules = { live: healthHostScheduleId(groups.live, 'a'), held: healthHostScheduleId(groups.held, 'a') };
  const home = path.join(dir, 'home-a');
  const operatorNote = 'operator: idle is being rebuilt';
  let host: SimHost | undefined;
  let config: Config;
  let client: MendClient;
  let worker: TestWorker;
  /** Firings of the held schedule before the operator's pause took hold (0 unless the machine was slow). */
  let heldActions = 0;
  const c = (id: string): Component => config.components.find((x) => x.id === id)!;
  const state = async (id: string) => (await supervisorState(client, id)) as SupervisorState;
  const url = (id: string) => (c(id).probe as { url: string }).url;
  const described = (id: string) => client.temporal.schedule.getHandle(id).describe();
  const sweeps = async (status: 'Failed' | 'Completed') => {
    const query = `WorkflowType = ${JSON.stringify(WORKFLOW_TYPES.healthSweep)} AND ExecutionStatus = "${status}" AND TaskQueue = "${queue}"`;
    const found: Array<{ workflowId: string; runId: string }> = [];
    for await (const run of client.temporal.workflow.list({ query })) found.push({ workflowId: run.workflowId, runId: run.runId });
    return found;
  };

  before(async () => {
    const supervision = (group: string) => ({
      group,
      interval: '1s',
      startupGrace: '0s',
      restartBackoff: { initial: '100ms' },
      // As tight as it goes: before outages were the host's, the second return opened it.
      breaker: { maxRecoveries: 1, window: '10m', coolDown: '1h' },
    });
    const policy = { timeout: '30s' };
    const { file } = await writeDemoConfig(
      dir,
      [
        { id: ids.store, host: 'a', policy, supervision: supervision(groups.live) },
        { id: ids.cache, host: 'a', dependsOn: [ids.store], policy, supervision: supervision(groups.live) },
        { id: ids.idle, host: 'a', policy, supervision: supervision(groups.held) },
      ],
      `hosts:\n  - { id: a }\n`,
    );
    config = loadConfigFile(file, { stateDir: path.join(dir, 'central') });
    host = await startSimHost('a', queue, home);
    await host.startAgent();
    ({ worker, client } = await startCentral(queue, path.join(dir, 'central'), [c(ids.store), c(ids.cache)]));
    await reconcileSchedules(client, config);
    // An operator holds idle's checks (its service is not even running).
    await client.temporal.schedule.getHandle(schedules.held).pause(operatorNote);
    // On a loaded machine the schedule can fire between its creation and that pause. Those firings
    // are not what this test is about: let them end and stop the supervisor they started, so that
    // what follows counts only what happens while the operator's pause stands.
    await waitFor('firings before the pause to end', 60_000, async () => (await described(schedules.held)).info.runningActions.length === 0);
    heldActions = (await described(schedules.held)).info.numActionsTaken;
    if (heldActions > 0)
      await client.temporal.workflow
        .getHandle(supervisorWorkflowId(ids.idle))
        .terminate('started by a firing before the operator paused its checks')
        .catch(() => undefined);
    for (const id of [ids.store, ids.cache])
      await waitFor(`supervisor of ${id} healthy`, 60_000, async () => (await supervisorState(client, id))?.health === 'healthy');
  });

  after(async () => {
    if (client) {
      await deleteHealthSchedules(client, queue, Object.values(schedules));
      for (const wf of [...Object.values(ids).map(supervisorWorkflowId), hostWorkflowId(queue, 'a')])
        await client.temporal.workflow
          .getHandle(wf)
          .terminate('test over')
          .catch(() => undefined);
    }
    await worker?.stop();
    await host?.stop();
    await client?.close();
  });

  test(`lost and back ${OUTAGES} times with one breaker slot per 10 minutes: healthy after every return, the breaker closed; the schedule paused (not failing) while away and resumed after, the operator's pause kept`, async () => {
    for (let outage = 1; outage <= OUTAGES; outage++) {
      const attempted = (await state(ids.store)).stats.attempted;
      await host!.kill();

      // The host's workflow pauses the host's schedule with its note; the operator's stays as it was.
      const paused = await waitFor(`outage ${outage}: schedule paused for the host`, 120_000, async () => {
        const d = await described(schedules.live);
        return d.state.paused && d.state.note === pausedNote('a') && d;
      });
      assert.match(paused.state.note ?? '', /host a is unreachable/);
      for (const id of [ids.store, ids.cache])
        await waitFor(`outage ${outage}: ${id} held for host a`, 60_000, async () => (await state(id)).unreachableHost === 'a');
      assert.deepEqual([(await described(schedules.held)).state.paused, (await described(schedules.held)).state.note], [true, operatorNote]);
      // Nothing of the outage failed a sweep: the one that found no agent reported it and was skipped.
      assert.deepEqual(await sweeps('Failed'), [], `outage ${outage}: no failed sweep`);

      host = await startSimHost('a', queue, home);
      await host.startAgent();
      for (const id of [ids.store, ids.cache])
        await waitFor(`outage ${outage}: ${id} recovered after the return`, 120_000, async () => {
          const st = await state(id);
          return st.health === 'healthy' && st.current === undefined && st.unreachableHost === undefined && (await httpStatus(url(id))) === 200 && st;
        });
      const store = await state(ids.store);
      assert.ok(store.stats.attempted > attempted, `outage ${outage}: store was recovered`);
      for (const id of [ids.store, ids.cache]) {
        const st = await state(id);
        assert.deepEqual([st.breaker.state, st.stats.breakerOpened], ['closed', 0], `outage ${outage}: ${id}'s breaker untouched`);
      }
      // Checks run again: the schedule is active and sweeps complete.
      const resumed = await waitFor(`outage ${outage}: schedule resumed`, 30_000, async () => {
        const d = await described(schedules.live);
        return !d.state.paused && d;
      });
      const actions = resumed.info.numActionsTaken;
      await waitFor(`outage ${outage}: the schedule sweeps again`, 30_000, async () => (await described(schedules.live)).info.numActionsTaken > actions);
      const held = await described(schedules.held);
      assert.deepEqual(
        [held.state.paused, held.state.note, held.info.numActionsTaken],
        [true, operatorNote, heldActions],
        "the operator's pause kept, never fired",
      );
    }
    assert.deepEqual(await sweeps('Failed'), [], 'no failed sweep in all the outages');
    for (const id of [ids.store, ids.cache]) assert.deepEqual((await state(id)).breaker.recoveries, [], `${id}: no breaker slot taken`);
    const idleSupervisor = await client.temporal.workflow
      .getHandle(supervisorWorkflowId(ids.idle))
      .describe()
      .catch(() => undefined);
    assert.ok(
      idleSupervisor === undefined || (heldActions > 0 && idleSupervisor.status.name === 'TERMINATED'),
      `idle's paused schedule started no supervisor (found one ${idleSupervisor?.status.name})`,
    );

    // The new branches as replay fixtures: a supervisor whose recoveries after host returns took no
    // slot, the host's workflow pausing and resuming its schedule, a sweep that skipped the lost host.
    const { runId } = await client.temporal.workflow.getHandle(supervisorWorkflowId(ids.store)).describe();
    recordHistory(supervisorWorkflowId(ids.store), runId, 'supervisor-host-outage-no-breaker-slot.json');
    const watch = await client.temporal.workflow.getHandle(hostWorkflowId(queue, 'a')).describe();
    recordHistory(watch.workflowId, watch.runId, 'host-watch-paused-schedules.json');
    for (const sweep of await sweeps('Completed')) {
      const result = (await client.temporal.workflow.getHandle(sweep.workflowId, sweep.runId).result()) as { unreachable?: string[] };
      if (!result.unreachable) continue;
      recordHistory(sweep.workflowId, sweep.runId, 'health-sweep-by-revision-unreachable-host.json');
      break;
    }
  });
});
