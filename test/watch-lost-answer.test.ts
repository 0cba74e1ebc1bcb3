/**
 * A restart done in place by an armed pid watch is recorded even when the watch's answer is lost:
 * its supervisor cancelled it (a pause re-arms it without the authorization) while it was
 * restarting, and its worker was then SIGKILLed. A cancelled activity is not retried, so the server
 * ends it with a heartbeat timeout; the supervisor then looks the restart up on the host
 * (workflows/lib/lost-watch.ts) and records it as one run. (Issue 16's chaos soak lost such a
 * restart.) Real dev server, a real worker process, a real service that takes seconds to be healthy.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { temporal } from '@temporalio/proto';
import { pauseSupervisor, resumeSupervisor, supervisorState } from '../client/supervisors';
import { withHomeDefaults } from '../core/config';
import { recoveryWorkflowId, supervisorWorkflowId } from '../core/constants';
import type { RecoveryResult } from '../core/run';
import { processAdapter, runningProcess } from '../domain/adapters/process';
import {
  demoStarts,
  recordHistory,
  ROOT,
  startRunbookSuite,
  startSuiteAgent,
  startWorker,
  stopSupervisedSuite,
  superviseRunning,
  tempDir,
  uniqueQueue,
  waitFor,
  writeDemoConfig,
  type RunbookSuite,
  type Spawned,
  type TestWorker,
} from './helpers';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const decode = (p: { data?: Uint8Array | null } | undefined) => (p?.data ? (JSON.parse(Buffer.from(p.data).toString('utf8')) as unknown) : undefined);

/** The scheduled pid watches, with whether they carry the authorization. */
const watchesOf = (events: HistoryEvent[]) =>
  events.flatMap((e) => {
    const a = e.activityTaskScheduledEventAttributes;
    return a?.activityType?.name === 'watchProcess' ? [{ armed: (decode(a.input?.payloads?.[0]) as { restart?: unknown }).restart !== undefined }] : [];
  });

type Suite = RunbookSuite<TestWorker>;
type Adapter = ReturnType<typeof processAdapter>;
interface Killed {
  attempted: number;
  starts: number;
  restarted: { pid: number };
}

/** Kills the component's process and waits until its armed watch has started another (still validating: it takes seconds). */
async function killSeenRestarting(suite: Suite, dir: string, id: string, component: Adapter): Promise<Killed> {
  const old = (await runningProcess(component))!;
  const attempted = (await supervisorState(suite.client, id))!.stats.attempted;
  const starts = demoStarts(dir, id);
  process.kill(old.pid, 'SIGKILL');
  const restarted = await waitFor('the watch’s restart started', 30_000, async () => {
    const now = await runningProcess(component);
    return now && now.pid !== old.pid && now;
  });
  return { attempted, starts, restarted };
}

/** The watch's restart is recorded by one run, as the start of the process that runs, and the service counted one start. */
async function recordedOnce(suite: Suite, dir: string, id: string, component: Adapter, killed: Killed): Promise<void> {
  const recorded = await waitFor('the restart recorded as a run', 90_000, async () => {
    const st = await supervisorState(suite.client, id);
    return st && st.stats.attempted > killed.attempted && st.current === undefined && st;
  });
  assert.equal(recorded.stats.attempted, killed.attempted + 1, 'one run');
  const record = recorded.stats.recent[0]!;
  assert.equal(record.workflowId, recoveryWorkflowId(id));
  const result = (await suite.client.temporal.workflow.getHandle(record.workflowId, record.runId).result()) as RecoveryResult;
  assert.equal(result.outcome, 'recovered');
  const start = result.steps.find((s) => s.name === 'start');
  assert.match(
    start?.detail ?? '',
    new RegExp(`^started pid ${killed.restarted.pid} \\(by a pid watch whose answer was lost`),
    'the run records the watch’s start',
  );
  assert.equal((await runningProcess(component))?.pid, killed.restarted.pid, 'the watch’s process still runs');
  assert.equal(demoStarts(dir, id), killed.starts + 1, 'one start');
}

