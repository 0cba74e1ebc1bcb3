/**
 * Health schedules per host, on simulated hosts (PID namespaces, DESIGN §2a): a group spanning
 * hosts a and b gets one schedule per host (`mend/health/<group>@a`, `@b`), each sweeping only its
 * host's components on that host's agent. Pausing a's schedule (the API's group pause with
 * `?host=a`) stops a's checks while b's go on; taking host b out of the config deletes b's schedule
 * and leaves a's alone. A config without hosts keeps the ids and hashes it always had, so an
 * existing server's schedules are left unchanged by reconcile.
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
import { healthHostScheduleId, healthScheduleId, hostTaskQueue, supervisorWorkflowId } from '../core/constants';
import type { Component, Config } from '../core/schemas';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import { bearer, makeTokens, testApp } from './api-fixtures';
import { sharedServer, startInProcessWorker, tempDir, uniqueQueue, waitFor, writeDemoConfig, type TestWorker } from './helpers';
import { canSimulateHosts, startSimHost, type SimHost } from './sim-hosts';

test('a config without hosts keeps one schedule per group with the id and spec hash it always had (no duplicate, no update on an existing server)', () => {
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
  // The hash as reconcile computed it before schedules were per host: what existing schedules carry in their memo.
  for (const p of plans) {
    const before = createHash('sha256')
      .update(JSON.stringify({ v: 1, intervalMs: p.intervalMs, taskQueue: 'q', specs: p.specs }))
      .digest('hex');
    assert.equal(p.hash, before, `${p.scheduleId} hash unchanged`);
  }
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
      'hosts:\n  - { id: a }\n  - { id: b }\n',
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
