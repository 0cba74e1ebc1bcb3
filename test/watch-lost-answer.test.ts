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
import { recoveryWorkflowId, supervisorWorkflowId } from '../core/constants';
import type { RecoveryResult } from '../core/run';
import { processAdapter, runningProcess } from '../domain/adapters/process';
import {
  demoStarts,
  recordHistory,
  ROOT,
  startRunbookSuite,
  startWorker,
  stopSupervisedSuite,
  superviseRunning,
  tempDir,
  uniqueQueue,
  waitFor,
  writeDemoConfig,
  type RunbookSuite,
  type Spawned,
} from './helpers';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const decode = (p: { data?: Uint8Array | null } | undefined) => (p?.data ? (JSON.parse(Buffer.from(p.data).toString('utf8')) as unknown) : undefined);

describe('a restart by a pid watch whose answer was lost', () => {
  const dir = tempDir('watch-lost');
  const queue = uniqueQueue('watch-lost');
  const suffix = Date.now().toString(36);
  const group = `wl-${suffix}`;
  const id = `wl-${suffix}`;
  let suite: RunbookSuite<Spawned>;
  const history = async (): Promise<HistoryEvent[]> => (await suite.client.temporal.workflow.getHandle(supervisorWorkflowId(id)).fetchHistory()).events ?? [];
  /** The scheduled pid watches, with their event ids and whether they carry the authorization. */
  const watches = (events: HistoryEvent[]) =>
    events.flatMap((e) => {
      const a = e.activityTaskScheduledEventAttributes;
      return a?.activityType?.name === 'watchProcess'
        ? [{ eventId: Number(e.eventId), armed: (decode(a.input?.payloads?.[0]) as { restart?: unknown }).restart !== undefined }]
        : [];
    });

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
    await waitFor('the watch armed to restart', 60_000, async () => watches(await history()).at(-1)?.armed === true);
  });

  after(() => stopSupervisedSuite(suite, queue, [group], [supervisorWorkflowId(id), recoveryWorkflowId(id)]));

  test('cancelled mid-restart and its worker killed, the watch’s restart is found on the host and recorded as one run; nothing starts twice', async () => {
    const component = processAdapter(suite.config.components[0]!);
    const old = (await runningProcess(component))!;
    const attempted = (await supervisorState(suite.client, id))!.stats.attempted;
    const starts = demoStarts(dir, id);
    process.kill(old.pid, 'SIGKILL');
    const restarted = await waitFor('the watch’s restart started', 30_000, async () => {
      const now = await runningProcess(component);
      return now && now.pid !== old.pid && now;
    });

    // The pause re-arms the watch without the authorization: the armed one is cancelled while it validates.
    await pauseSupervisor(suite.client, id, 'test');
    await waitFor('the armed watch asked to cancel', 30_000, async () => (await history()).some((e) => e.activityTaskCancelRequestedEventAttributes));
    await suite.worker.stop('SIGKILL');
    suite.worker = await startWorker(queue, { MEND_HOME: path.join(dir, '.mend') });

    const recorded = await waitFor('the restart recorded as a run', 90_000, async () => {
      const st = await supervisorState(suite.client, id);
      return st && st.stats.attempted > attempted && st.current === undefined && st;
    });
    assert.equal(recorded.stats.attempted, attempted + 1, 'one run');
    const record = recorded.stats.recent[0]!;
    assert.equal(record.workflowId, recoveryWorkflowId(id));
    const result = (await suite.client.temporal.workflow.getHandle(record.workflowId, record.runId).result()) as RecoveryResult;
    assert.equal(result.outcome, 'recovered');
    const start = result.steps.find((s) => s.name === 'start');
    assert.match(start?.detail ?? '', new RegExp(`^started pid ${restarted.pid} \\(by a pid watch whose answer was lost`), 'the run records the watch’s start');
    assert.equal((await runningProcess(component))?.pid, restarted.pid, 'the watch’s process still runs');
    assert.equal(demoStarts(dir, id), starts + 1, 'one start');

    // The watch did end without an answer: a timeout, after the cancellation.
    const events = await history();
    const timedOut = events.filter((e) => e.activityTaskTimedOutEventAttributes);
    assert.ok(timedOut.length >= 1, 'the cancelled watch timed out');
    const supRun = await suite.client.temporal.workflow.getHandle(supervisorWorkflowId(id)).describe();
    recordHistory(supervisorWorkflowId(id), supRun.runId, 'supervisor-lost-watch-restart-found.json');
    await resumeSupervisor(suite.client, id, 'test');
  });
});
