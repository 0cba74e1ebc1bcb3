/**
 * A whole host lost and back, on simulated hosts (PID namespaces, DESIGN §2a): host a (store, and
 * cache which needs store) is killed at once, agent and services together; host b keeps api (which
 * needs store) and other. The outage is one event: one "host a unreachable, 2 components affected"
 * notification however many supervisors and sweeps report it, no restart attempted on a, api held
 * for the host (even once it has died too), other untouched. When a new namespace with a new agent
 * (same MEND_HOME) comes up, a's components are checked at once and recovered, store before cache,
 * without anyone acting, with one "reachable again" notification; api is restarted after store, and,
 * as the outage's doing, takes no breaker slot either.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type MendClient } from '../client';
import { loadConfigFile } from '../client/config';
import { deleteHealthSchedules, reconcileSchedules } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { healthHostScheduleId, hostWorkflowId, recoveryWorkflowId, supervisorWorkflowId } from '../core/constants';
import type { HostWatchState } from '../core/host-outage';
import { hostWatchStateQuery } from '../core/messages';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import type { RecoveryResult } from '../core/run';
import type { Component, Config } from '../core/schemas';
import type { SupervisorState } from '../core/supervision';
import { startAlertSink, type AlertSink } from './alert-sink';
import { demoStarts, httpStatus, recordHistory, startCentral, tempDir, uniqueQueue, waitFor, writeDemoConfig, type TestWorker } from './helpers';
import { canSimulateHosts, startSimHost, type SimHost } from './sim-hosts';

interface HostAlert {
  kind: string;
  text: string;
  host?: string;
  details: { components?: string[] };
}

describe('a lost host is one event (PID namespaces)', { skip: canSimulateHosts ? false : 'needs root for unshare --pid' }, () => {
  const dir = tempDir('host-loss');
  const queue = uniqueQueue('host-loss');
  const s = Date.now().toString(36);
  const ids = { store: `store-${s}`, cache: `cache-${s}`, api: `api-${s}`, other: `other-${s}` };
  const groups = { a: `loss-a-${s}`, b: `loss-b-${s}` };
  const homes = { a: path.join(dir, 'home-a'), b: path.join(dir, 'home-b') };
  const hosts: Record<'a' | 'b', SimHost | undefined> = { a: undefined, b: undefined };
  let sink: AlertSink;
  let config: Config;
  let client: MendClient;
  let worker: TestWorker;
  const c = (id: string): Component => config.components.find((x) => x.id === id)!;
  const state = async (id: string) => (await supervisorState(client, id)) as SupervisorState;
  const url = (id: string) => (c(id).probe as { url: string }).url;
  const hostAlerts = (kind: string) => (sink.alerts as unknown as HostAlert[]).filter((a) => a.kind === kind);
  const hostWatch = () => client.temporal.workflow.getHandle(hostWorkflowId(queue, 'a'));

  before(async () => {
    sink = await startAlertSink();
    const supervision = (group: string) => ({ group, interval: '1s', startupGrace: '0s', restartBackoff: { initial: '100ms' } });
    const policy = { timeout: '30s' };
    const { file } = await writeDemoConfig(
      dir,
      [
        { id: ids.store, host: 'a', policy, supervision: supervision(groups.a) },
        { id: ids.cache, host: 'a', dependsOn: [ids.store], policy, supervision: supervision(groups.a) },
        { id: ids.api, host: 'b', dependsOn: [ids.store], policy, supervision: supervision(groups.b) },
        { id: ids.other, host: 'b', policy, supervision: supervision(groups.b) },
      ],
      `hosts:\n  - { id: a }\n  - { id: b }\nsupervision:\n  notify: { webhook: "${sink.url}" }\n`,
    );
    config = loadConfigFile(file, { stateDir: path.join(dir, 'central') });
    for (const id of ['a', 'b'] as const) {
      hosts[id] = await startSimHost(id, queue, homes[id]);
      await hosts[id].startAgent();
    }
    // Each started on its host (dependencies first), then supervised.
    ({ worker, client } = await startCentral(queue, path.join(dir, 'central'), [ids.store, ids.cache, ids.api, ids.other].map(c)));
    await reconcileSchedules(client, config);
    for (const id of Object.values(ids))
      await waitFor(`supervisor of ${id} healthy`, 60_000, async () => (await supervisorState(client, id))?.health === 'healthy');
  });

  after(async () => {
    if (client) {
      await deleteHealthSchedules(client, queue, [healthHostScheduleId(groups.a, 'a'), healthHostScheduleId(groups.b, 'b')]);
      for (const wf of [...Object.values(ids).map(supervisorWorkflowId), hostWorkflowId(queue, 'a')])
        await client.temporal.workflow
          .getHandle(wf)
          .terminate('test over')
          .catch(() => undefined);
    }
    await worker?.stop();
    for (const h of Object.values(hosts)) await h?.stop();
    await client?.close();
    sink?.close();
  });

  test('killing host a: one notification naming the host and its 2 components, no restart attempted there, api held for the host, b otherwise untouched', async () => {
    const starts = { store: demoStarts(dir, ids.store), cache: demoStarts(dir, ids.cache) };
    await hosts.a!.kill();

    const [alert] = await waitFor('host-unreachable alert', 120_000, () => hostAlerts('host-unreachable').length > 0 && hostAlerts('host-unreachable'));
    assert.equal(alert!.text, 'mend: host a unreachable, 2 components affected');
    assert.deepEqual(alert!.details.components, [ids.cache, ids.store].sort());

    // a's supervisors hold naming the host, with nothing queued on a's queue (the pid watch stopped).
    for (const id of [ids.store, ids.cache]) {
      const held = await waitFor(`${id} held for host a, nothing pending`, 60_000, async () => {
        const st = await state(id);
        const { raw } = await client.temporal.workflow.getHandle(supervisorWorkflowId(id)).describe();
        return st.unreachableHost === 'a' && (raw.pendingActivities ?? []).length === 0 && st;
      });
      // cache also depends on store (on a): a dependency check that reached no agent may have said it last.
      assert.match(held.held ?? '', /^host a unreachable|^waiting for host a \(unreachable\)$/);
    }
    // api (on b) fails without store; its dependency check reaches no agent on a: held for the host, not failed.
    const api = await waitFor('api held for host a', 90_000, async () => {
      const st = await state(ids.api);
      return st.held === 'waiting for host a (unreachable)' && st;
    });
    assert.equal(api.stats.attempted, 0);
    // api dies too while store's host is away (as a dependent may): still held for the host, the outage noted.
    assert.equal((await fetch(url(ids.api).replace('/healthz', '/admin/crash'), { method: 'POST' })).status, 200);
    await waitFor('api gone', 30_000, async () => (await httpStatus(url(ids.api))) === undefined);
    // Held for the host all along (each failure report is checked against the dependency again), the outage noted.
    const died = await state(ids.api);
    assert.deepEqual([died.held, died.stats.attempted, died.dependencyHostDown], ['waiting for host a (unreachable)', 0, 'a']);

    // The host's workflow has done all it does for the outage (its schedule paused, so no sweep
    // reports it every few seconds any more); however many reported it (sweep, supervisors): one notification.
    const watch = await waitFor("the outage handled: a's schedule paused", 90_000, async () => {
      const st = await hostWatch().query(hostWatchStateQuery);
      return st.reports >= 1 && (st.paused ?? []).includes(healthHostScheduleId(groups.a, 'a')) && st;
    });
    assert.equal(watch.status, 'unreachable');
    assert.equal(hostAlerts('host-unreachable').length, 1);

    for (const id of [ids.store, ids.cache]) {
      const st = await state(id);
      assert.deepEqual([st.stats.attempted, st.breaker.state, st.stats.breakerOpened, st.current], [0, 'closed', 0, undefined], `${id}: nothing tried`);
      // The supervisor started no recovery child while its host was away.
      const { events } = await client.temporal.workflow.getHandle(supervisorWorkflowId(id)).fetchHistory();
      assert.equal(events?.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes).length, 0, `${id}: no recovery started`);
    }
    assert.deepEqual([demoStarts(dir, ids.store), demoStarts(dir, ids.cache)], [starts.store, starts.cache]);
    // b's own component is untouched; every supervisor still runs.
    const other = await state(ids.other);
    assert.deepEqual([other.health, other.held, other.stats.attempted], ['healthy', undefined, 0]);
    assert.equal(await httpStatus(url(ids.other)), 200);
    for (const id of Object.values(ids))
      assert.equal((await client.temporal.workflow.getHandle(supervisorWorkflowId(id)).describe()).status.name, 'RUNNING', `${id} supervisor runs`);
  });

  test('host a back (new namespace, new agent, same MEND_HOME): its components are recovered without anyone acting, store before cache, one "reachable again"', async () => {
    hosts.a = await startSimHost('a', queue, homes.a);
    await hosts.a.startAgent();

    for (const id of [ids.store, ids.cache])
      await waitFor(`${id} recovered on a`, 120_000, async () => {
        const st = await state(id);
        return st.health === 'healthy' && st.stats.attempted >= 1 && st.current === undefined && (await httpStatus(url(id))) === 200;
      });
    // Dependents after their dependencies: cache was started only once store was validated healthy.
    const result = (id: string) => client.temporal.workflow.getHandle(recoveryWorkflowId(id)).result() as Promise<RecoveryResult>;
    const [store, cache] = [await result(ids.store), await result(ids.cache)];
    assert.equal(store.outcome, 'recovered', store.reason);
    assert.equal(cache.outcome, 'recovered', cache.reason);
    const stepAt = (r: RecoveryResult, name: string, at: 'startedAt' | 'endedAt') => Date.parse(r.steps.filter((x) => x.name === name).at(-1)![at]!);
    assert.ok(stepAt(cache, 'start', 'startedAt') >= stepAt(store, 'validate', 'endedAt'), 'cache started before store was healthy');

    // api (on b, dead since the outage) is restarted by its supervisor, only after store was healthy;
    // the outage's doing, so without a breaker slot or a restart backoff step, as a's own components.
    await waitFor('api healthy again', 60_000, async () => (await state(ids.api)).health === 'healthy' && (await httpStatus(url(ids.api))) === 200);
    const api = await state(ids.api);
    assert.equal(api.stats.attempted, 1, 'api restarted once by its supervisor');
    for (const run of api.stats.recent) {
      const restarted = (await client.temporal.workflow.getHandle(run.workflowId, run.runId).result()) as RecoveryResult;
      assert.ok(stepAt(restarted, 'start', 'startedAt') >= stepAt(store, 'validate', 'endedAt'), 'api restarted before store was healthy');
    }
    assert.deepEqual(
      [api.breaker.state, api.breaker.recoveries.length, api.consecutiveRecoveries, api.dependencyHostDown],
      ['closed', 0, 0, undefined],
      "api's restart after its dependency's host outage took no breaker slot",
    );
    assert.equal((await state(ids.other)).stats.attempted, 0);

    // The host's workflow ends after its quiet window: what it sent is all it will send.
    const ended = (await hostWatch().result()) as HostWatchState;
    assert.deepEqual([ended.status, ended.outages], ['reachable', 1]);
    assert.deepEqual(
      hostAlerts('host-reachable').map((a) => a.text.replace(/after \d+s/, 'after Ns')),
      ['mend: host a reachable again after Ns; checking its 2 components now'],
    );
    assert.equal(hostAlerts('host-unreachable').length, 1);
    for (const id of [ids.store, ids.cache]) assert.equal((await state(id)).unreachableHost, undefined);

    // The new branches as replay fixtures: the host's workflow, a supervisor held for its host and
    // recovered after, a dependent held for an unreachable dependency host and restarted free after
    // (supervisor-dependency-host-unreachable.json, recorded before that, has it held and healthy by itself).
    const described = await hostWatch().describe();
    recordHistory(described.workflowId, described.runId, 'host-watch-outage-and-return.json');
    for (const [id, file] of [
      [ids.store, 'supervisor-host-outage-recovered.json'],
      [ids.api, 'supervisor-dependency-host-outage-free.json'],
    ] as const) {
      const { runId } = await client.temporal.workflow.getHandle(supervisorWorkflowId(id)).describe();
      recordHistory(supervisorWorkflowId(id), runId, file);
    }
    // A sweep of a's group that found no agent there and reported it.
    const query = `WorkflowType = ${JSON.stringify(WORKFLOW_TYPES.healthSweep)} AND ExecutionStatus = "Failed" AND TaskQueue = "${queue}"`;
    for await (const sweep of client.temporal.workflow.list({ query })) {
      recordHistory(sweep.workflowId, sweep.runId, 'health-sweep-by-revision-reported-host-outage.json');
      break;
    }
  });
});
