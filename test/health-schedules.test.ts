/**
 * Health schedules reconciled from config on the real dev server: 100 components in 4 groups make
 * 4 schedules; a second reconcile changes nothing; a changed group is updated alone; a removed
 * group's schedule is deleted; schedules of another owner are never touched.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ScheduleNotFoundError } from '@temporalio/client';
import { MendClient } from '../client';
import { deleteHealthSchedules, listHealthSchedules, planHealthGroups, reconcileSchedules, supervisorSpec, SWEEP_INPUT_BUDGET } from '../client/schedules';
import { parseConfig } from '../core/config';
import { healthScheduleId, healthSchedulePartId, supervisorWorkflowId } from '../core/constants';
import { reportSignal } from '../core/messages';
import type { Config } from '../core/schemas';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import { sharedServer, uniqueQueue, waitFor } from './helpers';

const suffix = Date.now().toString(36);
const groups = [0, 1, 2, 3].map((g) => `fleet${g}-${suffix}`);

/** 100 components, 25 per group; `interval` per group index. */
function fleetConfig(intervals: Record<number, string> = {}, groupCount = 4): Config {
  const lines = ['version: 1', 'components:'];
  for (let i = 0; i < 100; i++) {
    const g = i % 4;
    if (g >= groupCount) continue;
    lines.push(
      `  - id: c${i}-${suffix}`,
      `    adapter: { type: process, command: [node, server.js] }`,
      `    probe: { type: tcp, port: ${10_000 + i} }`,
      // An hour: no sweep fires while the test runs (no worker polls this queue).
      `    supervision: { group: ${groups[g]}, interval: ${intervals[g] ?? '1h'} }`,
    );
  }
  if (lines.length === 2) lines[1] = 'components: []';
  return parseConfig(lines.join('\n'), 'fleet.yaml', { baseDir: '/tmp', stateDir: '/tmp/.mend' });
}

describe('health schedules reconciled from config', () => {
  const queue = uniqueQueue('schedules');
  let client: MendClient;

  before(async () => {
    client = await MendClient.connect({ address: sharedServer().address, taskQueue: queue });
  });

  after(async () => {
    await deleteHealthSchedules(client, queue, groups.map(healthScheduleId));
    await client.close();
  });

  test('100 components make one schedule per group; a second reconcile makes no change', async () => {
    const config = fleetConfig();
    assert.deepEqual(
      planHealthGroups(config, queue).map((p) => [p.scheduleId, p.specs.length]),
      groups.map((g) => [healthScheduleId(g), 25]),
    );
    const t0 = performance.now();
    const first = await reconcileSchedules(client, config);
    const firstMs = performance.now() - t0;
    assert.deepEqual(first.created, groups.map(healthScheduleId));
    assert.deepEqual([first.updated, first.deleted, first.unchanged], [[], [], []]);

    const t1 = performance.now();
    const second = await reconcileSchedules(client, config);
    const secondMs = performance.now() - t1;
    console.log(`reconcile of 100 components: first ${Math.round(firstMs)}ms (4 created), second ${Math.round(secondMs)}ms (no change)`);
    assert.deepEqual(second, {
      created: [],
      updated: [],
      deleted: [],
      unchanged: groups.map(healthScheduleId),
      retired: [],
      drills: { created: [], updated: [], deleted: [], unchanged: [] },
      resumed: [],
    });
  });

  test('a changed group is updated alone, keeping its paused state', async () => {
    await client.temporal.schedule.getHandle(healthScheduleId(groups[1]!)).pause('operator holds it');
    const changed = await reconcileSchedules(client, fleetConfig({ 1: '30m' }));
    assert.deepEqual(changed.updated, [healthScheduleId(groups[1]!)]);
    assert.deepEqual(changed.created, []);
    assert.equal(changed.unchanged.length, 3);
    const d = await client.temporal.schedule.getHandle(healthScheduleId(groups[1]!)).describe();
    assert.equal(d.spec.intervals?.[0]?.every, 30 * 60_000);
    assert.equal(d.state.paused, true, 'an operator pause survives a reconcile');
    const again = await reconcileSchedules(client, fleetConfig({ 1: '30m' }));
    assert.deepEqual(again.updated, []);
  });

  test("removing a group deletes its schedule and leaves other owners' schedules alone", async () => {
    const otherOwner = await MendClient.connect({ address: sharedServer().address, taskQueue: uniqueQueue('other-owner') });
    try {
      // The list that finds deletable schedules is eventually consistent: wait until it shows ours.
      await waitFor('4 schedules listed', 20_000, async () => (await listHealthSchedules(client, { owner: queue })).length === 4);
      const fromOther = await reconcileSchedules(otherOwner, fleetConfig({}, 0));
      assert.deepEqual(fromOther.deleted, [], 'another owner deletes nothing of ours');

      const removed = await reconcileSchedules(client, fleetConfig({ 1: '30m' }, 3));
      assert.deepEqual(removed.deleted, [healthScheduleId(groups[3]!)]);
      assert.deepEqual(removed.created, []);
      assert.deepEqual(removed.updated, []);
      await assert.rejects(client.temporal.schedule.getHandle(healthScheduleId(groups[3]!)).describe(), ScheduleNotFoundError);
      const listed = await waitFor('3 schedules listed', 20_000, async () => {
        const list = await listHealthSchedules(client, { owner: queue });
        return list.length === 3 && list;
      });
      assert.deepEqual(
        listed.map((s) => s.components.length),
        [25, 25, 25],
      );
    } finally {
      await otherOwner.close();
    }
  });

  test('supervisors of components no longer watched are retired; the others stay', async () => {
    const config = fleetConfig({ 1: '30m' }, 3);
    const kept = config.components[0]!;
    const start = (id: string) =>
      client.temporal.workflow.signalWithStart(WORKFLOW_TYPES.supervisor, {
        workflowId: supervisorWorkflowId(id),
        taskQueue: queue,
        args: [{ spec: supervisorSpec(kept, config) }],
        signal: reportSignal,
        signalArgs: [{ healthy: true, detail: 'ok', checkedAt: new Date().toISOString(), source: 'manual' }],
      });
    const gone = `c3-${suffix}`; // group 3 was removed from the config
    await start(kept.id);
    await start(gone);
    try {
      const query = `WorkflowType = "${WORKFLOW_TYPES.supervisor}" AND ExecutionStatus = "Running" AND TaskQueue = "${queue}"`;
      await waitFor('both supervisors listed', 20_000, async () => (await client.temporal.workflow.count(query)).count === 2);
      const result = await reconcileSchedules(client, config);
      assert.deepEqual(result.retired, [supervisorWorkflowId(gone)]);
      assert.equal((await client.temporal.workflow.getHandle(supervisorWorkflowId(gone)).describe()).status.name, 'TERMINATED');
      assert.equal((await client.temporal.workflow.getHandle(supervisorWorkflowId(kept.id)).describe()).status.name, 'RUNNING');
    } finally {
      await client.temporal.workflow
        .getHandle(supervisorWorkflowId(kept.id))
        .terminate('test over')
        .catch(() => undefined);
    }
  });
});