describe('a restart by a pid watch whose answer was lost', () => {
  const dir = tempDir('watch-lost');
  const queue = uniqueQueue('watch-lost');
  const suffix = Date.now().toString(36);
  const group = `wl-${suffix}`;
  const id = `wl-${suffix}`;
  let suite: RunbookSuite<Spawned>;
  const history = async (): Promise<HistoryEvent[]> => (await suite.client.temporal.workflow.getHandle(supervisorWorkflowId(id)).fetchHistory()).events ?? [];

  before(async () => {
    // Healthy some seconds after each start: the watch's restart is still validating when it is cancelled and its worker killed.
    const service = path.join(ROOT, 'demo/service.js');
    const { file } = await writeDemoConfig(dir, [
      {
        id,
        command: ['sh', '-c', `sleep 4; exec node ${JSON.stringify(service)}`],
        timeout: '60s',
        supervision: { group, interval: '1s', startupGrace: '0s', restartBackoff: { initial: '0ms', max: '0ms' } },
      },
    ]);
    suite = await startRunbookSuite(dir, queue, file, { workerProcess: true });
    await superviseRunning(suite, 60_000);
    await waitFor('the watch armed to restart', 60_000, async () => watchesOf(await history()).at(-1)?.armed === true);
  });

  after(() => stopSupervisedSuite(suite, queue, [group], [supervisorWorkflowId(id), recoveryWorkflowId(id)]));

  test('cancelled mid-restart and its worker killed, the watch’s restart is found on the host and recorded as one run; nothing starts twice', async () => {
    const component = processAdapter(suite.config.components[0]!);
    const killed = await killSeenRestarting(suite, dir, id, component);

    // The pause re-arms the watch without the authorization: the armed one is cancelled while it validates.
    await pauseSupervisor(suite.client, id, 'test');
    await waitFor('the armed watch asked to cancel', 30_000, async () => (await history()).some((e) => e.activityTaskCancelRequestedEventAttributes));
    await suite.worker.stop('SIGKILL');
    suite.worker = await startWorker(queue, { MEND_HOME: path.join(dir, '.mend') });

    await recordedOnce(suite, dir, id, component, killed);

    // The watch did end without an answer: a timeout, after the cancellation.
    const events = await history();
    const timedOut = events.filter((e) => e.activityTaskTimedOutEventAttributes);
    assert.ok(timedOut.length >= 1, 'the cancelled watch timed out');
    const supRun = await suite.client.temporal.workflow.getHandle(supervisorWorkflowId(id)).describe();
    recordHistory(supervisorWorkflowId(id), supRun.runId, 'supervisor-lost-watch-restart-found.json');
    await resumeSupervisor(suite.client, id, 'test');
  });
});

describe('a restart by a pid watch whose agent died, cancelled between its attempts', () => {
  const dir = tempDir('watch-lost-between');
  const queue = uniqueQueue('watch-lost-between');
  const suffix = Date.now().toString(36);
  const group = `wlb-${suffix}`;
  const id = `wlb-${suffix}`;
  let suite: RunbookSuite;
  const agents: Spawned[] = [];
  const history = async (): Promise<HistoryEvent[]> => (await suite.client.temporal.workflow.getHandle(supervisorWorkflowId(id)).fetchHistory()).events ?? [];
  const startAgent = async () => {
    const agent = await startSuiteAgent(suite, 'edge');
    agents.push(agent);
  };

  before(async () => {
    const service = path.join(ROOT, 'demo/service.js');
    const { file } = await writeDemoConfig(
      dir,
      [
        {
          id,
          host: 'edge',
          command: ['sh', '-c', `sleep 4; exec node ${JSON.stringify(service)}`],
          timeout: '60s',
          supervision: { group, interval: '1s', startupGrace: '0s', restartBackoff: { initial: '0ms', max: '0ms' } },
        },
      ],
      'hosts:\n  - { id: edge }\n',
    );
    suite = await startRunbookSuite(dir, queue, file);
    await startAgent();
    await superviseRunning(suite, 60_000);
    await waitFor('the watch armed to restart', 60_000, async () => watchesOf(await history()).at(-1)?.armed === true);
  });

  after(async () => {
    await stopSupervisedSuite(suite, queue, [group], [supervisorWorkflowId(id), recoveryWorkflowId(id)]);
    for (const a of agents) await a.stop('SIGKILL');
  });

  test('the first attempt restarted it and its agent died; the server cancels the next attempt unstarted; the restart is found and recorded once', async () => {
    // A component on another host has its pid file under its agent's MEND_HOME (the suite's here).
    const component = processAdapter(withHomeDefaults(suite.config.components[0]!, path.join(dir, '.mend')));
    const killed = await killSeenRestarting(suite, dir, id, component);
    // Its agent dies while the restart validates: the attempt times out, the next one waits for an agent.
    await agents[0]!.stop('SIGKILL');
    const supervisor = suite.client.temporal.workflow.getHandle(supervisorWorkflowId(id));
    await waitFor('the watch’s next attempt due', 60_000, async () =>
      (await supervisor.describe()).raw.pendingActivities?.some((a) => a.activityType?.name === 'watchProcess' && Number(a.attempt) >= 2),
    );
    // The pause re-arms the watch: the server cancels the pending attempt itself (no attempt runs to answer).
    await pauseSupervisor(suite.client, id, 'test');
    await waitFor('the armed watch cancelled', 30_000, async () => (await history()).some((e) => e.activityTaskCanceledEventAttributes));
    await startAgent();

    await recordedOnce(suite, dir, id, component, killed);
    const supRun = await supervisor.describe();
    recordHistory(supervisorWorkflowId(id), supRun.runId, 'supervisor-lost-watch-between-attempts-found.json');
    await resumeSupervisor(suite.client, id, 'test');
  });
});
