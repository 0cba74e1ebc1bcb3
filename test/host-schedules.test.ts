/**
 * Health schedules per host, on simulated hosts (PID namespaces, DESIGN §2a): a group spanning
 * hosts a and b gets one schedule per host (`mend/health/<group>@a`, `@b`), each sweeping only its
 * host's components on that host's agent. Pausing a's schedule (the API's group pause with
 * `?host=a`) stops a's checks while b's go on; taking host b out of the config deletes b's schedule
 * and leaves a's alone. A firing carries the schedule's revision, not its specs: the agent reads them
 * from the schedule's holder (`mend/health-specs/...`) once per revision. A config without hosts
 * keeps the ids it always had.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { MendClient } from '../client';
import { loadConfigFile } from '../client/config';
import { deleteHealthSchedules, listHealthSchedules, planHealthGroups, reconcileSchedules } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { parseConfig } from '../core/config';
import { healthHostScheduleId, healthScheduleId, healthSpecsWorkflowId, hostTaskQueue, supervisorWorkflowId } from '../core/constants';
import type { ProbeReport } from '../core/supervision';
import type { Component, Config } from '../core/schemas';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import { bearer, makeTokens, testApp } from './api-fixtures';
import { recordHistory, sharedServer, startInProcessWorker, tempDir, uniqueQueue, waitFor, writeDemoConfig, type TestWorker } from './helpers';
import { canSimulateHosts, startSimHost, type SimHost } from './sim-hosts';

test('a config without hosts keeps one schedule per group with the id it always had, and its hash changes once (to the firings carrying the revision)', () => {
  const config = parseConfig(
    [
      'version: 1',
      'components:',
      '  - { id: one, adapter: { type: process, command: [node, s.js] }, probe: { type: tcp, port: 10001 }, supervision: { group: g1, interval: 5s } }',
      '  - { id: two, adapter: { type: process, command: [node, s.js] }, probe: { type: tcp, port: 10002 }, supervision: { group: g1, interval: 2s } }',
      '  - { id: three, adapter: { type: process, command: [node, s.js] }, probe: { type: tcp, port: 10003 }, supervision: { group: g2 } }',
    ].join('\n'),
    'plain.yaml',
    { baseDir: '/tmp', stateDir: '/tmp/.mend' },
  );
  const plans = planHealthGroups(config, 'q');
  assert.deepEqual(
    plans.map((p) => [p.scheduleId, p.specs.map((s) => s.component.id)]),
    [
      [healthScheduleId('g1'), ['one', 'two']],
      [healthScheduleId('g2'), ['three']],
    ],
  );
  // The hash as reconcile computed it before schedules were per host, with v 2 since the firings
  // carry the revision: an existing schedule (v 1 in its memo) gets one update, and no duplicate.
  // Without a check lease (the default) the shape is as before it.
  const hashOf = (v: number, p: (typeof plans)[number], lease: { leaseMs?: number } = {}) =>
    createHash('sha256')
      .update(JSON.stringify({ v, intervalMs: p.intervalMs, ...lease, taskQueue: 'q', specs: p.specs }))
      .digest('hex');
  for (const p of plans) {
    assert.equal(p.leaseMs, undefined);
    assert.equal(p.hash, hashOf(2, p), `${p.scheduleId} hash of the same shape`);
    assert.notEqual(p.hash, hashOf(1, p), `${p.scheduleId}: a schedule from before is updated once`);
  }
  // With a lease longer than the interval the shape gains `leaseMs`: one more update.
  const leased = planHealthGroups({ ...config, supervision: { ...config.supervision, checkLease: 30_000 } }, 'q');
  assert.deepEqual(
    leased.map((p) => [p.leaseMs, p.hash]),
    leased.map((p) => [30_000, hashOf(2, p, { leaseMs: 30_000 })]),
  );
  // A lease not longer than the interval: no lease, the hash as before it.
  const leaseless = planHealthGroups({ ...config, supervision: { ...config.supervision, checkLease: 2_000 } }, 'q');
  assert.deepEqual(
    leaseless.map((p) => [p.leaseMs, p.hash]),
    leaseless.map((p) => [undefined, hashOf(2, p)]),
  );
});

describe('health schedules per host (PID namespaces)', { skip: canSimulateHosts ? false : 'needs root for unshare --pid' }, () => {
  const dir = tempDir('host-schedules');
  const queue = uniqueQueue('host-schedules');
  const s = Date.now().toString(36);
  const ids = { a: `on-a-${s}`, b: `on-b-${s}` };
  const group = `span-${s}`;
  const scheduleOf = { a: healthHostScheduleId(group, 'a'), b: healthHostScheduleId(group, 'b') };
  const hosts: Record<'a' | 'b', SimHost | undefined> = { a: undefined, b: undefined };
  let config: Config;
  let client: MendClient;
  let worker: TestWorker;
  let app: FastifyInstance;
  let admin: string;
  const c = (id: string): Component => config.components.find((x) => x.id === id)!;
  const actionsTaken = async (id: string) => (await client.temporal.schedule.getHandle(id).describe()).info.numActionsTaken;
  /** The task queues and worker identities of the activities a sweep ran. */
  const sweepPlacements = async (workflowId: string) => {
    const { events } = await client.temporal.workflow.getHandle(workflowId).fetchHistory();
    return (events ?? []).flatMap((e, n) => {
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (!scheduled) return [];
      const started = events!.slice(n).find((x) => x.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === e.eventId?.toString());
      return [[scheduled.taskQueue?.name, started?.activityTaskStartedEventAttributes?.identity]];
    });
  };

  before(async () => {
    const supervision = { group, interval: '1s', startupGrace: '0s' };
    const { file } = await writeDemoConfig(
      dir,
      [
        { id: ids.a, host: 'a', policy: { timeout: '30s' }, supervision },
        { id: ids.b, host: 'b', policy: { timeout: '30s' }, supervision },
      ],
      // A lease of one interval: a firing per check, which the pause test counts (test/probe-loop.test.ts pauses a loop).
      'hosts:\n  - { id: a }\n  - { id: b }\nsupervision:\n  checkLease: 1s\n',
    );
    config = loadConfigFile(file, { stateDir: path.join(dir, 'central') });
    for (const id of ['a', 'b'] as const) {
      hosts[id] = await startSimHost(id, queue, path.join(dir, `home-${id}`));
      await hosts[id].startAgent();
    }
    worker = await startInProcessWorker(queue, path.join(dir, 'central'));
    client = await MendClient.connect({ address: sharedServer().address, taskQueue: queue });
    for (const id of Object.values(ids)) {
      const run = await client.startRecovery({ strategy: 'immediate', component: c(id), trigger: 'manual', requestedBy: 'test' });
      assert.equal((await client.result(run.workflowId, run.runId)).outcome, 'recovered', `${id} started`);
    }
    const { tokens, table } = makeTokens(ids.a);
    admin = tokens.admin;
    app = await testApp(client, config, table);
  });

  after(async () => {
    await app?.close();
    if (client) {
      await deleteHealthSchedules(client, queue, [healthScheduleId(group), scheduleOf.a, scheduleOf.b]);
      for (const id of Object.values(ids))
        await client.temporal.workflow
          .getHandle(supervisorWorkflowId(id))
          .terminate('test over')
          .catch(() => undefined);
    }
    await worker?.stop();
    for (const h of Object.values(hosts)) await h?.stop();
    await client?.close();
  });

  test('a group spanning hosts a and b gets one schedule per host, each sweeping its own components on its own agent', async () => {
    const reconciled = await reconcileSchedules(client, config);
    assert.deepEqual(reconciled.created, [scheduleOf.a, scheduleOf.b]);
    // Listing goes through visibility, which may lag a moment behind the creation.
    const listed = await waitFor('both schedules listed', 30_000, async () => {
      const all = (await listHealthSchedules(client, { owner: queue })).map((x) => [x.scheduleId, x.group, x.host, x.components]);
      return all.length === 2 && all;
    });
    assert.deepEqual(listed, [
      [scheduleOf.a, group, 'a', [ids.a]],
      [scheduleOf.b, group, 'b', [ids.b]],
    ]);
    for (const id of Object.values(ids))
      await waitFor(`supervisor of ${id} healthy`, 60_000, async () => (await supervisorState(client, id))?.health === 'healthy');
    for (const host of ['a', 'b'] as const) {
      const sweep = (await client.temporal.schedule.getHandle(scheduleOf[host]).describe()).info.recentActions.at(-1)!.action.workflow.workflowId;
      await client.temporal.workflow.getHandle(sweep).result();
      assert.deepEqual(await sweepPlacements(sweep), [[hostTaskQueue(queue, host), hosts[host]!.agent!.identity]], `${host}'s sweep ran on its agent only`);
    }
    assert.deepEqual((await reconcileSchedules(client, config)).unchanged, [scheduleOf.a, scheduleOf.b]);
  });

  test("a firing carries its schedule's revision, not the specs; the agent reads them from mend/health-specs once per revision, and a changed spec reaches it", async () => {
    const decode = <T>(payload: unknown): T => client.temporal.options.loadedDataConverter.payloadConverter.fromPayload<T>(payload as never);
    const hashOf = async () => {
      const d = await client.temporal.schedule.getHandle(scheduleOf.a).describe();
      return d.action.type === 'startWorkflow' ? (d.action.memo?.mendSpecHash as string) : undefined;
    };
    /** A completed sweep of a's schedule fired after `since` (epoch ms): its start input and its activity's input, as JSON. */
    const sweepAfter = async (since: number) =>
      waitFor("a sweep of a's schedule", 60_000, async () => {
        const recent = (await client.temporal.schedule.getHandle(scheduleOf.a).describe()).info.recentActions.filter((x) => x.takenAt.getTime() > since);
        for (const action of recent.reverse()) {
          const handle = client.temporal.workflow.getHandle(action.action.workflow.workflowId);
          if ((await handle.describe()).status.name !== 'COMPLETED') continue;
          const { events } = await handle.fetchHistory();
          const input = events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
          const activity = events!.find((e) => e.activityTaskScheduledEventAttributes)!.activityTaskScheduledEventAttributes!.input!.payloads![0]!;
          return {
            workflowId: action.action.workflow.workflowId,
            runId: action.action.workflow.firstExecutionRunId,
            input: JSON.stringify(decode(input)),
            activity: JSON.stringify(decode(activity)),
          };
        }
        return undefined;
      });
    const revision = await hashOf();
    const sweep = await sweepAfter(0);
    for (const [what, json] of [
      ['the firing', sweep.input],
      ['its activity', sweep.activity],
    ] as const) {
      assert.ok(!json.includes('"specs"'), `${what} carries no specs: ${json}`);
      assert.ok(json.includes(revision!), `${what} names the revision`);
      assert.ok(json.length < 600, `${what}: ${json.length} bytes`);
    }
    recordHistory(sweep.workflowId, sweep.runId, 'health-sweep-by-revision.json');
    const holder = await client.temporal.workflow.getHandle(healthSpecsWorkflowId(scheduleOf.a)).describe();
    assert.deepEqual([holder.status.name, holder.memo?.mendSpecHash], ['RUNNING', revision]);

    // A changed spec: reconcile replaces the holder before it updates the schedule, and the agent's
    // next sweep reports the new spec to the supervisor (every component, once, on a new revision).
    const changed: Config = {
      ...config,
      components: config.components.map((x) => (x.id === ids.a ? { ...x, supervision: { ...x.supervision, failuresBeforeRecovery: 7 } } : x)),
    };
    const since = Date.now();
    assert.deepEqual((await reconcileSchedules(client, changed)).updated, [scheduleOf.a]);
    const next = await client.temporal.workflow.getHandle(healthSpecsWorkflowId(scheduleOf.a)).describe();
    assert.notEqual(next.runId, holder.runId, 'a new holder');
    assert.deepEqual([next.status.name, next.memo?.mendSpecHash], ['RUNNING', await hashOf()]);
    assert.equal((await client.temporal.workflow.getHandle(holder.workflowId, holder.runId).describe()).status.name, 'TERMINATED', 'the old holder ended');
    await sweepAfter(since);
    await waitFor('the new spec reported to the supervisor of a', 30_000, async () => {
      const { events } = await client.temporal.workflow.getHandle(supervisorWorkflowId(ids.a)).fetchHistory();
      return (events ?? []).some((e) => {
        const signal = e.workflowExecutionSignaledEventAttributes;
        if (signal?.signalName !== 'report') return false;
        return decode<ProbeReport>(signal.input!.payloads![0]).spec?.component.supervision.failuresBeforeRecovery === 7;
      });
    });
    assert.deepEqual((await reconcileSchedules(client, config)).updated, [scheduleOf.a], 'back to the config');
  });

  test("pausing host a's schedule of the group (POST /v1/schedules/:group/pause?host=a) stops a's checks; b's go on", async () => {
    const paused = await app.inject({ method: 'POST', url: `/v1/schedules/${group}/pause?host=a`, headers: bearer(admin) });
    assert.equal(paused.statusCode, 200, paused.body);
    assert.equal((paused.json() as { scheduleId: string }).scheduleId, scheduleOf.a);
    const [a, b] = await Promise.all([
      client.temporal.schedule.getHandle(scheduleOf.a).describe(),
      client.temporal.schedule.getHandle(scheduleOf.b).describe(),
    ]);
    assert.deepEqual([a.state.paused, b.state.paused], [true, false]);

    // While b's schedule fires three more times, a's fires none, and no sweep of a runs.
    const aTaken = await actionsTaken(scheduleOf.a);
    const bTaken = await actionsTaken(scheduleOf.b);
    await waitFor("three more sweeps of b's schedule", 60_000, async () => (await actionsTaken(scheduleOf.b)) >= bTaken + 3);
    assert.equal(await actionsTaken(scheduleOf.a), aTaken, "a's schedule fired while paused");
    const running = `WorkflowType = ${JSON.stringify(WORKFLOW_TYPES.healthSweep)} AND ExecutionStatus = "Running" AND TaskQueue = ${JSON.stringify(queue)}`;
    for await (const run of client.temporal.workflow.list({ query: running })) assert.ok(!run.workflowId.startsWith(scheduleOf.a), `${run.workflowId} runs`);

    // An unknown host of the group is a 404 naming it; resuming a's lets its checks go on.
    const unknown = await app.inject({ method: 'POST', url: `/v1/schedules/${group}/pause?host=zz`, headers: bearer(admin) });
    assert.equal(unknown.statusCode, 404, unknown.body);
    assert.match(unknown.body, /host zz/);
    const resumed = await app.inject({ method: 'POST', url: `/v1/schedules/${group}/resume?host=a`, headers: bearer(admin) });
    assert.equal(resumed.statusCode, 200, resumed.body);
    await waitFor("a's schedule fires again", 60_000, async () => (await actionsTaken(scheduleOf.a)) > aTaken);
  });

  test("taking host b out of the config deletes b's schedule and leaves a's unchanged", async () => {
    const withoutB: Config = { ...config, hosts: config.hosts.filter((h) => h.id !== 'b'), components: config.components.filter((x) => x.host !== 'b') };
    const result = await reconcileSchedules(client, withoutB);
    assert.deepEqual([result.deleted, result.unchanged, result.created], [[scheduleOf.b], [scheduleOf.a], []]);
    await waitFor("only a's schedule listed", 30_000, async () => {
      const all = (await listHealthSchedules(client, { owner: queue })).map((x) => x.scheduleId);
      return all.length === 1 && all[0] === scheduleOf.a;
    });
  });
});
