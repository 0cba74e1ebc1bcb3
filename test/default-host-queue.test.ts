/**
 * Where the default host's activities are scheduled (issue 16, orchestration overhead). The central
 * worker serves the default host itself, so a run whose starter says so (DEFAULT_HOST_EMBEDDED_MEMO)
 * schedules them on its own queue, where the worker that scheduled one is handed it at once (eager
 * dispatch), instead of on `<queue>/host/local` through matching. Central workers that leave the
 * default host to an agent keep it on the host's queue, and the agent runs it.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { temporal } from '@temporalio/proto';
import { MendClient } from '../client';
import { loadConfigFile } from '../client/config';
import { reconcileSchedules } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { DEFAULT_HOST, DEFAULT_HOST_EMBEDDED_MEMO, DEFAULT_NAMESPACE, hostTaskQueue, recoveryWorkflowId, supervisorWorkflowId } from '../core/constants';
import type { Config } from '../core/schemas';
import { processAdapter, runningProcess, startProcess, stopProcess } from '../domain/adapters/process';
import { createAgentWorker } from '../workers/agent';
import { createMendWorker, runAll } from '../workers/worker';
import {
  httpStatus,
  probeUrlOf,
  recordHistory,
  sharedServer,
  startRunbookSuite,
  stopSupervisedSuite,
  tempDir,
  uniqueQueue,
  waitFor,
  writeDemoConfig,
  type RunbookSuite,
} from './helpers';

type Event = temporal.api.history.v1.IHistoryEvent;

/** Each activity of a run: its type, the queue it was scheduled on, and the identity of the worker that ran it. */
async function activities(client: MendClient, workflowId: string, runId: string): Promise<Array<{ activity: string; taskQueue: string; identity: string }>> {
  const events = ((await client.temporal.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? []) as Event[];
  const byId = new Map(events.map((e) => [String(e.eventId), e]));
  return events.flatMap((e) => {
    const started = e.activityTaskStartedEventAttributes;
    if (!started) return [];
    const scheduled = byId.get(String(started.scheduledEventId))!.activityTaskScheduledEventAttributes!;
    return [{ activity: scheduled.activityType?.name ?? '', taskQueue: scheduled.taskQueue?.name ?? '', identity: started.identity ?? '' }];
  });
}

const memoOf = async (client: MendClient, workflowId: string, runId?: string) =>
  (await client.temporal.workflow.getHandle(workflowId, runId).describe()).memo ?? {};

describe('the default host served by the central worker: its activities on the run’s own queue', () => {
  const dir = tempDir('default-host-queue');
  const queue = uniqueQueue('default-host-queue');
  const suffix = Date.now().toString(36);
  const group = `dhq-${suffix}`;
  const [manual, supervised] = [`manual-${suffix}`, `supervised-${suffix}`];
  let suite: RunbookSuite;

  before(async () => {
    // The supervised one on the supervisor's own path (restartInPlace: false): a recovery run that acts.
    const { file } = await writeDemoConfig(dir, [
      { id: manual },
      { id: supervised, supervision: { group, interval: '1s', startupGrace: '0s', restartInPlace: false } },
    ]);
    suite = await startRunbookSuite(dir, queue, file);
    for (const c of suite.config.components) {
      await startProcess(processAdapter(c));
      await waitFor(`${c.id} healthy`, 15_000, async () => (await httpStatus(probeUrlOf(c))) === 200);
    }
  });

  after(() =>
    stopSupervisedSuite(suite, queue, [`mend/health/${group}`], [supervisorWorkflowId(supervised), recoveryWorkflowId(supervised), recoveryWorkflowId(manual)]),
  );

  test('a recovery started by the client probes, stops, starts and validates on the run’s own queue, run by the central worker', async () => {
    const component = suite.config.components.find((c) => c.id === manual)!;
    const started = await suite.client.startRecovery({ strategy: 'immediate', component, trigger: 'manual', requestedBy: 'test' });
    const result = await suite.client.result(started.workflowId, started.runId);
    assert.equal(result.outcome, 'recovered', result.reason);
    recordHistory(started.workflowId, started.runId, 'immediate-default-host-own-queue.json');

    assert.equal(
      (await memoOf(suite.client, started.workflowId, started.runId))[DEFAULT_HOST_EMBEDDED_MEMO],
      true,
      'the client says its workers serve the default host',
    );
    const acted = await activities(suite.client, started.workflowId, started.runId);
    // A process component's run by hand probes, stops, starts and validates in one activity.
    assert.deepEqual(
      acted.map((a) => a.activity),
      ['restartProcess'],
    );
    assert.deepEqual(
      result.steps.map((st) => st.name),
      ['probe', 'stop', 'start', 'validate'],
    );
    for (const a of acted) {
      assert.equal(a.taskQueue, queue, `${a.activity} scheduled on the run's own queue, not ${hostTaskQueue(queue, DEFAULT_HOST)}`);
      assert.match(a.identity, /^mend-worker\/local@/, `${a.activity} ran on the central worker`);
    }
  });

  test('a supervisor started by a sweep of the central worker, and the recovery it starts, keep the default host on their own queue', async () => {
    const c = suite.config.components.find((x) => x.id === supervised)!;
    await reconcileSchedules(suite.client, suite.config);
    await waitFor(`supervisor of ${supervised}`, 30_000, async () => (await supervisorState(suite.client, supervised))?.health === 'healthy');
    const first = await runningProcess(processAdapter(c));
    assert.ok(first);
    process.kill(first.pid, 'SIGKILL');
    const recovered = await waitFor('the supervisor recovered it', 60_000, async () => {
      const s = await supervisorState(suite.client, supervised);
      return s && s.stats.succeeded >= 1 && s.current === undefined && s;
    });
    const { workflowId, runId } = recovered.stats.recent[0]!;
    assert.equal(
      (await memoOf(suite.client, supervisorWorkflowId(supervised)))[DEFAULT_HOST_EMBEDDED_MEMO],
      true,
      'the sweep started the supervisor with the memo',
    );
    assert.equal((await memoOf(suite.client, workflowId, runId))[DEFAULT_HOST_EMBEDDED_MEMO], true, 'the supervisor hands it on to its recovery');
    const acted = await activities(suite.client, workflowId, runId);
    assert.ok(acted.length > 0);
    for (const a of acted) assert.equal(a.taskQueue, queue, `${a.activity} of the recovery scheduled on the run's own queue`);

    // The supervisor's own: short ones on its queue; the pid watch, which holds a slot for minutes, stays on the host's.
    const supervisorRun = (await suite.client.temporal.workflow.getHandle(supervisorWorkflowId(supervised)).describe()).runId;
    const own = await activities(suite.client, supervisorWorkflowId(supervised), supervisorRun);
    const watches = own.filter((a) => a.activity === 'watchProcess');
    assert.ok(watches.length > 0, `a pid watch ran: ${own.map((a) => a.activity).join(', ')}`);
    for (const a of watches) assert.equal(a.taskQueue, hostTaskQueue(queue, DEFAULT_HOST));
    for (const a of own.filter((x) => x.activity !== 'watchProcess')) assert.equal(a.taskQueue, queue, `${a.activity} on the supervisor's own queue`);
    recordHistory(supervisorWorkflowId(supervised), supervisorRun, 'supervisor-default-host-own-queue.json');
  });
});

describe('the default host served by an agent: its activities stay on its host queue', () => {
  const dir = tempDir('default-host-agent');
  const queue = uniqueQueue('default-host-agent');
  const home = path.join(dir, '.mend');
  const id = `agent-served-${Date.now().toString(36)}`;
  let config: Config;
  let client: MendClient;
  let stop: () => Promise<void>;

  before(async () => {
    const { file } = await writeDemoConfig(dir, [{ id }]);
    config = loadConfigFile(file, { stateDir: home });
    const { address, bundle } = sharedServer();
    const shutdown = new AbortController();
    // A central worker that does not poll the default host's queue, and an agent that does.
    const central = await createMendWorker({
      address,
      namespace: DEFAULT_NAMESPACE,
      taskQueue: queue,
      workflowBundlePath: bundle,
      embeddedHost: false,
      activityDeps: { stateDir: home, shutdown: shutdown.signal },
    });
    const agent = await createAgentWorker({
      address,
      namespace: DEFAULT_NAMESPACE,
      taskQueue: queue,
      host: DEFAULT_HOST,
      stateDir: home,
      shutdown: shutdown.signal,
    });
    const running = runAll([...central.workers, agent.worker]);
    stop = async () => {
      shutdown.abort();
      for (const w of [...central.workers, agent.worker]) if (w.getState() === 'RUNNING') w.shutdown();
      await running.finally(async () => {
        await central.connection.close();
        await agent.connection.close();
      });
    };
    client = await MendClient.connect({ address, taskQueue: queue, defaultHostEmbedded: false });
    await startProcess(processAdapter(config.components[0]!));
    await waitFor(`${id} healthy`, 15_000, async () => (await httpStatus(probeUrlOf(config.components[0]!))) === 200);
  });

  after(async () => {
    await stopProcess(processAdapter(config.components[0]!)).catch(() => undefined);
    await stop?.();
    await client?.close();
  });

  test('a recovery started by a client told so runs every step on <queue>/host/local, by the agent', async () => {
    const started = await client.startRecovery({ strategy: 'immediate', component: config.components[0]!, trigger: 'manual', requestedBy: 'test' });
    const result = await client.result(started.workflowId, started.runId);
    assert.equal(result.outcome, 'recovered', result.reason);
    assert.equal((await memoOf(client, started.workflowId, started.runId))[DEFAULT_HOST_EMBEDDED_MEMO], undefined);
    const acted = await activities(client, started.workflowId, started.runId);
    // Probe, stop, start and validate in one activity (a process component's run by hand).
    assert.deepEqual(
      acted.map((a) => a.activity),
      ['restartProcess'],
    );
    for (const a of acted) {
      assert.equal(a.taskQueue, hostTaskQueue(queue, DEFAULT_HOST), `${a.activity} on the default host's queue`);
      assert.match(a.identity, /^mend-agent\/local@/, `${a.activity} ran on the agent`);
    }
  });
});