describe('a health-check group too big for one sweep input', () => {
  const queue = uniqueQueue('schedules-split');
  const group = `big-${suffix}`;
  let client: MendClient;

  /** `n` components of one group, in config order, all specs of the same size. */
  function bigConfig(n: number): Config {
    const lines = ['version: 1', 'components:'];
    for (let i = 0; i < n; i++) {
      lines.push(
        `  - id: b${String(i).padStart(5, '0')}-${suffix}`,
        `    adapter: { type: process, command: [node, server.js] }`,
        `    probe: { type: tcp, port: 10000 }`,
        `    supervision: { group: ${group}, interval: 1h }`,
      );
    }
    return parseConfig(lines.join('\n'), 'big.yaml', { baseDir: '/tmp', stateDir: '/tmp/.mend' });
  }

  before(async () => {
    client = await MendClient.connect({ address: sharedServer().address, taskQueue: queue });
  });

  after(async () => {
    await deleteHealthSchedules(
      client,
      queue,
      [1, 2, 3, 4].map((p) => healthSchedulePartId(group, p)),
    );
    await client.close();
  });

  test('is split into parts within the budget, in config order; part 1 keeps the group id', () => {
    const config = bigConfig(25);
    const one = JSON.stringify(supervisorSpec(config.components[0]!, config)).length + 1;
    const plans = planHealthGroups(config, queue, 1 + one * 10);
    assert.deepEqual(
      plans.map((p) => [p.scheduleId, p.part, p.group, p.specs.length]),
      [
        [healthScheduleId(group), 1, group, 10],
        [`${healthScheduleId(group)}/2`, 2, group, 10],
        [`${healthScheduleId(group)}/3`, 3, group, 5],
      ],
    );
    assert.deepEqual(
      plans.flatMap((p) => p.specs.map((s) => s.component.id)),
      config.components.map((c) => c.id),
    );
    assert.equal(new Set(plans.map((p) => p.hash)).size, 3, 'each part has its own hash');
    // Within budget, a group is one schedule with the hash it always had.
    assert.deepEqual(
      planHealthGroups(config, queue).map((p) => p.scheduleId),
      [healthScheduleId(group)],
    );
  });

  test('5,000 components: every part carries at most SWEEP_INPUT_BUDGET bytes of specs', () => {
    const config = bigConfig(5_000);
    const plans = planHealthGroups(config, queue);
    assert.ok(plans.length > 1, `${plans.length} part(s)`);
    for (const p of plans) assert.ok(JSON.stringify(p.specs).length <= SWEEP_INPUT_BUDGET, `${p.scheduleId}: ${JSON.stringify(p.specs).length} bytes`);
    assert.equal(
      plans.reduce((n, p) => n + p.specs.length, 0),
      5_000,
    );
  });

  test('reconcile creates every part, lists them under the group, and a second reconcile changes nothing', async () => {
    // ~1 kB a spec: 800 components need more than one 400 kB sweep.
    const config = bigConfig(800);
    const ids = planHealthGroups(config, queue).map((p) => p.scheduleId);
    assert.ok(ids.length >= 2, `${ids.length} part(s)`);
    const first = await reconcileSchedules(client, config);
    assert.deepEqual(first.created, ids);
    await waitFor('every part listed', 20_000, async () => (await listHealthSchedules(client, { owner: queue })).length === ids.length);
    const listed = await listHealthSchedules(client, { owner: queue });
    assert.deepEqual(
      listed.map((s) => s.group),
      ids.map(() => group),
    );
    assert.equal(
      listed.reduce((n, s) => n + s.components.length, 0),
      800,
    );
    const second = await reconcileSchedules(client, config);
    assert.deepEqual([second.created, second.updated, second.unchanged], [[], [], ids]);
  });
});
